/**
 * Compiled-graph cache: ONNX bytes stored under a key derived from (graph text, identity of
 * every weight file: path, size, mtime), so an unchanged model skips tracing and export on
 * the next run. Location: PASD_CACHE_DIR, else $XDG_CACHE_HOME/pasd, else ~/.cache/pasd
 * (`platform.cacheRoot`; in the browser a folder of the page's in-memory file tree).
 * Writes are atomic (core/atomic.ts), so a crash never leaves a half-written entry.
 */
import { platform } from '#platform';
import { writeFileAtomic } from '../core/atomic.ts';

const { join, resolve } = platform.path;

export function cacheDir(): string {
  return platform.cacheRoot();
}

/** Key of a compiled graph: hash of its text and of the weight files' identity. */
export function graphKey(graphText: string, weightFiles: readonly string[]): string {
  let text = graphText;
  for (const f of [...new Set(weightFiles)].sort()) {
    const st = platform.stat(f);
    text += `\0${resolve(f)}\0${st?.size}\0${st?.mtimeMs}`;
  }
  return platform.sha256Hex(text).slice(0, 32);
}

/** Returns the cached bytes for `key`, or builds, stores and returns them. */
export function cachedBytes(key: string, build: () => Uint8Array, dir = cacheDir()): { bytes: Uint8Array; hit: boolean } {
  const path = join(dir, 'graphs', `${key}.onnx`);
  try {
    return { bytes: platform.readFile(path), hit: true };
  } catch {
    // not cached yet
  }
  const bytes = build();
  try {
    platform.mkdirp(join(dir, 'graphs'));
    writeFileAtomic(path, [bytes]);
  } catch {
    // A read-only or full cache is not an error: the graph is simply rebuilt next time.
  }
  return { bytes, hit: false };
}
