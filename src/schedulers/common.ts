/**
 * What the six schedulers share: the public interface, host-array helpers, step-noise
 * resolution, dynamic thresholding and the ᾱ-based `add_noise` / `get_velocity` of diffusers
 * 0.29.2 (`scheduling_ddpm.py`, copied into DDIM and LCM).
 *
 * Latents are flat host arrays (Float32Array or Float64Array) of a [B, C, H, W] tensor; every
 * result has the type of the `sample` passed in. Arithmetic is float64 per element.
 */
import { ConfigError, InputError, ShapeError } from '../core/errors.ts';
import { vpAlphaSigma } from './schedule.ts';
import type { RandomSource } from '../core/random.ts';

export type FloatArray = Float32Array | Float64Array;

export interface StepOptions {
  /** The noise this step draws (same length as the sample), e.g. a fixture's stored draw. */
  readonly noise?: FloatArray;
  /** Where to draw it from when `noise` is not given. */
  readonly generator?: RandomSource;
  /** Batch size B of the flat arrays; only dynamic thresholding needs it (per-sample quantiles). */
  readonly batchSize?: number;
}

export interface StepOutput<T extends FloatArray> {
  /** x_{t−1}: the sample to feed the next step. */
  readonly prevSample: T;
  /** The scheduler's x̂₀ where it computes one (DDPM, DDIM, Euler; LCM's `denoised`). */
  readonly predOriginalSample?: T;
}

/** The diffusers scheduler interface in camelCase. */
export interface Scheduler {
  /** Timesteps of the current schedule, in sampling order (set by `setTimesteps`). */
  readonly timesteps: readonly number[];
  /** Multiply the initial Gaussian latent by this. */
  readonly initNoiseSigma: number;
  /** Sets the schedule for `numInferenceSteps` steps and clears all per-image state. */
  setTimesteps(numInferenceSteps: number): void;
  /** Starts stepping at schedule index `i` (img2img; diffusers `set_begin_index`); absent where the step needs no index. */
  setBeginIndex?(i: number): void;
  /** Clears per-image state (multistep history, step index) but keeps the schedule. */
  reset(): void;
  scaleModelInput<T extends FloatArray>(sample: T, timestep: number): T;
  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options?: StepOptions): StepOutput<T>;
  /** Forward process q(x_t | x_0); `timesteps` is one per batch item, or one for all. */
  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T;
}

/** A fresh array of the same type as `like`. */
export function alloc<T extends FloatArray>(like: T, n = like.length): T {
  return (like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n)) as T;
}

export function checkSameLength(what: string, a: FloatArray, b: FloatArray): void {
  if (a.length !== b.length) throw new ShapeError(`${what}: arrays have ${a.length} and ${b.length} elements; they must be the same shape`);
}

/** Per-item values for a flat [B, …] array: one timestep for all, or one per item. */
export function perItem(what: string, n: number, timesteps: number | readonly number[]): { values: readonly number[]; itemSize: number } {
  const values = typeof timesteps === 'number' ? [timesteps] : timesteps;
  if (values.length === 0 || n % values.length !== 0) {
    throw new ShapeError(`${what}: ${values.length} timesteps do not divide a batch of ${n} elements; pass one timestep per batch item`);
  }
  return { values, itemSize: n / values.length };
}

/** The step's noise: the explicit array, or a draw from the generator; throws when neither is given. */
export function stepNoise(who: string, n: number, options: StepOptions | undefined): FloatArray {
  if (options?.noise !== undefined) {
    if (options.noise.length !== n) throw new ShapeError(`${who}.step: options.noise has ${options.noise.length} elements, the sample ${n}`);
    return options.noise;
  }
  if (options?.generator !== undefined) return options.generator.randn(n);
  throw new InputError(`${who}.step: this step adds noise; pass options.noise or options.generator (a seeded RandomSource)`);
}

/**
 * diffusers `_threshold_sample` (Imagen dynamic thresholding, arXiv 2205.11487): per batch
 * item, s = quantile(|x|, ratio) (torch.quantile's linear interpolation) clamped to
 * [1, maxValue], then x ← clamp(x, −s, s)/s. In place.
 */
export function thresholdSample(x: Float64Array, batchSize: number | undefined, ratio: number, maxValue: number): void {
  if (batchSize === undefined || !Number.isSafeInteger(batchSize) || batchSize < 1 || x.length % batchSize !== 0) {
    throw new InputError(`thresholding is on: pass options.batchSize (a divisor of the ${x.length} sample elements) to step()`);
  }
  const m = x.length / batchSize;
  for (let b = 0; b < batchSize; b++) {
    const item = x.subarray(b * m, (b + 1) * m);
    const sorted = Float64Array.from(item, Math.abs).sort();
    const pos = ratio * (m - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, m - 1);
    const q = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    const s = Math.min(Math.max(q, 1), maxValue);
    for (let i = 0; i < m; i++) item[i] = Math.min(Math.max(item[i], -s), s) / s;
  }
}

/** The timestep as a valid index into alphas_cumprod. */
export function trainIndex(who: string, t: number, numTrain: number): number {
  if (!Number.isInteger(t) || t < 0 || t >= numTrain) throw new InputError(`${who}: timestep ${t} must be an integer in [0, ${numTrain})`);
  return t;
}

