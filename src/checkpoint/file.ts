/** File access shared by the checkpoint readers. */
import { platform } from '#platform';
import type { ReadHandle } from '../platform/types.ts';
import { CheckpointError } from '../core/errors.ts';

/** Opens `path`, runs `fn` with the open file, closes it. */
export function withFile<T>(path: string, fn: (f: ReadHandle) => T): T {
  let f: ReadHandle;
  try {
    f = platform.open(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    return fn(f);
  } finally {
    f.close();
  }
}
