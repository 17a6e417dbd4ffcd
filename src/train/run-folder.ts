/**
 * One training run per `--out` folder: a new run into a folder that holds another run's
 * checkpoints or log would mix the two (pruning keeps the highest steps, whichever run wrote
 * them), so it is refused unless the run resumes or overwrites. A resumed run's log is cut
 * back to the checkpoint it resumes from, so the steps redone after it are not logged twice.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { InputError } from '../core/errors.ts';
import { listCheckpoints } from './checkpoint.ts';

export const TRAIN_LOG = 'train_log.jsonl';

/** Throws InputError when `out` holds a previous run and neither `resume` nor `overwrite` is set. */
export function checkRunFolder(out: string, o: { resume: boolean; overwrite?: boolean }): void {
  if (o.resume || o.overwrite) return;
  const checkpoints = listCheckpoints(out).length;
  const log = existsSync(join(out, TRAIN_LOG));
  if (checkpoints || log)
    throw new InputError(`--out ${out} already holds a training run (${checkpoints} checkpoints${log ? `, ${TRAIN_LOG}` : ''}); ` +
      'pass --resume to continue it, --overwrite to start over (its checkpoints and log are deleted), or choose another --out');
}

/** `overwrite`: deletes a previous run's checkpoints (complete or not) and log. */
export function clearRunFolder(out: string): void {
  for (const c of listCheckpoints(out)) rmSync(c.dir, { recursive: true, force: true });
  rmSync(join(out, TRAIN_LOG), { force: true });
}

/** Keeps the log lines of steps ≤ `step` (a torn last line from a crash is dropped too); atomic. */
export function trimTrainLog(out: string, step: number): void {
  const path = join(out, TRAIN_LOG);
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { step?: unknown }).step as number <= step;
    } catch {
      return false;
    }
  });
  writeFileAtomic(path, [Buffer.from(kept.map((l) => `${l}\n`).join(''))], InputError);
}
