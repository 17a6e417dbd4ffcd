/**
 * Euler discrete sampler (Karras et al. 2022, Algorithm 2, with optional churn), in the sigma
 * (variance-exploding) parametrisation: x is scaled by 1/√(σ²+1) before the model.
 * Mirrors diffusers 0.29.2 `scheduling_euler_discrete.py`. Its timesteps are float32 values
 * (e.g. 946.42…), not integers.
 */
import { ConfigError } from '../core/errors.ts';
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  alloc, checkSameLength, checkStepIndex, checkSteps, indexForTimestep, perItem, stepNoise,
} from './common.ts';
import { type ConfigOf, type Warn, boolField, enumField, optionalNumberField, parseSchedulerConfig } from './config.ts';
import {
  alphasCumprod, interpGrid, karrasSigmas, logSigmasF32, makeBetas, npLinspace, scheduleSpec,
  sigmaToT, spacedTimesteps, torchLinspaceF32, trainingSigmas,
} from './schedule.ts';

const f32 = Math.fround;

export const EULER_SPEC = {
  ...scheduleSpec({ spacing: 'linspace' }),
  interpolation_type: enumField('linear', ['linear', 'log_linear'] as const),
  use_karras_sigmas: boolField(false),
  sigma_min: optionalNumberField(null),
  sigma_max: optionalNumberField(null),
  timestep_type: enumField('discrete', ['discrete', 'continuous'] as const),
  final_sigmas_type: enumField('zero', ['zero', 'sigma_min'] as const),
};
export type EulerConfig = ConfigOf<typeof EULER_SPEC>;

export interface EulerStepOptions extends StepOptions {
  /** Karras "churn": extra noise injected for σ in [sTmin, sTmax]; 0 (default) is the plain ODE step. */
  readonly sChurn?: number;
  readonly sTmin?: number;
  readonly sTmax?: number;
  readonly sNoise?: number;
}

export class EulerDiscreteScheduler implements Scheduler {
  readonly config: EulerConfig;
  readonly alphasCumprod: Float64Array;
  private readonly trainSigmas: Float64Array;
  timesteps: readonly number[] = [];
  sigmas: Float64Array = new Float64Array(0);
  private beginIndex: number | null = null;
  private stepIndex: number | null = null;

  constructor(config: unknown = {}, warn?: Warn) {
    this.config = parseSchedulerConfig('EulerDiscreteScheduler', EULER_SPEC, config, warn);
    const acp = alphasCumprod(makeBetas(this.config));
    if (this.config.rescaleBetasZeroSnr) acp[acp.length - 1] = 2 ** -24; // keeps σ_max finite, as diffusers
    this.alphasCumprod = acp;
    this.trainSigmas = trainingSigmas(acp);
  }

