/** File access shared by the checkpoint readers. */
import { closeSync, openSync } from 'node:fs';
import { CheckpointError } from '../core/errors.ts';

/** Opens `path`, runs `fn` with the descriptor, closes it. */
export function withFile<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}
