/**
 * The noise schedule shared by every scheduler: betas → alphas_cumprod → sigmas, timestep
 * spacings and the Karras / lu-lambda sigma ladders, as diffusers 0.29.2 builds them
 * (`scheduling_ddpm.py`, `scheduling_ddim.py`, `scheduling_unipc_multistep.py`,
 * `scheduling_euler_discrete.py`).
 *
 * diffusers builds the betas and alphas_cumprod in torch float32, and the samplers read
 * sigmas as float32. Those values feed every step, so we reproduce them bit for bit where we
 * can (`Math.fround` after each float32 op) and keep them in Float64Arrays; the step formulas
 * themselves then run in float64, which the fixtures show is within tolerance.
 */
import { roundHalfEven } from '../core/round.ts';
import { ConfigError } from '../core/errors.ts';
import { boolField, enumField, intField, numberField, optionalNumberListField } from './config.ts';

const f32 = Math.fround;

/** The config keys every scheduler has; per-class defaults are passed in. */
export function scheduleSpec(d: { betaStart?: number; betaEnd?: number; betaSchedule?: 'linear' | 'scaled_linear'; spacing: 'linspace' | 'leading' | 'trailing'; sigmoid?: boolean }) {
  const schedules = d.sigmoid
    ? (['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'] as const)
    : (['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const);
  return {
    num_train_timesteps: intField(1000, 2),
    beta_start: numberField(d.betaStart ?? 0.0001),
    beta_end: numberField(d.betaEnd ?? 0.02),
    beta_schedule: enumField<'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid'>(d.betaSchedule ?? 'linear', schedules),
    trained_betas: optionalNumberListField(),
    prediction_type: enumField('epsilon', ['epsilon', 'v_prediction', 'sample'] as const),
    timestep_spacing: enumField(d.spacing, ['linspace', 'leading', 'trailing'] as const),
    steps_offset: intField(0),
    rescale_betas_zero_snr: boolField(false),
  };
}

export interface ScheduleConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid';
  readonly trainedBetas: readonly number[] | null;
  readonly rescaleBetasZeroSnr: boolean;
}

/**
 * torch.linspace(start, end, n, dtype=float32) on an x86 CPU. ATen's kernel rounds start/end to
 * float32, takes step = (end − start)/(n − 1) in float32 and fills 8-wide vectors: each vector
 * starts at a base of start + step·i (first half) or end − step·(n−1−i) (second half) and adds
 * k·step; the remainder after the last 16-element chunk is filled one by one. The compiled
 * kernel fuses multiply-add (one rounding). This reproduces the fixture's float32
 * alphas_cumprod exactly; the plain scalar formula leaves 1-ulp differences in a few betas,
 * which the cumulative product carries to hundreds of entries.
 */
export function torchLinspaceF32(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  const scalar = (i: number) => (i < half ? f32(s + step * i) : f32(e - step * (n - 1 - i)));
  const vectorEnd = n - (n % 16);
  for (let i0 = 0; i0 < vectorEnd; i0 += 8) {
    const base = scalar(i0);
    for (let k = 0; k < 8; k++) out[i0 + k] = f32(base + k * step);
  }
  for (let i = vectorEnd; i < n; i++) out[i] = scalar(i);
  return out;
}

/** diffusers `betas_for_alpha_bar` (cosine, max_beta 0.999): float64 math, stored as float32. */
function cosineBetas(n: number): Float64Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
  return out;
}

/** torch.cumprod of a float32 tensor on CPU: the running product is kept in double, each output rounded. */
function cumprodF32(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  let acc = 1;
  for (let i = 0; i < x.length; i++) {
    acc *= x[i];
    out[i] = f32(acc);
  }
  return out;
}

/** diffusers `rescale_zero_terminal_snr` (arXiv 2305.08891, Algorithm 1), in float32 steps. */
function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const acp = cumprodF32(betas.map((b) => f32(1 - b)));
  const sq = acp.map((a) => f32(Math.sqrt(a)));
  const s0 = sq[0];
  const sT = sq[n - 1];
  const scale = f32(s0 / f32(s0 - sT));
  const bar = sq.map((v) => {
    const shifted = f32(f32(v - sT) * scale);
    return f32(shifted * shifted);
  });
  const out = new Float64Array(n);
  out[0] = f32(1 - bar[0]);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(bar[i] / bar[i - 1]));
  return out;
}

/** Betas as float32 values, per `beta_schedule` / `trained_betas`, then the optional zero-SNR rescale. */
export function makeBetas(c: ScheduleConfig): Float64Array {
  const n = c.numTrainTimesteps;
  let betas: Float64Array;
  if (c.trainedBetas !== null) {
    if (c.trainedBetas.length !== n) {
      throw new ConfigError(`scheduler config "trained_betas" has ${c.trainedBetas.length} values but "num_train_timesteps" is ${n}; they must agree`);
    }
    betas = Float64Array.from(c.trainedBetas, f32);
  } else if (c.betaSchedule === 'linear') {
    betas = torchLinspaceF32(c.betaStart, c.betaEnd, n);
  } else if (c.betaSchedule === 'scaled_linear') {
    // "very specific to the latent diffusion model": linspace of square roots, squared in float32.
    betas = torchLinspaceF32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), n).map((b) => f32(b * b));
  } else if (c.betaSchedule === 'squaredcos_cap_v2') {
    betas = cosineBetas(n);
  } else {
    // DDPM only: sigmoid(linspace(-6, 6)) · (end − start) + start.
    const span = f32(c.betaEnd - c.betaStart);
    betas = torchLinspaceF32(-6, 6, n).map((x) => f32(f32(f32(1 / (1 + Math.exp(-x))) * span) + f32(c.betaStart)));
  }
  return c.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