  /** σ_max for linspace/trailing spacings, √(σ_max²+1) for leading (diffusers `init_noise_sigma`). */
  get initNoiseSigma(): number {
    if (this.sigmas.length === 0) throw new ConfigError('EulerDiscreteScheduler.initNoiseSigma: call setTimesteps(numInferenceSteps) first');
    const max = this.sigmas.reduce((m, s) => Math.max(m, s), 0);
    return this.config.timestepSpacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    checkSteps('EulerDiscreteScheduler', numInferenceSteps, c.numTrainTimesteps);
    const T = c.numTrainTimesteps;
    let ts: number[] = c.timestepSpacing === 'linspace'
      ? Array.from(npLinspace(0, T - 1, numInferenceSteps), f32).reverse()
      : spacedTimesteps(c.timestepSpacing, numInferenceSteps, T, c.stepsOffset, 0);
    const logSigmas = logSigmasF32(this.trainSigmas);
    let sig: Float64Array;
    if (c.interpolationType === 'linear') {
      sig = Float64Array.from(ts, (t) => interpGrid(t, this.trainSigmas));
    } else {
      // diffusers' log_linear gives n + 1 sigmas (then the final one): kept as is.
      sig = torchLinspaceF32(Math.log(this.trainSigmas[T - 1]), Math.log(this.trainSigmas[0]), numInferenceSteps + 1).map((v) => f32(Math.exp(v)));
    }
    if (c.useKarrasSigmas) {
      sig = karrasSigmas(c.sigmaMin ?? sig[sig.length - 1], c.sigmaMax ?? sig[0], numInferenceSteps);
      ts = Array.from(sig, (s) => sigmaToT(s, logSigmas));
    }
    const sigmas = new Float64Array(sig.length + 1);
    sig.forEach((s, i) => (sigmas[i] = f32(s)));
    sigmas[sig.length] = c.finalSigmasType === 'zero' ? 0 : this.trainSigmas[0];
    if (c.timestepType === 'continuous' && c.predictionType === 'v_prediction') {
      ts = Array.from(sigmas.subarray(0, sigmas.length - 1), (s) => f32(0.25 * f32(Math.log(s))));
    }
    this.timesteps = Object.freeze(ts.map(f32));
    this.sigmas = sigmas;
    this.beginIndex = null;
    this.reset();
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  reset(): void {
    this.stepIndex = null;
  }

  private initStepIndex(timestep: number): number {
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? indexForTimestep('EulerDiscreteScheduler', this.timesteps, timestep, false);
    return this.stepIndex;
  }

  /** x/√(σ²+1): the model sees unit-variance input. */
  scaleModelInput<T extends FloatArray>(sample: T, timestep: number): T {
    const sigma = this.sigmas[this.initStepIndex(timestep)];
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    const out = alloc(sample);
    for (let i = 0; i < out.length; i++) out[i] = sample[i] * scale;
    return out;
  }

  /**
   * One Euler step. Like diffusers, a generator (if given) is drawn from on every step even when
   * churn is 0 and the draw is unused, so that a replayed draw order stays aligned.
   */
  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options: EulerStepOptions = {}): StepOutput<T> {
    const c = this.config;
    if (this.timesteps.length === 0) throw new ConfigError('EulerDiscreteScheduler.step: call setTimesteps(numInferenceSteps) first');
    checkSameLength('EulerDiscreteScheduler.step', modelOutput, sample);
    const k = this.initStepIndex(timestep);
    checkStepIndex('EulerDiscreteScheduler', k, this.timesteps.length);
    const sigma = this.sigmas[k];
    const sChurn = options.sChurn ?? 0;
    const inRange = (options.sTmin ?? 0) <= sigma && sigma <= (options.sTmax ?? Infinity);
    const gamma = inRange ? Math.min(sChurn / (this.sigmas.length - 1), Math.SQRT2 - 1) : 0;
    const draw = gamma > 0 || options.noise !== undefined || options.generator !== undefined;
    const noise = draw ? stepNoise('EulerDiscreteScheduler', sample.length, options) : null;
    const sNoise = options.sNoise ?? 1;
    const sigmaHat = sigma * (gamma + 1);
    const churn = gamma > 0 ? Math.sqrt(sigmaHat * sigmaHat - sigma * sigma) * sNoise : 0;
    const dt = this.sigmas[k + 1] - sigmaHat;
    const prev = alloc(sample);
    const pred = alloc(sample);
    for (let i = 0; i < prev.length; i++) {
      const x = gamma > 0 ? sample[i] + churn * noise![i] : sample[i];
      const m = modelOutput[i];
      const x0 = c.predictionType === 'sample' ? m
        : c.predictionType === 'epsilon' ? x - sigmaHat * m
        : m * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
      prev[i] = x + ((x - x0) / sigmaHat) * dt;
      pred[i] = x0;
    }
    this.stepIndex = k + 1;
    return { prevSample: prev, predOriginalSample: pred };
  }

  /** x₀ + σ·ε (variance exploding), σ looked up by each item's timestep in the schedule. */
  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    checkSameLength('EulerDiscreteScheduler.addNoise', originalSamples, noise);
    if (this.timesteps.length === 0) throw new ConfigError('EulerDiscreteScheduler.addNoise: call setTimesteps(numInferenceSteps) first');
    const { values, itemSize } = perItem('EulerDiscreteScheduler.addNoise', originalSamples.length, timesteps);
    const out = alloc(originalSamples);
    values.forEach((t, b) => {
      const idx = this.beginIndex === null ? indexForTimestep('EulerDiscreteScheduler.addNoise', this.timesteps, t, false) : this.stepIndex ?? this.beginIndex;
      const s = this.sigmas[idx];
      for (let i = b * itemSize; i < (b + 1) * itemSize; i++) out[i] = originalSamples[i] + noise[i] * s;
    });
    return out;
  }
}
