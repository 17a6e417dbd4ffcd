/** Loop pieces: LR schedules, timestep draws, clipping and AdamW edge cases, deterministic data order and samples. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADAMW_DEFAULTS, AdamW, clipGradNorm } from '../../src/train/optimizer.ts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { drawTimesteps, lrAt, train } from '../../src/train/loop.ts';
import { fileOfSample, listImages, loadSample } from '../../src/train/dataset.ts';
import { TRAIN_DATA, tinyFolders, tinyOptions } from './helpers.ts';

test('LR: constant, and diffusers constant_with_warmup (LambdaLR: 0 at the first step)', () => {
  const o = { learningRate: 1e-4, lrSchedule: 'constant_with_warmup' as const, warmupSteps: 4 };
  assert.deepEqual([0, 1, 2, 4, 9].map((s) => lrAt(o, s)), [0, 2.5e-5, 5e-5, 1e-4, 1e-4]);
  assert.equal(lrAt({ ...o, lrSchedule: 'constant' }, 0), 1e-4);
});

test('clipping skips parameters without a gradient; AdamW leaves them untouched (no decay)', () => {
  const grads = [Float32Array.of(3, 0), null, Float32Array.of(4)];
  const r = clipGradNorm(grads, 1);
  assert.equal(r.totalNorm, 5);
  assert.ok(Math.abs(grads[0]![0] - 0.6) < 1e-6 && Math.abs(grads[2]![0] - 0.8) < 1e-6);
  const params = [Float32Array.of(1, 1), Float32Array.of(2), Float32Array.of(1)];
  const opt = new AdamW([2, 1, 1], ADAMW_DEFAULTS);
  opt.update(params, grads, 0.1);
  assert.equal(params[1][0], 2, 'no gradient: no step, no decay');
  assert.ok(Math.abs(params[0][0] - (1 * (1 - 0.1 * 0.01) - 0.1)) < 1e-6, 'first step ≈ −lr·sign(g) after decay');
  assert.ok(Math.abs(params[0][1] - (1 - 0.1 * 0.01)) < 1e-7, 'zero gradient: decay only');
  assert.throws(() => opt.update(params, grads.slice(0, 2), 0.1), /expected 3/);
});

test('data order is a seeded permutation per epoch; a sample depends only on (seed, index)', async () => {
  const files = listImages(TRAIN_DATA);
  const epoch = Array.from({ length: files.length }, (_, i) => fileOfSample(files.length, i, 7));
  assert.deepEqual([...epoch].sort((a, b) => a - b), files.map((_, i) => i));
  assert.notDeepEqual(epoch, Array.from({ length: files.length }, (_, i) => fileOfSample(files.length, files.length + i, 7)));
  const o = { resolution: 64, degradation: 'bicubic' as const, scale: 4, proportionEmptyPrompts: 1, seed: 3 };
  const [a, b, c] = await Promise.all([loadSample(files[0], 5, o), loadSample(files[0], 5, o), loadSample(files[0], 6, o)]);
  assert.deepEqual(a.pixelValues, b.pixelValues);
  assert.notDeepEqual(a.pixelValues, c.pixelValues);
  assert.equal(a.caption, '');
  assert.equal(a.pixelValues.length, 3 * 64 * 64);
  assert.ok(a.pixelValues.every((x) => x >= -1 && x <= 1) && a.cond.every((x) => x >= 0 && x <= 1));
  const r = await loadSample(files[0], 5, { ...o, resolution: 160, degradation: 'realesrgan' });
  assert.equal(r.cond.length, 3 * 160 * 160, 'Real-ESRGAN LQ resized back to the crop');
});

test('training timesteps: uniform in the --timesteps range; a range past num_train_timesteps is refused', async () => {
  const rng = new Random(3);
  const t = drawTimesteps(rng, 2000, [900, 1000]);
  assert.ok(t.every((x) => Number.isInteger(x) && x >= 900 && x < 1000), 'all in [900, 1000)');
  assert.equal(new Set(t).size, 100, 'every value of the range is drawn');
  const { root, base } = tinyFolders();
  try {
    await assert.rejects(train(tinyOptions({ base, out: join(root, 'out'), timestepRange: [500, 1001] })),
      (e: unknown) => e instanceof InputError && /\[500, 1001\).*num_train_timesteps/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
