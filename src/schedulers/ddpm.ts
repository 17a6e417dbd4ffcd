/**
 * DDPM (Ho et al. 2020): the training-time forward process (`addNoise`, `getVelocity`) used by
 * train_pasd.py, and ancestral sampling. Mirrors diffusers 0.29.2 `scheduling_ddpm.py`.
 */
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  addNoiseAlphas, alloc, checkSteps, predictX0, stepNoise, thresholdSample, trainIndex, velocityAlphas,
} from './common.ts';
import { type ConfigOf, type Warn, boolField, enumField, numberField, parseSchedulerConfig } from './config.ts';
import { alphasCumprod, makeBetas, scheduleSpec, spacedTimesteps } from './schedule.ts';

export const DDPM_SPEC = {
  ...scheduleSpec({ spacing: 'leading', sigmoid: true }),
  // learned / learned_range need a model that also predicts the variance; fixed_large_log takes
  // the square root of a logarithm in diffusers (NaN), so it is not offered.
  variance_type: enumField('fixed_small', ['fixed_small', 'fixed_small_log', 'fixed_large'] as const),
  clip_sample: boolField(true),
  thresholding: boolField(false),
  dynamic_thresholding_ratio: numberField(0.995),
  clip_sample_range: numberField(1),
  sample_max_value: numberField(1),
};
export type DDPMConfig = ConfigOf<typeof DDPM_SPEC>;

export class DDPMScheduler implements Scheduler {
  readonly config: DDPMConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[];
  /** null until setTimesteps: then every training step is a sampling step (t−1 follows t). */
  private numInferenceSteps: number | null = null;

  constructor(config: unknown = {}, warn?: Warn) {
    this.config = parseSchedulerConfig('DDPMScheduler', DDPM_SPEC, config, warn);
    this.alphasCumprod = alphasCumprod(makeBetas(this.config));
    this.timesteps = Object.freeze(Array.from({ length: this.config.numTrainTimesteps }, (_, i) => this.config.numTrainTimesteps - 1 - i));
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    checkSteps('DDPMScheduler', numInferenceSteps, c.numTrainTimesteps);
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = Object.freeze(spacedTimesteps(c.timestepSpacing, numInferenceSteps, c.numTrainTimesteps, c.stepsOffset, 0));
  }

  /** DDPM keeps no per-image state. */
  reset(): void {}

  scaleModelInput<T extends FloatArray>(sample: T): T {
    return sample;
  }

  private previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / (this.numInferenceSteps ?? this.config.numTrainTimesteps));
  }

  /** The posterior q(x_{t−1} | x_t, x̂₀) mean, plus its noise for t > 0 (options.noise / options.generator). */
  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options?: StepOptions): StepOutput<T> {
    const c = this.config;
    const t = trainIndex('DDPMScheduler.step', timestep, c.numTrainTimesteps);
    const prevT = this.previousTimestep(t);
    const aT = this.alphasCumprod[t];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1;
    const bT = 1 - aT;
    const bPrev = 1 - aPrev;
    const curAlpha = aT / aPrev;
    const curBeta = 1 - curAlpha;

    const x0 = predictX0(c.predictionType, aT, modelOutput, sample);
    if (c.thresholding) thresholdSample(x0, options?.batchSize, c.dynamicThresholdingRatio, c.sampleMaxValue);
    else if (c.clipSample) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -c.clipSampleRange), c.clipSampleRange);

    // Eq. 7 of the DDPM paper: coefficients of x̂₀ and x_t in the posterior mean.
    const cX0 = (Math.sqrt(aPrev) * curBeta) / bT;
    const cXt = (Math.sqrt(curAlpha) * bPrev) / bT;
    let std = 0;
    if (t > 0) {
      const variance = Math.max((bPrev / bT) * curBeta, 1e-20);
      std = c.varianceType === 'fixed_large' ? Math.sqrt(curBeta) : Math.sqrt(variance);
    }
    const noise = t > 0 ? stepNoise('DDPMScheduler', sample.length, options) : null;
    const prev = alloc(sample);
    const pred = alloc(sample);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = cX0 * x0[i] + cXt * sample[i] + (noise ? std * noise[i] : 0);
      pred[i] = x0[i];
    }
    return { prevSample: prev, predOriginalSample: pred };
  }

  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return addNoiseAlphas('DDPMScheduler', this.alphasCumprod, originalSamples, noise, timesteps);
  }

  getVelocity<T extends FloatArray>(sample: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return velocityAlphas('DDPMScheduler', this.alphasCumprod, sample, noise, timesteps);
  }
}
