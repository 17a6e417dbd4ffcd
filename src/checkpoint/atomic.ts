/**
 * Atomic file writes: the bytes go to a temporary file in the target's folder, are flushed to
 * disk, then renamed over the target, so a crash or a full disk never leaves a half-written
 * checkpoint under the final name (readers would otherwise see a truncated file).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CheckpointError } from '../core/errors.ts';

/** Writes `chunks` in order to `path` atomically (temp file + fsync + rename). */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx');
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
    rmSync(tmp, { force: true });
    throw new CheckpointError(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
}
