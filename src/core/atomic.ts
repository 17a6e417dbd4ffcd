/**
 * Atomic file writes: the bytes go to a temporary file in the target's folder, are flushed to
 * disk, then renamed over the target, so a crash or a full disk never leaves a half-written
 * file under the final name (readers would otherwise see a truncated file). The temporary
 * name is random and created exclusively (`wx`: O_CREAT|O_EXCL, which also refuses a symlink
 * planted there), so nobody can redirect the write by guessing it; the rename replaces a
 * symlink at the final name instead of following it. The file work is the platform's
 * (`#platform`, src/platform/node.ts); this names the failure.
 */
import { platform } from '#platform';
import { PasdError } from './errors.ts';

/** Writes `chunks` in order to `path` atomically; failures throw `ErrorType` naming the path. */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>, ErrorType: new (message: string, options?: { cause?: unknown }) => PasdError = PasdError): void {
  try {
    platform.writeFileAtomic(path, chunks);
  } catch (e) {
    throw new ErrorType(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
}
