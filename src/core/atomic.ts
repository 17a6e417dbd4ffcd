/**
 * Atomic file writes: the bytes go to a temporary file in the target's folder, are flushed to
 * disk, then renamed over the target, so a crash or a full disk never leaves a half-written
 * file under the final name (readers would otherwise see a truncated file). The temporary
 * name is random and created exclusively (`wx`: O_CREAT|O_EXCL, which also refuses a symlink
 * planted there), so nobody can redirect the write by guessing it; the rename replaces a
 * symlink at the final name instead of following it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PasdError } from './errors.ts';

/** Writes `chunks` in order to `path` atomically; failures throw `ErrorType` naming the path. */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>, ErrorType: new (message: string, options?: { cause?: unknown }) => PasdError = PasdError): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (const c of chunks) {
      let done = 0;
      while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    // Only a temp file this call created is removed (EEXIST: the name was someone else's).
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(tmp, { force: true });
    throw new ErrorType(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
}
