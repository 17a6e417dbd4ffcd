/**
 * Compiled-graph cache: ONNX bytes stored under a key derived from (graph text, identity of
 * every weight file: path, size, mtime), so an unchanged model skips tracing and export on
 * the next run. Location: PASD_CACHE_DIR, else $XDG_CACHE_HOME/pasd, else ~/.cache/pasd.
 * Writes are atomic (core/atomic.ts), so a crash never leaves a half-written entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';

export function cacheDir(): string {
  const env = process.env.PASD_CACHE_DIR;
  if (env) return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'pasd');
}

/** Key of a compiled graph: hash of its text and of the weight files' identity. */
export function graphKey(graphText: string, weightFiles: readonly string[]): string {
  const h = createHash('sha256').update(graphText);
  for (const f of [...new Set(weightFiles)].sort()) {
    const st = statSync(f);
    h.update(`\0${resolve(f)}\0${st.size}\0${st.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 32);
}

/** Returns the cached bytes for `key`, or builds, stores and returns them. */
export function cachedBytes(key: string, build: () => Uint8Array, dir = cacheDir()): { bytes: Uint8Array; hit: boolean } {
  const path = join(dir, 'graphs', `${key}.onnx`);
  try {
    return { bytes: readFileSync(path), hit: true };
  } catch {
    // not cached yet
  }
  const bytes = build();
  try {
    mkdirSync(join(dir, 'graphs'), { recursive: true });
    writeFileAtomic(path, [bytes]);
  } catch {
    // A read-only or full cache is not an error: the graph is simply rebuilt next time.
  }
  return { bytes, hit: false };
}
