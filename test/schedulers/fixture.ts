/**
 * Reading the `schedulers` group of ../shared/fixtures (manifest + case files) and running the
 * fixture procedure (fixtures README, "schedulers"): x = x_T·init_noise_sigma; for each t:
 * inp = scale_model_input(x, t), eps = 0.3·inp + 0.01·t/1000, x = step(eps, t, x).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import type { FloatArray, Scheduler, StepOptions } from '../../src/schedulers/common.ts';

export const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

export interface TensorInfo {
  name: string;
  shape: number[];
  tolerance_max_abs?: number;
}
export interface CaseInfo {
  name: string;
  group: string;
  file: string;
  scheduler_class: string;
  num_inference_steps?: number;
  added_noise_level?: number;
  sigma_index_used_for_added_noise?: number;
  noise_draws_in_order?: string[];
  tensors: TensorInfo[];
}

const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as {
  conventions: { scheduler_config: Record<string, unknown> };
  cases: CaseInfo[];
};

export const SD15_SCHEDULER_CONFIG = manifest.conventions.scheduler_config;
export const SCHEDULER_CASES = manifest.cases.filter((c) => c.group === 'schedulers');

export function tolerance(c: CaseInfo, tensor: string): number {
  const t = c.tensors.find((x) => x.name === tensor);
  if (t?.tolerance_max_abs === undefined) throw new Error(`${c.name}: no tolerance for ${tensor}`);
  return t.tolerance_max_abs;
}

export function openCase(c: { file: string }) {
  const f = openSafetensors(path.join(FIXTURES, c.file));
  return {
    f32: (name: string) => f.readF32(name),
    ints: (name: string) => Array.from(f.read(name) as BigInt64Array, Number),
    has: (name: string) => f.tensors.has(name),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

/**
 * Runs the fixture procedure. `noiseFor(i)` gives the step options of step i (explicit noise);
 * returns each step's model output and prev_sample.
 */
export function runTrajectory(s: Scheduler, xT: Float32Array, steps: number, noiseFor: (i: number) => StepOptions | undefined) {
  s.setTimesteps(steps);
  let x: FloatArray = xT.map((v) => v * s.initNoiseSigma);
  const eps: Float32Array[] = [];
  const latents: FloatArray[] = [];
  s.timesteps.forEach((t, i) => {
    const inp = s.scaleModelInput(x, t);
    const e = new Float32Array(inp.length);
    for (let j = 0; j < e.length; j++) e[j] = 0.3 * inp[j] + (0.01 * t) / 1000;
    x = s.step(e, t, x, noiseFor(i)).prevSample;
    eps.push(e);
    latents.push(x);
  });
  return { eps, latents };
}
