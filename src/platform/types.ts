/**
 * What the code below the doors needs of the machine it runs on: file reads by path and
 * offset (weights are read in place), a few writes (graph cache, tiled-VAE scratch maps,
 * checkpoints), paths, hashing and randomness. Two adapters implement it — `node.ts` (node:fs,
 * node:path, node:crypto) and `web.ts` (a virtual file tree of Blobs read synchronously in a
 * Worker) — and package.json's `imports` map `#platform` to one of them by build target
 * (`browser` condition for the web bundle, Node's default otherwise). Everything from
 * `src/core/` to `src/pipelines/` reaches the machine only through `#platform`.
 */

export interface PathOps {
  readonly sep: string;
  join(...parts: string[]): string;
  dirname(p: string): string;
  basename(p: string, ext?: string): string;
  extname(p: string): string;
  resolve(...parts: string[]): string;
  relative(from: string, to: string): string;
  isAbsolute(p: string): boolean;
}

export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

/** An open file for positional reads (checkpoint headers, zip directories, tensors). */
export interface ReadHandle {
  readonly size: number;
  /** Reads up to `length` bytes at file position `position` into `into[offset…]`; returns the count read (0 at the end). */
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  close(): void;
}

/** A scratch file of fixed size read and written by region (tiled-VAE feature maps past the memory budget). */
export interface ScratchFile {
  read(into: Uint8Array, position: number): void;
  write(from: Uint8Array, position: number): void;
  /** Closes and removes the file. */
  dispose(): void;
}

export interface Platform {
  readonly path: PathOps;
  /** Whether a file or folder is at `path`. */
  exists(path: string): boolean;
  /** null when nothing is at `path`. */
  stat(path: string): FileStat | null;
  /** Opens a file for reading; throws an Error naming the path when it cannot. */
  open(path: string): ReadHandle;
  readFile(path: string): Uint8Array;
  readText(path: string): string;
  /** The canonical path (symlinks resolved where the platform has them). */
  realpath(path: string): string;
  mkdirp(dir: string): void;
  /** Removes a file or folder (recursively); no error when it is absent. */
  remove(path: string): void;
  /** A new private folder in `root` (default: the temporary folder). */
  makeTempDir(prefix: string, root?: string): string;
  /** A zero-filled scratch file of `bytes` bytes at `path`. */
  scratchFile(path: string, bytes: number): ScratchFile;
  /**
   * Writes `chunks` to `path` atomically (random temp name created exclusively, flushed,
   * renamed); throws the underlying Error, which core/atomic.ts turns into a typed one.
   */
  writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void;
  /** SHA-256 of bytes or UTF-8 text, lowercase hex. */
  sha256Hex(data: Uint8Array | string): string;
  /** CRC-32 (zip's polynomial). */
  crc32(data: Uint8Array): number;
  /** The user's cache folder for pasd (Node: PASD_CACHE_DIR, XDG_CACHE_HOME or ~/.cache, + /pasd). */
  cacheRoot(): string;
  /** A folder of the package itself (`models/pasd-mini/`), as a path this platform reads. */
  packagePath(rel: string): string;
}
