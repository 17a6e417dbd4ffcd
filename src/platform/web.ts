/**
 * The browser adapter of `#platform` (./types.ts): a virtual file tree of Blobs and byte
 * arrays under `/`. The page mounts what it has — the mini model fetched from the site (kept in
 * Cache Storage), or the files of a folder the user picked (nothing is uploaded) — and the
 * same loaders as in Node read them by path. Reads are synchronous, as in Node: Blobs are read
 * with FileReaderSync, which exists in Workers only, so the pipeline runs in a Worker
 * (src/browser/worker.ts). Writes (graph cache, tiled-VAE scratch maps) stay in memory.
 */
import { crc32, sha256Hex } from './digest.ts';
import { posixPath as path } from './posix-path.ts';
import type { Platform, ReadHandle } from './types.ts';

const files = new Map<string, Blob | Uint8Array>();
let temps = 0;

/** Puts a file into the tree at an absolute path (replacing any there). */
export function mountFile(p: string, data: Blob | Uint8Array): void {
  files.set(path.resolve(p), data);
}

/** Removes every file at or under `p`. */
function removeTree(p: string): void {
  const at = path.resolve(p);
  for (const k of [...files.keys()]) if (k === at || k.startsWith(`${at}/`)) files.delete(k);
}

function entry(p: string): Blob | Uint8Array {
  const e = files.get(path.resolve(p));
  if (!e) throw new Error(`${p}: no such file (the page has not provided it)`);
  return e;
}

function readBlob(b: Blob, position: number, length: number): Uint8Array {
  const Reader = (globalThis as { FileReaderSync?: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } }).FileReaderSync;
  if (!Reader) throw new Error('reading a file needs FileReaderSync: run the pipeline in a Worker');
  return new Uint8Array(new Reader().readAsArrayBuffer(b.slice(position, position + length)));
}

function readRange(e: Blob | Uint8Array, position: number, length: number): Uint8Array {
  return e instanceof Uint8Array ? e.subarray(position, position + length) : readBlob(e, position, length);
}

const isDir = (p: string) => {
  const prefix = `${path.resolve(p)}/`.replace('//', '/');
  for (const k of files.keys()) if (k.startsWith(prefix)) return true;
  return false;
};

export const platform: Platform = {
  path,
  exists: (p) => files.has(path.resolve(p)) || isDir(p),
  stat(p) {
    const e = files.get(path.resolve(p));
    if (e) return { size: e instanceof Uint8Array ? e.byteLength : e.size, mtimeMs: 0, isFile: true, isDirectory: false };
    return isDir(p) ? { size: 0, mtimeMs: 0, isFile: false, isDirectory: true } : null;
  },
  open(p): ReadHandle {
    const e = entry(p);
    const size = e instanceof Uint8Array ? e.byteLength : e.size;
    return {
      size,
      read(into, offset, length, position) {
        const bytes = readRange(e, position, Math.min(length, Math.max(0, size - position)));
        into.set(bytes, offset);
        return bytes.length;
      },
      close() {},
    };
  },
  readFile(p) {
    const e = entry(p);
    return e instanceof Uint8Array ? e : readBlob(e, 0, e.size);
  },
  readText: (p) => new TextDecoder().decode(platform.readFile(p)),
  realpath: (p) => path.resolve(p),
  mkdirp() {},
  remove: removeTree,
  makeTempDir: (prefix, root = '/tmp') => path.join(root, `${prefix}${++temps}`),
  scratchFile(p, bytes) {
    const data = new Uint8Array(bytes);
    files.set(path.resolve(p), data);
    return {
      read: (into, position) => into.set(data.subarray(position, position + into.byteLength)),
      write: (from, position) => data.set(from, position),
      dispose: () => removeTree(p),
    };
  },
  writeFileAtomic(p, chunks) {
    const parts = [...chunks];
    const out = new Uint8Array(parts.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of parts) {
      out.set(c, at);
      at += c.byteLength;
    }
    files.set(path.resolve(p), out);
  },
  sha256Hex,
  crc32,
  cacheRoot: () => '/cache/pasd',
  packagePath: (rel) => path.join('/package', rel),
};