/** √ᾱ_t·x₀ + √(1−ᾱ_t)·ε per batch item (diffusers DDPMScheduler.add_noise; ᾱ as float32 values). */
export function addNoiseAlphas<T extends FloatArray>(who: string, acp: Float64Array, x0: T, noise: FloatArray, timesteps: number | readonly number[]): T {
  checkSameLength(`${who}.addNoise`, x0, noise);
  const { values, itemSize } = perItem(`${who}.addNoise`, x0.length, timesteps);
  const out = alloc(x0);
  values.forEach((t, b) => {
    const a = acp[trainIndex(`${who}.addNoise`, t, acp.length)];
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    for (let i = b * itemSize; i < (b + 1) * itemSize; i++) out[i] = sa * x0[i] + sb * noise[i];
  });
  return out;
}

/** v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ per batch item (diffusers DDPMScheduler.get_velocity, the v-prediction target). */
export function velocityAlphas<T extends FloatArray>(who: string, acp: Float64Array, sample: T, noise: FloatArray, timesteps: number | readonly number[]): T {
  checkSameLength(`${who}.getVelocity`, sample, noise);
  const { values, itemSize } = perItem(`${who}.getVelocity`, sample.length, timesteps);
  const out = alloc(sample);
  values.forEach((t, b) => {
    const a = acp[trainIndex(`${who}.getVelocity`, t, acp.length)];
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    for (let i = b * itemSize; i < (b + 1) * itemSize; i++) out[i] = sa * noise[i] - sb * sample[i];
  });
  return out;
}

/**
 * x̂₀ from the model output for `prediction_type` (DDPM/DDIM/LCM form with ᾱ_t), into a
 * Float64Array. Also returns ε̂ when asked (DDIM needs it).
 */
export function predictX0(predictionType: 'epsilon' | 'v_prediction' | 'sample', alphaProd: number, modelOutput: FloatArray, sample: FloatArray): Float64Array {
  checkSameLength('step', modelOutput, sample);
  const sa = Math.sqrt(alphaProd);
  const sb = Math.sqrt(1 - alphaProd);
  const out = new Float64Array(sample.length);
  for (let i = 0; i < out.length; i++) {
    const m = modelOutput[i];
    const x = sample[i];
    out[i] = predictionType === 'epsilon' ? (x - sb * m) / sa : predictionType === 'sample' ? m : sa * x - sb * m;
  }
  return out;
}

/** Solves the small dense system A·x = b (Gaussian elimination, partial pivoting): UniPC's ρ coefficients. */
export function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

/**
 * diffusers `index_for_timestep` of the multistep and sigma schedulers: the position of `t` in
 * the schedule, the second match if it occurs twice. A timestep not in the schedule falls back
 * to the last index in UniPC / DPM-Solver (`fallbackToLast`) and is an error elsewhere.
 */
export function indexForTimestep(who: string, timesteps: readonly number[], t: number, fallbackToLast: boolean): number {
  const first = timesteps.indexOf(t);
  if (first < 0) {
    if (fallbackToLast) return timesteps.length - 1;
    throw new InputError(`${who}: timestep ${t} is not in the schedule (${timesteps.length} steps); pass one of scheduler.timesteps`);
  }
  const second = timesteps.indexOf(t, first + 1);
  return second >= 0 ? second : first;
}

/** A step past the end of the schedule means state from a previous image; say how to clear it. */
export function checkStepIndex(who: string, k: number, n: number): void {
  if (k >= n) throw new InputError(`${who}.step: all ${n} steps of the schedule are done; call reset() or setTimesteps() before the next image`);
}

export function checkSteps(who: string, n: number, numTrain: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > numTrain) {
    throw new InputError(`${who}.setTimesteps: numInferenceSteps must be an integer in [1, ${numTrain}], got ${n}`);
  }
}

/**
 * `add_noise` of the sigma-parameterised multistep schedulers (UniPC, DPM-Solver): α_t·x₀ +
 * σ_t·ε with t looked up in the *schedule* — one not in it (PASD's added_noise_level 900)
 * silently uses the last index, the smallest sigma, as diffusers does; after `setBeginIndex`
 * the current step's sigma is used.
 */
export function addNoiseBySigma<T extends FloatArray>(who: string, s: { timesteps: readonly number[]; sigmas: Float64Array; beginIndex: number | null; stepIndex: number | null },
  originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
  checkSameLength(who, originalSamples, noise);
  if (s.timesteps.length === 0) throw new ConfigError(`${who}: call setTimesteps(numInferenceSteps) first`);
  const { values, itemSize } = perItem(who, originalSamples.length, timesteps);
  const out = alloc(originalSamples);
  values.forEach((t, b) => {
    const idx = s.beginIndex === null ? indexForTimestep(who, s.timesteps, t, true) : s.stepIndex ?? s.beginIndex;
    const { alpha, sigmaT } = vpAlphaSigma(s.sigmas[idx]);
    for (let i = b * itemSize; i < (b + 1) * itemSize; i++) out[i] = alpha * originalSamples[i] + sigmaT * noise[i];
  });
  return out;
}
