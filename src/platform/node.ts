/** The Node adapter of `#platform` (./types.ts): node:fs, node:path, node:crypto, node:zlib. */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync,
  renameSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import type { Platform } from './types.ts';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function writeAll(fd: number, c: Uint8Array, position: number | null): void {
  let done = 0;
  while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done, position === null ? null : position + done);
}

export const platform: Platform = {
  path,
  exists: (p) => existsSync(p),
  stat(p) {
    try {
      const s = statSync(p);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch {
      return null;
    }
  },
  open(p) {
    const fd = openSync(p, 'r');
    return {
      size: fstatSync(fd).size,
      read: (into, offset, length, position) => readSync(fd, into, offset, length, position),
      close: () => closeSync(fd),
    };
  },
  readFile: (p) => readFileSync(p),
  readText: (p) => readFileSync(p, 'utf8'),
  realpath: (p) => realpathSync(p),
  mkdirp: (dir) => void mkdirSync(dir, { recursive: true }),
  remove: (p) => rmSync(p, { recursive: true, force: true }),
  makeTempDir: (prefix, root = tmpdir()) => mkdtempSync(path.join(root, prefix)),
  scratchFile(p, bytes) {
    const fd = openSync(p, 'w+');
    ftruncateSync(fd, bytes);
    return {
      read(into, position) {
        let done = 0;
        while (done < into.byteLength) {
          const n = readSync(fd, into, done, into.byteLength - done, position + done);
          if (n === 0) throw new Error(`${p}: short read at ${position + done}`);
          done += n;
        }
      },
      write: (from, position) => writeAll(fd, from, position),
      dispose() {
        closeSync(fd);
        rmSync(p, { force: true });
      },
    };
  },
  writeFileAtomic(p, chunks) {
    const tmp = path.join(path.dirname(p), `.${path.basename(p)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let fd: number | null = null;
    try {
      fd = openSync(tmp, 'wx', 0o644);
      for (const c of chunks) writeAll(fd, c, null);
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      renameSync(tmp, p);
    } catch (e) {
      if (fd !== null) closeSync(fd);
      // Only a temp file this call created is removed (EEXIST: the name was someone else's).
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(tmp, { force: true });
      throw e;
    }
  },
  sha256Hex: (data) => createHash('sha256').update(data).digest('hex'),
  crc32: (data) => crc32(data),
  cacheRoot() {
    const own = process.env.PASD_CACHE_DIR;
    if (own) return path.resolve(own);
    const xdg = process.env.XDG_CACHE_HOME;
    return path.join(xdg ? path.resolve(xdg) : path.join(homedir(), '.cache'), 'pasd');
  },
  packagePath: (rel) => path.join(PACKAGE_ROOT, rel),
};