/** alphas_cumprod = cumprod(1 − betas) in float32, as every diffusers scheduler builds it. */
export function alphasCumprod(betas: Float64Array): Float64Array {
  return cumprodF32(betas.map((b) => f32(1 - b)));
}

/** `((1 − ᾱ)/ᾱ) ** 0.5` over the training steps, each op in float32 (index = training timestep). */
export function trainingSigmas(acp: Float64Array): Float64Array {
  return acp.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}


/** np.linspace(start, stop, num) in float64: start + i·step, with the end point set exactly. */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) for a negative float step: numpy computes its length as ceil((stop − start)/step). */
function npArangeDown(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  return Array.from({ length: len }, (_, i) => start + i * step);
}

/**
 * Integer timesteps for `timestep_spacing` (arXiv 2305.08891, Table 2), as diffusers' DDPM/DDIM
 * (`extra` = 0) and UniPC/DPM-Solver (`extra` = 1: n + 1 points, the last dropped) compute them.
 * `last` is the training length (DPM-Solver passes its lambda-clipped last timestep).
 * Note: "trailing" uses numpy's float arange, which gives n + 1 steps for some n (61, 103, …);
 * we keep that, as diffusers does.
 */
export function spacedTimesteps(spacing: 'linspace' | 'leading' | 'trailing', n: number, numTrain: number, stepsOffset: number, extra: 0 | 1, last = numTrain): number[] {
  if (spacing === 'linspace') {
    const pts = npLinspace(0, last - 1, n + extra);
    return Array.from(pts, roundHalfEven).reverse().slice(0, n);
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(last / (n + extra));
    return Array.from({ length: n + extra }, (_, i) => i * ratio).reverse().slice(0, n).map((t) => t + stepsOffset);
  }
  const ratio = numTrain / n;
  return npArangeDown(last, 0, -ratio).map((t) => roundHalfEven(t) - 1);
}

/** np.interp(x, arange(len(fp)), fp) (numpy's formula, exact at grid points). */
export function interpGrid(x: number, fp: Float64Array): number {
  const n = fp.length;
  if (x <= 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  const slope = fp[j + 1] - fp[j];
  return slope * (x - j) + fp[j];
}

/** Karras et al. (2022) ladder, rho = 7, from sigmaMax down to sigmaMin (float64, like diffusers' numpy). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): Float64Array {
  const ramp = npLinspace(0, 1, n);
  const minInv = sigmaMin ** (1 / 7);
  const maxInv = sigmaMax ** (1 / 7);
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** 7);
}

/** DPM-Solver's `_convert_to_lu`: a linear ladder in the given log-sigmas (rho = 1). */
export function luLambdas(lambdaMin: number, lambdaMax: number, n: number): Float64Array {
  return npLinspace(0, 1, n).map((r) => lambdaMax + r * (lambdaMin - lambdaMax));
}

/** `np.log(sigmas)` of the float32 training sigmas: numpy keeps float32, so round. */
export function logSigmasF32(sigmas: Float64Array): Float64Array {
  return sigmas.map((s) => f32(Math.log(s)));
}

/** diffusers `_sigma_to_t`: fractional training timestep of a sigma by interpolating in log-sigma. */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // low = last index whose log-sigma is <= logSigma (argmax of the cumsum), capped at len − 2.
  let count = 0;
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) {
    if (logSigma - logSigmas[i] >= 0) {
      count++;
      low = i;
    }
  }
  if (count === 0) low = 0;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

/**
 * Inference sigmas of the data-prediction multistep solvers (UniPC, DPM-Solver++): the training
 * sigmas at `timesteps` (np.interp), or a Karras / lu-lambda ladder whose timesteps are the
 * rounded `_sigma_to_t`; then the final sigma (0, or the smallest training sigma), all rounded
 * to float32 as diffusers stores them.
 */
export function multistepSigmas(trainSig: Float64Array, timesteps: number[], n: number, ladder: 'none' | 'karras' | 'lu', finalSigmasType: 'zero' | 'sigma_min'): { timesteps: number[]; sigmas: Float64Array } {
  const logSigmas = logSigmasF32(trainSig);
  let sig: Float64Array;
  let ts = timesteps;
  if (ladder === 'none') {
    sig = Float64Array.from(timesteps, (t) => interpGrid(t, trainSig));
  } else {
    const last = trainSig.length - 1;
    sig = ladder === 'karras' ? karrasSigmas(trainSig[0], trainSig[last], n) : luLambdas(logSigmas[0], logSigmas[last], n).map(Math.exp);
    ts = Array.from(sig, (s) => roundHalfEven(sigmaToT(s, logSigmas)));
  }
  const sigmas = new Float64Array(sig.length + 1);
  sig.forEach((s, i) => (sigmas[i] = f32(s)));
  sigmas[sig.length] = finalSigmasType === 'zero' ? 0 : trainSig[0];
  return { timesteps: ts, sigmas };
}

/** VP relation of a sigma = √((1−ᾱ)/ᾱ): α_t = 1/√(σ²+1), σ_t = σ·α_t, λ = log α_t − log σ_t. */
export function vpAlphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}
