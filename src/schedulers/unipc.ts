/**
 * UniPC multistep sampler (Zhao et al. 2023, arXiv 2302.04867): the PASD default.
 * Mirrors diffusers 0.29.2 `scheduling_unipc_multistep.py` (UniP predictor + UniC corrector,
 * B(h) variants bh1/bh2, data prediction `predict_x0`), on host arrays in float64.
 *
 * Per-image state (model-output history, last sample, step index, warm-up order) lives in
 * `history`; `reset()` and `setTimesteps()` clear it, so one instance can serve many images.
 */
import { ConfigError } from '../core/errors.ts';
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  alloc, checkSameLength, checkStepIndex, checkSteps, indexForTimestep, solveLinear, thresholdSample, addNoiseBySigma } from './common.ts';
import { type ConfigOf, type Warn, boolField, enumField, fixedField, intField, intListField, numberField, parseSchedulerConfig } from './config.ts';
import { alphasCumprod, makeBetas, multistepSigmas, scheduleSpec, spacedTimesteps, trainingSigmas, vpAlphaSigma } from './schedule.ts';

export const UNIPC_SPEC = {
  ...scheduleSpec({ spacing: 'linspace' }),
  solver_order: intField(2, 1),
  thresholding: boolField(false),
  dynamic_thresholding_ratio: numberField(0.995),
  sample_max_value: numberField(1),
  predict_x0: boolField(true),
  // diffusers rewrites the DPM-Solver names to bh2.
  solver_type: enumField('bh2', ['bh1', 'bh2'] as const, { midpoint: 'bh2', heun: 'bh2', logrho: 'bh2' }),
  lower_order_final: boolField(true),
  disable_corrector: intListField([]),
  solver_p: fixedField(null, 'a nested solver-p scheduler cannot be given in a JSON config'),
  use_karras_sigmas: boolField(false),
  final_sigmas_type: enumField('zero', ['zero', 'sigma_min'] as const),
};
export type UniPCConfig = ConfigOf<typeof UNIPC_SPEC>;

interface History {
  stepIndex: number | null;
  /** Converted model outputs (x̂₀ or ε̂) of the last `solver_order` steps, oldest first. */
  modelOutputs: (Float64Array | null)[];
  lowerOrderNums: number;
  lastSample: Float64Array | null;
  thisOrder: number;
}

export class UniPCMultistepScheduler implements Scheduler {
  readonly config: UniPCConfig;
  readonly alphasCumprod: Float64Array;
  /** Training sigmas √((1−ᾱ)/ᾱ) (float32 values), indexed by training timestep. */
  private readonly trainSigmas: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  /** Sigmas of the schedule (float32 values), one more than the timesteps (the final sigma). */
  sigmas: Float64Array = new Float64Array(0);
  private beginIndex: number | null = null;
  private history!: History;

  constructor(config: unknown = {}, warn?: Warn) {
    this.config = parseSchedulerConfig('UniPCMultistepScheduler', UNIPC_SPEC, config, warn);
    const acp = alphasCumprod(makeBetas(this.config));
    // Zero terminal SNR would make the first sigma infinite; diffusers pins ᾱ_T to the
    // smallest float16 subnormal instead (so sigmas[0] = 4096 for the colorization config).
    if (this.config.rescaleBetasZeroSnr) acp[acp.length - 1] = 2 ** -24;
    this.alphasCumprod = acp;
    this.trainSigmas = trainingSigmas(acp);
    this.reset();
  }

  get stepIndex(): number | null {
    return this.history.stepIndex;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    checkSteps('UniPCMultistepScheduler', numInferenceSteps, c.numTrainTimesteps);
    const ts = spacedTimesteps(c.timestepSpacing, numInferenceSteps, c.numTrainTimesteps, c.stepsOffset, 1);
    const r = multistepSigmas(this.trainSigmas, ts, numInferenceSteps, c.useKarrasSigmas ? 'karras' : 'none', c.finalSigmasType);
    this.timesteps = Object.freeze(r.timesteps);
    this.sigmas = r.sigmas;
    this.beginIndex = null;
    this.reset();
  }

