/** Small helpers over node:util parseArgs: typed numeric options and input file discovery. */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { InputError } from '../core/errors.ts';

/** A usage error: bad or missing arguments (exit code 2). */
export class UsageError extends InputError {}

export function num(v: string | undefined, name: string, o: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (o.int && !Number.isInteger(x)) || (o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max)) {
    const range = o.min !== undefined || o.max !== undefined ? ` in [${o.min ?? '-∞'}, ${o.max ?? '∞'}]` : '';
    throw new UsageError(`--${name}: expected ${o.int ? 'an integer' : 'a number'}${range}, got "${v}"`);
  }
  return x;
}

export function choice<T extends string>(v: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif']);

/** Files as given plus the images of given folders (sorted, not recursive), in order. */
export function inputFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const imgs = readdirSync(p).filter((n) => IMAGE_EXT.has(extname(n).toLowerCase())).sort().map((n) => join(p, n));
      if (!imgs.length) throw new UsageError(`${p}: folder holds no images (${[...IMAGE_EXT].join(', ')})`);
      out.push(...imgs);
    } else out.push(p);
  }
  return out;
}
