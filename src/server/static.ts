/**
 * The web page's files, read once at startup into memory: a request path is only ever a key
 * into this map, never a file-system path, so there is no traversal and no listing to get wrong.
 * HTML files get their option fields from the option table here (./page-form.ts).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OptionLimits } from './options.ts';
import { withOptionFields } from './page-form.ts';

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** `/name` → file for every file of known type directly in `dir`; `/` is index.html. `limits` cap the page's number fields. */
export function loadStaticFiles(dir = WEB_DIR, limits?: OptionLimits): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name).toLowerCase()];
    if (!entry.isFile() || !type) continue;
    const raw = readFileSync(join(dir, entry.name));
    const body = type.startsWith('text/html') ? Buffer.from(withOptionFields(raw.toString('utf8'), limits)) : raw;
    files.set(`/${entry.name}`, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}