  /** Starts stepping at schedule index `i` (img2img pipelines; diffusers `set_begin_index`). */
  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  reset(): void {
    this.history = { stepIndex: null, modelOutputs: new Array(this.config.solverOrder).fill(null), lowerOrderNums: 0, lastSample: null, thisOrder: 1 };
  }

  scaleModelInput<T extends FloatArray>(sample: T): T {
    return sample;
  }

  /** diffusers `convert_model_output`: x̂₀ (predict_x0) or ε̂ at the current sigma. */
  private convert(modelOutput: FloatArray, sample: FloatArray, options: StepOptions | undefined): Float64Array {
    const c = this.config;
    const { alpha, sigmaT } = vpAlphaSigma(this.sigmas[this.history.stepIndex!]);
    const out = new Float64Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      const m = modelOutput[i];
      const x = sample[i];
      if (c.predictX0) {
        out[i] = c.predictionType === 'epsilon' ? (x - sigmaT * m) / alpha : c.predictionType === 'sample' ? m : alpha * x - sigmaT * m;
      } else {
        out[i] = c.predictionType === 'epsilon' ? m : c.predictionType === 'sample' ? (x - alpha * m) / sigmaT : alpha * m + sigmaT * x;
      }
    }
    if (c.predictX0 && c.thresholding) thresholdSample(out, options?.batchSize, c.dynamicThresholdingRatio, c.sampleMaxValue);
    return out;
  }

  /**
   * The B(h) coefficients shared by UniP and UniC: h·φ₁ = e^{hh} − 1, B(h), the rows R[i] = r^i and
   * b[i] = h·φ_{i+1}·i!/B(h) for i < order (hh = −h when predicting x₀).
   */
  private coefficients(h: number, rks: number[], order: number) {
    const hh = this.config.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh);
    const bH = this.config.solverType === 'bh1' ? hh : Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * factorial) / bH);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    return { hPhi1, bH, R, b };
  }

  /**
   * x_t from x_s with the B(h) update: for x₀ prediction σ_t/σ_s·x − α_t·hφ₁·m₀ − α_t·B(h)·Σρ_k·D_k,
   * for ε prediction α_t/α_s·x − σ_t·hφ₁·m₀ − σ_t·B(h)·Σρ_k·D_k.
   */
  private update(x: Float64Array, m0: Float64Array, sigmaT: number, sigmaS: number, hPhi1: number, bH: number, terms: { rho: number; d: Float64Array }[]): Float64Array {
    const t = vpAlphaSigma(sigmaT);
    const s = vpAlphaSigma(sigmaS);
    const [cx, cm] = this.config.predictX0 ? [t.sigmaT / s.sigmaT, t.alpha] : [t.alpha / s.alpha, t.sigmaT];
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      let v = cx * x[i] - cm * hPhi1 * m0[i];
      // Without difference terms the B(h) term is exactly zero. diffusers still multiplies
      // B(h)·0, which is NaN on the last step with bh1 (B(h) = h = −∞ at the final sigma 0).
      if (terms.length > 0) {
        let res = 0;
        for (const { rho, d } of terms) res += rho * d[i];
        v -= cm * bH * res;
      }
      out[i] = v;
    }
    return out;
  }

  /** D_k = (m_k − m₀)/r_k for the older outputs, with r_k = (λ_{s_k} − λ_{s0})/h. */
  private differences(order: number, newestIndex: number, lambdaS0: number, h: number, m0: Float64Array) {
    const outs = this.history.modelOutputs;
    const rks: number[] = [];
    const ds: Float64Array[] = [];
    for (let i = 1; i < order; i++) {
      const mi = outs[outs.length - 1 - i]!;
      const rk = (vpAlphaSigma(this.sigmas[newestIndex - i]).lambda - lambdaS0) / h;
      rks.push(rk);
      ds.push(mi.map((v, j) => (v - m0[j]) / rk));
    }
    rks.push(1);
    return { rks, ds };
  }

  /** UniP-p predictor (diffusers `multistep_uni_p_bh_update`). */
  private predictor(sample: Float64Array, order: number): Float64Array {
    const k = this.history.stepIndex!;
    const m0 = this.history.modelOutputs[this.history.modelOutputs.length - 1]!;
    const sT = this.sigmas[k + 1];
    const sS0 = this.sigmas[k];
    const lambdaS0 = vpAlphaSigma(sS0).lambda;
    const h = vpAlphaSigma(sT).lambda - lambdaS0;
    const { rks, ds } = this.differences(order, k, lambdaS0, h, m0);
    const { hPhi1, bH, R, b } = this.coefficients(h, rks, order);
    let rhos: number[] = [];
    if (ds.length > 0) {
      // Order 2 uses the fixed ρ = 0.5 (as diffusers does); higher orders solve R[:-1,:-1]·ρ = b[:-1].
      rhos = order === 2 ? [0.5] : solveLinear(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));
    }
    return this.update(sample, m0, sT, sS0, hPhi1, bH, ds.map((d, i) => ({ rho: rhos[i], d })));
  }

  /** UniC-p corrector of the previous step's prediction with the new model output (`multistep_uni_c_bh_update`). */
  private corrector(modelT: Float64Array, lastSample: Float64Array, order: number): Float64Array {
    const k = this.history.stepIndex!;
    const m0 = this.history.modelOutputs[this.history.modelOutputs.length - 1]!;
    const sT = this.sigmas[k];
    const sS0 = this.sigmas[k - 1];
    const lambdaS0 = vpAlphaSigma(sS0).lambda;
    const h = vpAlphaSigma(sT).lambda - lambdaS0;
    const { rks, ds } = this.differences(order, k - 1, lambdaS0, h, m0);
    const { hPhi1, bH, R, b } = this.coefficients(h, rks, order);
    const rhos = order === 1 ? [0.5] : solveLinear(R, b);
    const dT = modelT.map((v, j) => v - m0[j]);
    const terms = ds.map((d, i) => ({ rho: rhos[i], d }));
    terms.push({ rho: rhos[rhos.length - 1], d: dT });
    return this.update(lastSample, m0, sT, sS0, hPhi1, bH, terms);
  }

  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options?: StepOptions): StepOutput<T> {
    if (this.timesteps.length === 0) throw new ConfigError('UniPCMultistepScheduler.step: call setTimesteps(numInferenceSteps) first');
    checkSameLength('UniPCMultistepScheduler.step', modelOutput, sample);
    const st = this.history;
    const c = this.config;
    if (st.stepIndex === null) st.stepIndex = this.beginIndex ?? indexForTimestep('UniPCMultistepScheduler.step', this.timesteps, timestep, true);
    const k = st.stepIndex;
    checkStepIndex('UniPCMultistepScheduler', k, this.timesteps.length);
    const useCorrector = k > 0 && !c.disableCorrector.includes(k - 1) && st.lastSample !== null;
    const converted = this.convert(modelOutput, sample, options);
    let x: Float64Array = Float64Array.from(sample);
    if (useCorrector) x = this.corrector(converted, st.lastSample!, st.thisOrder);

    st.modelOutputs.shift();
    st.modelOutputs.push(converted);
    const order = c.lowerOrderFinal ? Math.min(c.solverOrder, this.timesteps.length - k) : c.solverOrder;
    st.thisOrder = Math.min(order, st.lowerOrderNums + 1); // warm-up: the history is still short
    st.lastSample = x;
    const prev = this.predictor(x, st.thisOrder);
    if (st.lowerOrderNums < c.solverOrder) st.lowerOrderNums++;
    st.stepIndex = k + 1;
    const out = alloc(sample);
    out.set(prev);
    return { prevSample: out };
  }

  /**
   * α_t·x₀ + σ_t·ε at each item's timestep (diffusers' copy of DPM-Solver's `add_noise`).
   * The timestep is looked up in the *schedule*: one that is not in it (PASD's
   * added_noise_level 900) silently uses the last index, the smallest sigma. We keep that
   * because PASD's latent initialisation depends on it (fixtures `prepare_latents_unipc_*`).
   */
  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return addNoiseBySigma('UniPCMultistepScheduler.addNoise', { timesteps: this.timesteps, sigmas: this.sigmas, beginIndex: this.beginIndex, stepIndex: this.history.stepIndex }, originalSamples, noise, timesteps);
  }
}
