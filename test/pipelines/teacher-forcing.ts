/**
 * The fixture README's step-by-step check of a tiny pipeline run (group `pipeline`): the tiny
 * models are random, so the trajectory is chaotic and float32 drifts from the reference when
 * run freely. Instead: prepare the latents from the recorded noises, then for every step take
 * the recorded input latents (teacher forcing; the scheduler keeps its own history), compare
 * the guided noise prediction and the step output, and decode the recorded final latents.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { RandomSource } from '../../src/core/random.ts';
import type { ImageTensor } from '../../src/image/image.ts';
import type { DenoiseSettings, PasdPipeline } from '../../src/pipelines/pasd.ts';
import type { HostTensor } from '../../src/runtime/session.ts';
import type { Scheduler } from '../../src/schedulers/index.ts';
import { assertClose, type fixtureCase } from '../parity/fixtures.ts';

type Fixture = ReturnType<typeof fixtureCase>;
type Shape = [number, number, number, number];

/** Hands out the recorded noises in call order, checking each draw's size. */
export class Replay implements RandomSource {
  private i = 0;
  constructor(private readonly draws: Float32Array[]) {}
  randn(n: number): Float32Array {
    const d = this.draws[this.i++];
    assert.ok(d && d.length === n, `draw ${this.i - 1}: expected ${n} values`);
    return d;
  }
  uniform(): number { throw new Error('no uniform draws in the pipeline'); }
  randint(): number { throw new Error('no integer draws in the pipeline'); }
}

/** The pipeline settings recorded in a case's manifest `settings`. */
export function denoiseSettings(st: Record<string, unknown>): DenoiseSettings {
  return {
    steps: st.num_inference_steps as number, guidanceScale: st.guidance_scale as number, conditioningScale: st.conditioning_scale as number,
    addedNoiseLevel: st.added_noise_level as number, initLatentWithNoise: st.init_latent_with_noise as boolean,
    latentTileSize: st.latent_tiled_size as number, latentTileOverlap: st.latent_tiled_overlap as number,
  };
}

export const tensorMeta = (fx: Fixture, name: string) => {
  const m = fx.meta.tensors.find((x) => x.name === name);
  assert.ok(m, `${fx.meta.name}: no tensor ${name} in the manifest`);
  return m;
};

/** Guided noise prediction for step `i` at timestep `t` from latents `x`. */
export type Predict = (x: Float32Array, t: number, i: number) => Promise<Float32Array>;

export interface TeacherForcing {
  pipe: PasdPipeline;
  sched: Scheduler;
  s: DenoiseSettings;
  /** The pipeline's input image [1, 3, H, W] in [0, 1]. */
  image: ImageTensor;
  /** Prompt embeddings in pipeline order ([negative, positive] with CFG). */
  embeds: HostTensor;
  /** Replaces `pipe.predictNoise` (e.g. to look at tiles). */
  predict?: Predict;
}

/**
 * prepare_latents from the case's noises (manifest `noise_draws_in_order`), every step
 * teacher-forced, and the decode of the recorded final latents, each within the manifest's
 * tolerances. Returns the latent shape.
 */
export async function checkTeacherForced(t: TestContext, fx: Fixture, o: TeacherForcing): Promise<Shape> {
  const f = (k: string) => fx.file.readF32(k);
  const { pipe, sched, s, image, embeds } = o;
  const draws = (fx.meta.noise_draws_in_order as string[]).map((k) => f(`input.${k}`));
  const { latents, shape } = await pipe.prepareLatents(image.data, image.shape, sched, s, new Replay(draws));
  const inputs = f('output.latents_per_step_input');
  const n = latents.length;
  const tf = tensorMeta(fx, 'output.noise_pred_per_step').per_step_tolerance_teacher_forced as number[];
  const dp = assertClose(latents, inputs.subarray(0, n), tf[0], 'prepared latents');
  t.diagnostic(`prepared latents: ${dp.toExponential(2)} (tol ${tf[0]})`);

  const cfg = embeds.shape[0] === 2;
  const control = new Float32Array(cfg ? 2 * image.data.length : image.data.length);
  control.set(image.data);
  if (cfg) control.set(image.data, image.data.length);
  const predict = o.predict ?? ((x, ts) => pipe.predictNoise(x, shape, ts, sched, embeds, control, s));
  const preds = f('output.noise_pred_per_step');
  const outs = f('output.latents_per_step_output');
  // The step output inherits the prediction's float32 error amplified by the solver; 10× the
  // reference's own float32-vs-float64 spread bounds it.
  const outFloor = tensorMeta(fx, 'output.latents_per_step_output').per_step_f32_vs_f64_teacher_forced as number[];
  for (const [i, ts] of sched.timesteps.entries()) {
    const x = inputs.slice(i * n, (i + 1) * n);
    const noise = await predict(x, ts, i);
    const dn = assertClose(noise, preds.subarray(i * n, (i + 1) * n), tf[i], `step ${i} noise_pred`);
    const y = sched.step(noise, ts, x).prevSample;
    const dl = assertClose(y, outs.subarray(i * n, (i + 1) * n), Math.max(10 * outFloor[i], 1e-5), `step ${i} latents`);
    t.diagnostic(`step ${i}: noise_pred ${dn.toExponential(2)} (tol ${tf[i]}), latents ${dl.toExponential(2)} (tol ${Math.max(10 * outFloor[i], 1e-5).toExponential(2)})`);
  }

  const final = outs.slice((s.steps - 1) * n, s.steps * n);
  const { image: decoded } = await pipe.vae.decode(final, shape);
  const tol = tensorMeta(fx, 'output.image').tolerance_given_final_latents as number;
  const di = assertClose(decoded, f('output.image'), tol, 'image from final latents');
  t.diagnostic(`image from final latents: ${di.toExponential(2)} (tol ${tol})`);
  return shape;
}
