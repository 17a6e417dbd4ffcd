/**
 * DDIM (Song et al. 2021, arXiv 2010.02502, eqs. 12 and 16). Mirrors diffusers 0.29.2
 * `scheduling_ddim.py`: single step, no history; η > 0 adds noise from options.noise /
 * options.generator.
 */
import { ConfigError } from '../core/errors.ts';
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  addNoiseAlphas, alloc, checkSteps, predictX0, stepNoise, thresholdSample, trainIndex, velocityAlphas,
} from './common.ts';
import { type ConfigOf, type Warn, boolField, numberField, parseSchedulerConfig } from './config.ts';
import { alphasCumprod, makeBetas, scheduleSpec, spacedTimesteps } from './schedule.ts';

export const DDIM_SPEC = {
  ...scheduleSpec({ spacing: 'leading' }),
  clip_sample: boolField(true),
  set_alpha_to_one: boolField(true),
  thresholding: boolField(false),
  dynamic_thresholding_ratio: numberField(0.995),
  clip_sample_range: numberField(1),
  sample_max_value: numberField(1),
};
export type DDIMConfig = ConfigOf<typeof DDIM_SPEC>;

export interface DDIMStepOptions extends StepOptions {
  /** η of eq. 16: 0 is deterministic DDIM, 1 is DDPM-like. */
  readonly eta?: number;
  /** Re-derive ε̂ from the clipped x̂₀ (GLIDE). */
  readonly useClippedModelOutput?: boolean;
}

export class DDIMScheduler implements Scheduler {
  readonly config: DDIMConfig;
  readonly alphasCumprod: Float64Array;
  /** ᾱ used past the last step: 1, or ᾱ₀ (set_alpha_to_one false, as in SD1.5). */
  private readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private numInferenceSteps = 0;

  constructor(config: unknown = {}, warn?: Warn) {
    this.config = parseSchedulerConfig('DDIMScheduler', DDIM_SPEC, config, warn);
    this.alphasCumprod = alphasCumprod(makeBetas(this.config));
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    checkSteps('DDIMScheduler', numInferenceSteps, c.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = Object.freeze(spacedTimesteps(c.timestepSpacing, numInferenceSteps, c.numTrainTimesteps, c.stepsOffset, 0));
  }

  /** DDIM keeps no per-image state. */
  reset(): void {}

  scaleModelInput<T extends FloatArray>(sample: T): T {
    return sample;
  }

  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options: DDIMStepOptions = {}): StepOutput<T> {
    const c = this.config;
    if (this.numInferenceSteps === 0) throw new ConfigError('DDIMScheduler.step: call setTimesteps(numInferenceSteps) first');
    const t = trainIndex('DDIMScheduler.step', timestep, c.numTrainTimesteps);
    // The previous timestep is t − T/n, not the next schedule entry (diffusers does the same).
    const prevT = t - Math.floor(c.numTrainTimesteps / this.numInferenceSteps);
    const aT = this.alphasCumprod[t];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const bT = 1 - aT;

    const x0 = predictX0(c.predictionType, aT, modelOutput, sample);
    const epsHat = new Float64Array(sample.length);
    for (let i = 0; i < epsHat.length; i++) {
      const m = modelOutput[i];
      const x = sample[i];
      epsHat[i] = c.predictionType === 'epsilon' ? m : c.predictionType === 'sample' ? (x - Math.sqrt(aT) * x0[i]) / Math.sqrt(bT) : Math.sqrt(aT) * m + Math.sqrt(bT) * x;
    }
    if (c.thresholding) thresholdSample(x0, options.batchSize, c.dynamicThresholdingRatio, c.sampleMaxValue);
    else if (c.clipSample) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -c.clipSampleRange), c.clipSampleRange);

    const eta = options.eta ?? 0;
    const variance = ((1 - aPrev) / bT) * (1 - aT / aPrev);
    const std = eta * Math.sqrt(variance);
    if (options.useClippedModelOutput) for (let i = 0; i < x0.length; i++) epsHat[i] = (sample[i] - Math.sqrt(aT) * x0[i]) / Math.sqrt(bT);
    const dirCoef = Math.sqrt(1 - aPrev - std * std);
    const noise = eta > 0 ? stepNoise('DDIMScheduler', sample.length, options) : null;
    const prev = alloc(sample);
    const pred = alloc(sample);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = Math.sqrt(aPrev) * x0[i] + dirCoef * epsHat[i] + (noise ? std * noise[i] : 0);
      pred[i] = x0[i];
    }
    return { prevSample: prev, predOriginalSample: pred };
  }

  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return addNoiseAlphas('DDIMScheduler', this.alphasCumprod, originalSamples, noise, timesteps);
  }

  getVelocity<T extends FloatArray>(sample: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return velocityAlphas('DDIMScheduler', this.alphasCumprod, sample, noise, timesteps);
  }
}
