/**
 * Crash safety and resume: a training process is SIGKILLed in the middle of writing its
 * step-4 checkpoint; the half-written folder is never listed or loaded, `--resume` continues
 * from the step-2 checkpoint, reproduces steps 3 and 4 (same losses: weights, AdamW state,
 * LR position, data position and random draws all restored), and the checkpoint it writes
 * loads as a `pasd upscale --model` folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, InputError } from '../../src/core/errors.ts';
import { componentPaths, loadComponents } from '../../src/pipelines/load.ts';
import { COMPLETE_MARKER, listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.ts';
import { train } from '../../src/train/loop.ts';
import { checkRunFolder, clearRunFolder } from '../../src/train/run-folder.ts';
import { tinyFolders, tinyOptions } from './helpers.ts';

test('kill -9 during a checkpoint write, then resume: previous complete checkpoint, same steps', async () => {
  const { root, base, init } = tinyFolders();
  const out = join(root, 'out');
  try {
    const options = tinyOptions({ base, initFrom: init, out, keepCheckpoints: 2 });
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/train/kill-child.ts', JSON.stringify(options), '4'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    const frozen = await new Promise<string>((resolve, reject) => {
      child.on('message', (m: { frozenAt: string }) => resolve(m.frozenAt));
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before the checkpoint write: ${stderr}`)));
    });
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    assert.match(frozen, /\.checkpoint-4\.tmp/);

    const tmp = join(out, '.checkpoint-4.tmp');
    assert.ok(existsSync(tmp) && !existsSync(join(tmp, COMPLETE_MARKER)), 'the killed write left an unmarked temp folder');
    assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2], 'only the complete checkpoint is listed');
    assert.throws(() => readCheckpoint(tmp, []), CheckpointError);
    const before = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
    assert.deepEqual(before.map((l) => l.step), [1, 2, 3, 4]);

    const resumed = await train({ ...options, resume: true });
    assert.deepEqual(resumed.log.map((l) => l.step), [3, 4], 'resumed after step 2');
    for (const l of resumed.log) {
      const want = before.find((b) => b.step === l.step)!.loss;
      assert.ok(Math.abs(l.loss - want) <= 1e-6 * Math.max(1, Math.abs(want)), `step ${l.step}: loss ${l.loss} after resume vs ${want} in the killed run`);
    }
    const after = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(after, [1, 2, 3, 4], 'the log was cut back to the resumed checkpoint: no step twice');
    assert.ok(!existsSync(tmp), 'the unfinished temp folder was removed');
    assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2, 4]);

    // The checkpoint is a model folder for `pasd upscale --model`.
    const c = loadComponents(componentPaths(join(out, 'checkpoint-4'), base));
    assert.ok(c.unet.namedParameters().some(([k]) => k.includes('pixel_attentions')));
    assert.ok(c.controlnet.config.returnRgbs);

    // A new run into the same folder would mix the two runs' checkpoints: refused, naming the way out.
    await assert.rejects(train(options), (e: Error) => e instanceof InputError && /--resume.*--overwrite/.test(e.message));
    clearRunFolder(out);
    assert.deepEqual(listCheckpoints(out), []);
    assert.ok(!existsSync(join(out, 'train_log.jsonl')));
    checkRunFolder(out, { resume: false });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
