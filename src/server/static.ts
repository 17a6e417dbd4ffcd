/**
 * The web page's files, read once at startup into memory: a request path is only ever a key
 * into this map, never a file-system path, so there is no traversal and no listing to get wrong.
 * HTML files get their option fields from the option table here (./page-form.ts). When the
 * browser build exists (`npm run build:web` → dist/web/), it is served under `/local/`: the page
 * that runs the model in the visitor's browser instead of on this server (~45 MB in memory).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
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
/** What only the browser build has: runtime, model and source-map files. */
const SITE_TYPES: Readonly<Record<string, string>> = {
  ...TYPES, '.mjs': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json',
  '.safetensors': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8',
};

/** Where the browser build is served. */
export const SITE_PREFIX = '/local/';

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const SITE_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

function staticFile(body: Buffer, type: string): StaticFile {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

/**
 * `/name` → file for every file of known type directly in `dir`; `/` is index.html. `limits` cap
 * the page's number fields. Every file of the browser build in `site` (when built) is `/local/<path>`.
 */
export function loadStaticFiles(dir = WEB_DIR, limits?: OptionLimits, site = SITE_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const hasSite = existsSync(join(site, 'index.html'));
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name).toLowerCase()];
    if (!entry.isFile() || !type) continue;
    const raw = readFileSync(join(dir, entry.name));
    // The page links to the browser build only when this server has it (no request that would 404).
    const html = (text: string) => withOptionFields(hasSite ? text.replace(' data-site hidden', '') : text, limits);
    const body = type.startsWith('text/html') ? Buffer.from(html(raw.toString('utf8'))) : raw;
    files.set(`/${entry.name}`, staticFile(body, type));
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  if (hasSite) {
    for (const f of walk(site)) {
      const type = SITE_TYPES[extname(f).toLowerCase()];
      if (type) files.set(`${SITE_PREFIX}${relative(site, f).split('\\').join('/')}`, staticFile(readFileSync(f), type));
    }
    files.set(SITE_PREFIX, files.get(`${SITE_PREFIX}index.html`)!);
  }
  return files;
}
