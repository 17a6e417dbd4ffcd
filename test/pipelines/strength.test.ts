/**
 * `strength` (img2img start, not in the original): the run steps through only the last
 * ⌊steps·strength⌋ timesteps, from the LR latents noised once to the first of them (no added
 * noise). Checked by watching the scheduler the pipeline uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.ts';
import { makeImage } from '../../src/image/image.ts';
import { denoisingSteps } from '../../src/pipelines/options.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import type { SchedulerChoice } from '../../src/schedulers/index.ts';
import type { FloatArray, Scheduler, StepOptions, StepOutput } from '../../src/schedulers/common.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const tinyPipeline = () => PasdPipeline.fromFolders({
  unet: modelDir('pasd_unet'), controlnet: modelDir('pasd_controlnet'), vae: modelDir('vae'),
  textEncoder: modelDir('text_encoder'), tokenizer: join(FIXTURES, 'tokenizer'),
}, { threads: 1 });

/** Records every addNoise and step timestep of the schedulers `pipe` makes. */
function watch(pipe: PasdPipeline): { schedule: number[]; noisedAt: number[]; steppedAt: number[] } {
  const seen = { schedule: [] as number[], noisedAt: [] as number[], steppedAt: [] as number[] };
  const make = pipe.scheduler.bind(pipe);
  pipe.scheduler = (choice?: SchedulerChoice, colorization?: boolean): Scheduler => {
    const s = make(choice, colorization);
    const { addNoise, step, setTimesteps } = s;
    s.setTimesteps = (n) => { setTimesteps.call(s, n); seen.schedule = [...s.timesteps]; };
    s.addNoise = <T extends FloatArray>(x: T, noise: FloatArray, t: number | readonly number[]): T => { seen.noisedAt.push(t as number); return addNoise.call(s, x, noise, t) as T; };
    s.step = <T extends FloatArray>(out: FloatArray, t: number, x: T, o?: StepOptions): StepOutput<T> => { seen.steppedAt.push(t); return step.call(s, out, t, x, o) as StepOutput<T>; };
    return s;
  };
  return seen;
}

test('denoisingSteps: ⌊steps·strength⌋, at least 1, strength in (0, 1]', () => {
  assert.equal(denoisingSteps(20), 20);
  assert.equal(denoisingSteps(4, 0.5), 2);
  assert.equal(denoisingSteps(10, 0.35), 3);
  assert.throws(() => denoisingSteps(1, 0.5), (e: unknown) => e instanceof InputError && /at least 1/.test(e.message));
  for (const bad of [0, -0.1, 1.5, Number.NaN]) assert.throws(() => denoisingSteps(4, bad), InputError);
});

for (const scheduler of ['unipc', 'ddim'] as const) {
  test(`strength 0.5 (${scheduler}): the last half of the schedule, noised once to its first timestep`, async () => {
    const pipe = tinyPipeline();
    try {
      const seen = watch(pipe);
      const progress: string[] = [];
      const o = { upscale: 2, processSize: 16, steps: 4, guidanceScale: 1, colorFix: 'none' as const, scheduler };
      await pipe.upscale(makeImage(12, 8, 3), { ...o, strength: 0.5, onProgress: (p) => progress.push(`${p.phase} ${p.step}/${p.steps}`) });
      assert.equal(seen.schedule.length, 4);
      assert.deepEqual(seen.steppedAt, seen.schedule.slice(2));
      assert.deepEqual(seen.noisedAt, [seen.schedule[2]], 'one addNoise, at the first timestep run; no added noise');
      assert.deepEqual(progress, ['encode 0/2', 'denoise 1/2', 'denoise 2/2', 'decode 2/2', 'done 2/2']);

      seen.noisedAt.length = 0;
      seen.steppedAt.length = 0;
      await pipe.upscale(makeImage(12, 8, 3), o);
      assert.deepEqual(seen.steppedAt, seen.schedule, 'strength 1: the whole schedule');
      assert.deepEqual(seen.noisedAt, [seen.schedule[0], 900], 'the original start: first timestep, then the added noise level');
      await assert.rejects(pipe.upscale(makeImage(12, 8, 3), { ...o, strength: 0.5, initLatentWithNoise: true }),
        (e: unknown) => e instanceof InputError && /initLatentWithNoise/.test(e.message));
    } finally {
      await pipe.release();
    }
  });
}
