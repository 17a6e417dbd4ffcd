/**
 * DPM-Solver / DPM-Solver++ multistep (Lu et al., arXiv 2206.00927 and 2211.01095), orders 1–3,
 * ODE and SDE variants. Mirrors diffusers 0.29.2 `scheduling_dpmsolver_multistep.py` on host
 * arrays in float64. `reset()` / `setTimesteps()` clear the model-output history.
 */
import { ConfigError } from '../core/errors.ts';
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  alloc, checkSameLength, checkStepIndex, checkSteps, indexForTimestep, stepNoise, thresholdSample, addNoiseBySigma } from './common.ts';
import { type ConfigOf, type Warn, boolField, enumField, fixedField, intField, numberField, parseSchedulerConfig } from './config.ts';
import { alphasCumprod, makeBetas, multistepSigmas, scheduleSpec, spacedTimesteps, trainingSigmas, vpAlphaSigma } from './schedule.ts';

export const DPM_SOLVER_SPEC = {
  ...scheduleSpec({ spacing: 'linspace' }),
  solver_order: intField(2, 1),
  thresholding: boolField(false),
  dynamic_thresholding_ratio: numberField(0.995),
  sample_max_value: numberField(1),
  // diffusers maps "deis" to dpmsolver++ and the UniPC/DEIS solver types to midpoint.
  algorithm_type: enumField('dpmsolver++', ['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver'] as const, { deis: 'dpmsolver++' }),
  solver_type: enumField('midpoint', ['midpoint', 'heun'] as const, { logrho: 'midpoint', bh1: 'midpoint', bh2: 'midpoint' }),
  lower_order_final: boolField(true),
  euler_at_final: boolField(false),
  use_karras_sigmas: boolField(false),
  use_lu_lambdas: boolField(false),
  final_sigmas_type: enumField('zero', ['zero', 'sigma_min'] as const),
  lambda_min_clipped: numberField(-Infinity),
  variance_type: fixedField(null, 'learned variances need a model with twice the latent channels'),
};
export type DPMSolverConfig = ConfigOf<typeof DPM_SOLVER_SPEC>;

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly config: DPMSolverConfig;
  readonly alphasCumprod: Float64Array;
  private readonly trainSigmas: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  sigmas: Float64Array = new Float64Array(0);
  private beginIndex: number | null = null;
  private stepIndex: number | null = null;
  private modelOutputs: (Float64Array | null)[] = [];
  private lowerOrderNums = 0;

  constructor(config: unknown = {}, warn?: Warn) {
    const c = parseSchedulerConfig('DPMSolverMultistepScheduler', DPM_SOLVER_SPEC, config, warn);
    if (c.useKarrasSigmas && c.useLuLambdas) throw new ConfigError('DPMSolverMultistepScheduler config: "use_karras_sigmas" and "use_lu_lambdas" cannot both be true');
    if ((c.algorithmType === 'dpmsolver' || c.algorithmType === 'sde-dpmsolver') && c.finalSigmasType === 'zero') {
      throw new ConfigError(`DPMSolverMultistepScheduler config: "final_sigmas_type" "zero" is not supported with "algorithm_type" "${c.algorithmType}"; use "sigma_min"`);
    }
    if (c.solverOrder > 3) throw new ConfigError(`DPMSolverMultistepScheduler config "solver_order": ${c.solverOrder} is not supported; use 1, 2 or 3`);
    // diffusers' third-order update has no SDE form (it fails with an unbound variable there).
    if (c.solverOrder === 3 && c.algorithmType.startsWith('sde-')) throw new ConfigError(`DPMSolverMultistepScheduler config "solver_order": 3 is not supported with "algorithm_type" "${c.algorithmType}"; use 1 or 2`);
    this.config = c;
    const acp = alphasCumprod(makeBetas(c));
    if (c.rescaleBetasZeroSnr) acp[acp.length - 1] = 2 ** -24; // keeps the first sigma finite (as diffusers)
    this.alphasCumprod = acp;
    this.trainSigmas = trainingSigmas(acp);
    this.reset();
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    checkSteps('DPMSolverMultistepScheduler', numInferenceSteps, c.numTrainTimesteps);
    // lambda_min_clipped: drop the tail where λ(t) = log α − log σ falls below the clip (cosine schedules).
    const n = c.numTrainTimesteps;
    let clipped = 0;
    while (clipped < n) {
      const a = this.alphasCumprod[n - 1 - clipped];
      const f32 = Math.fround; // torch computes λ_t in float32
      const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
      if (lambda >= c.lambdaMinClipped) break;
      clipped++;
    }
    const ts = spacedTimesteps(c.timestepSpacing, numInferenceSteps, n, c.stepsOffset, 1, n - clipped);
    const ladder = c.useKarrasSigmas ? 'karras' : c.useLuLambdas ? 'lu' : 'none';
    const r = multistepSigmas(this.trainSigmas, ts, numInferenceSteps, ladder, c.finalSigmasType);
    this.timesteps = Object.freeze(r.timesteps);
    this.sigmas = r.sigmas;
    this.beginIndex = null;
    this.reset();
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  reset(): void {
    this.stepIndex = null;
    this.modelOutputs = new Array(this.config.solverOrder).fill(null);
    this.lowerOrderNums = 0;
  }

  scaleModelInput<T extends FloatArray>(sample: T): T {
    return sample;
  }

  /** diffusers `convert_model_output`: x̂₀ for the ++ variants, ε̂ otherwise. */
  private convert(modelOutput: FloatArray, sample: FloatArray, options: StepOptions | undefined): Float64Array {
    const c = this.config;
    const { alpha, sigmaT } = vpAlphaSigma(this.sigmas[this.stepIndex!]);
    const dataPrediction = c.algorithmType === 'dpmsolver++' || c.algorithmType === 'sde-dpmsolver++';
    const x0 = new Float64Array(sample.length);
    for (let i = 0; i < x0.length; i++) {
      const m = modelOutput[i];
      const x = sample[i];
      x0[i] = c.predictionType === 'epsilon' ? (x - sigmaT * m) / alpha : c.predictionType === 'sample' ? m : alpha * x - sigmaT * m;
    }
    if (c.thresholding) thresholdSample(x0, options?.batchSize, c.dynamicThresholdingRatio, c.sampleMaxValue);
    if (dataPrediction) return x0;
    if (!c.thresholding && c.predictionType === 'epsilon') return Float64Array.from(modelOutput);
    return x0.map((v, i) => (sample[i] - alpha * v) / sigmaT);
  }

  /**
   * One update of order 1–3 from the model-output history (diffusers `dpm_solver_first_order_update`,
   * `multistep_dpm_solver_second_order_update`, `multistep_dpm_solver_third_order_update`).
   * Each variant is x_t = cx·x + Σ c_j·D_j (+ cn·noise); we form the coefficients, then one pass.
   */
  private update(order: number, x: FloatArray, noise: FloatArray | null): Float64Array {
    const c = this.config;
    const k = this.stepIndex!;
    const outs = this.modelOutputs;
    const t = vpAlphaSigma(this.sigmas[k + 1]);
    const s0 = vpAlphaSigma(this.sigmas[k]);
    const h = t.lambda - s0.lambda;
    const m0 = outs[outs.length - 1]!;
    const algo = c.algorithmType;
    const plus = algo === 'dpmsolver++' || algo === 'sde-dpmsolver++';
    const sde = algo === 'sde-dpmsolver++' || algo === 'sde-dpmsolver';
    // Terms: x coefficient, noise coefficient, list of (coefficient, tensor).
    let cx: number;
    let cn = 0;
    const terms: [number, Float64Array][] = [];
    const em = Math.exp(-h);
    const ep = Math.exp(h);
    if (plus) {
      cx = sde ? (t.sigmaT / s0.sigmaT) * em : t.sigmaT / s0.sigmaT;
      if (sde) cn = t.sigmaT * Math.sqrt(1 - Math.exp(-2 * h));
    } else {
      cx = t.alpha / s0.alpha;
      if (sde) cn = t.sigmaT * Math.sqrt(Math.exp(2 * h) - 1);
    }
    // D0 coefficient.
    const c0 = plus ? (sde ? t.alpha * (1 - Math.exp(-2 * h)) : -t.alpha * (em - 1)) : (sde ? -2 : -1) * t.sigmaT * (ep - 1);
    terms.push([c0, m0]);
    if (order === 2) {
      const m1 = outs[outs.length - 2]!;
      const s1 = vpAlphaSigma(this.sigmas[k - 1]);
      const r0 = (s0.lambda - s1.lambda) / h;
      const d1 = m0.map((v, i) => (v - m1[i]) / r0);
      let c1: number;
      if (c.solverType === 'midpoint') {
        c1 = plus ? 0.5 * c0 : sde ? -t.sigmaT * (ep - 1) : 0.5 * c0;
      } else if (plus) {
        c1 = sde ? t.alpha * ((1 - Math.exp(-2 * h)) / (-2 * h) + 1) : t.alpha * ((em - 1) / h + 1);
      } else {
        c1 = (sde ? -2 : -1) * t.sigmaT * ((ep - 1) / h - 1);
      }
      terms.push([c1, d1]);
    } else if (order === 3) {
      const m1 = outs[outs.length - 2]!;
      const m2 = outs[outs.length - 3]!;
      const s1 = vpAlphaSigma(this.sigmas[k - 1]);
      const s2 = vpAlphaSigma(this.sigmas[k - 2]);
      const r0 = (s0.lambda - s1.lambda) / h;
      const r1 = (s1.lambda - s2.lambda) / h;
      const d10 = m0.map((v, i) => (v - m1[i]) / r0);
      const d11 = m1.map((v, i) => (v - m2[i]) / r1);
      const d1 = d10.map((v, i) => v + (r0 / (r0 + r1)) * (v - d11[i]));
      const d2 = d10.map((v, i) => (v - d11[i]) / (r0 + r1));
      if (plus) {
        terms.push([t.alpha * ((em - 1) / h + 1), d1], [-t.alpha * ((em - 1 + h) / (h * h) - 0.5), d2]);
      } else {
        terms.push([-t.sigmaT * ((ep - 1) / h - 1), d1], [-t.sigmaT * ((ep - 1 - h) / (h * h) - 0.5), d2]);
      }
    }
    const out = new Float64Array(x.length);
    for (let i = 0; i < out.length; i++) {
      let v = cx * x[i];
      for (const [coef, d] of terms) v += coef * d[i];
      if (noise) v += cn * noise[i];
      out[i] = v;
    }
    return out;
  }

  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options?: StepOptions): StepOutput<T> {
    const c = this.config;
    if (this.timesteps.length === 0) throw new ConfigError('DPMSolverMultistepScheduler.step: call setTimesteps(numInferenceSteps) first');
    checkSameLength('DPMSolverMultistepScheduler.step', modelOutput, sample);
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? indexForTimestep('DPMSolverMultistepScheduler.step', this.timesteps, timestep, true);
    const k = this.stepIndex;
    const n = this.timesteps.length;
    checkStepIndex('DPMSolverMultistepScheduler', k, n);
    // Lower orders near the end improve stability for few steps; a zero final sigma forces order 1.
    const lowerFinal = k === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === 'zero');
    const lowerSecond = k === n - 2 && c.lowerOrderFinal && n < 15;
    const converted = this.convert(modelOutput, sample, options);
    this.modelOutputs.shift();
    this.modelOutputs.push(converted);
    const sde = c.algorithmType === 'sde-dpmsolver++' || c.algorithmType === 'sde-dpmsolver';
    const noise = sde ? stepNoise('DPMSolverMultistepScheduler', sample.length, options) : null;
    let order: number;
    if (c.solverOrder === 1 || this.lowerOrderNums < 1 || lowerFinal) order = 1;
    else if (c.solverOrder === 2 || this.lowerOrderNums < 2 || lowerSecond) order = 2;
    else order = 3;
    const prev = this.update(order, sample, noise);
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.stepIndex = k + 1;
    const out = alloc(sample);
    out.set(prev);
    return { prevSample: out };
  }

  /** α_t·x₀ + σ_t·ε, the timestep looked up in the schedule (the last index when absent, as diffusers). */
  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return addNoiseBySigma('DPMSolverMultistepScheduler.addNoise', { timesteps: this.timesteps, sigmas: this.sigmas, beginIndex: this.beginIndex, stepIndex: this.stepIndex }, originalSamples, noise, timesteps);
  }
}
