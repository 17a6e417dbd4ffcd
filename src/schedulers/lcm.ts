/**
 * Latent Consistency Model multistep sampler (Luo et al. 2023, arXiv 2310.04378), for LCM and
 * LCM-LoRA previews. Mirrors diffusers 0.29.2 `scheduling_lcm.py`: each step maps x_t to the
 * consistency-function output (c_skip·x + c_out·x̂₀) and re-noises it to the next timestep
 * with fresh noise, except on the last step.
 */
import { ConfigError, InputError } from '../core/errors.ts';
import {
  type FloatArray, type Scheduler, type StepOptions, type StepOutput,
  addNoiseAlphas, alloc, checkStepIndex, indexForTimestep, predictX0, stepNoise, thresholdSample, trainIndex, velocityAlphas,
} from './common.ts';
import { type ConfigOf, type Warn, boolField, intField, numberField, parseSchedulerConfig } from './config.ts';
import { alphasCumprod, makeBetas, scheduleSpec } from './schedule.ts';

export const LCM_SPEC = {
  ...scheduleSpec({ betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', spacing: 'leading' }),
  original_inference_steps: intField(50, 1),
  clip_sample: boolField(false),
  clip_sample_range: numberField(1),
  set_alpha_to_one: boolField(true),
  thresholding: boolField(false),
  dynamic_thresholding_ratio: numberField(0.995),
  sample_max_value: numberField(1),
  timestep_scaling: numberField(10),
};
export type LCMConfig = ConfigOf<typeof LCM_SPEC>;

export class LCMScheduler implements Scheduler {
  readonly config: LCMConfig;
  readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private beginIndex: number | null = null;
  private stepIndex: number | null = null;

  constructor(config: unknown = {}, warn?: Warn) {
    this.config = parseSchedulerConfig('LCMScheduler', LCM_SPEC, config, warn);
    this.alphasCumprod = alphasCumprod(makeBetas(this.config));
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  /**
   * `numInferenceSteps` timesteps taken evenly (by index, floored) from the distillation
   * schedule k−1, 2k−1, …, with k = T / original_inference_steps, from the top. `strength` < 1
   * shortens the distillation schedule for img2img, as diffusers' `strength` argument.
   */
  setTimesteps(numInferenceSteps: number, strength = 1): void {
    const c = this.config;
    const original = c.originalInferenceSteps;
    if (original > c.numTrainTimesteps) throw new ConfigError(`LCMScheduler config "original_inference_steps" (${original}) cannot exceed "num_train_timesteps" (${c.numTrainTimesteps})`);
    if (!Number.isSafeInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > original) {
      throw new InputError(`LCMScheduler.setTimesteps: numInferenceSteps must be an integer in [1, ${original}] (original_inference_steps), got ${numInferenceSteps}`);
    }
    const k = Math.floor(c.numTrainTimesteps / original);
    const origin = Array.from({ length: Math.trunc(original * strength) }, (_, i) => (i + 1) * k - 1).reverse();
    if (Math.floor(origin.length / numInferenceSteps) < 1) {
      throw new InputError(`LCMScheduler.setTimesteps: original_inference_steps × strength = ${origin.length} is smaller than numInferenceSteps ${numInferenceSteps}; lower the steps or raise strength`);
    }
    // np.linspace(0, len, n, endpoint=False) floored: i·len/n.
    const step = origin.length / numInferenceSteps;
    this.timesteps = Object.freeze(Array.from({ length: numInferenceSteps }, (_, i) => origin[Math.floor(i * step)]));
    this.beginIndex = null;
    this.reset();
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  reset(): void {
    this.stepIndex = null;
  }

  scaleModelInput<T extends FloatArray>(sample: T): T {
    return sample;
  }

  step<T extends FloatArray>(modelOutput: FloatArray, timestep: number, sample: T, options?: StepOptions): StepOutput<T> {
    const c = this.config;
    if (this.timesteps.length === 0) throw new ConfigError('LCMScheduler.step: call setTimesteps(numInferenceSteps) first');
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? indexForTimestep('LCMScheduler.step', this.timesteps, timestep, false);
    const k = this.stepIndex;
    checkStepIndex('LCMScheduler', k, this.timesteps.length);
    const t = trainIndex('LCMScheduler.step', timestep, c.numTrainTimesteps);
    const prevT = k + 1 < this.timesteps.length ? this.timesteps[k + 1] : t;
    const aT = this.alphasCumprod[t];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    // Boundary-condition scalings with σ_data = 0.5 (get_scalings_for_boundary_condition_discrete).
    const st = t * c.timestepScaling;
    const cSkip = 0.25 / (st * st + 0.25);
    const cOut = st / Math.sqrt(st * st + 0.25);

    const x0 = predictX0(c.predictionType, aT, modelOutput, sample);
    if (c.thresholding) thresholdSample(x0, options?.batchSize, c.dynamicThresholdingRatio, c.sampleMaxValue);
    else if (c.clipSample) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -c.clipSampleRange), c.clipSampleRange);

    const last = k === this.timesteps.length - 1;
    const noise = last ? null : stepNoise('LCMScheduler', sample.length, options);
    const prev = alloc(sample);
    const denoised = alloc(sample);
    const sa = Math.sqrt(aPrev);
    const sb = Math.sqrt(1 - aPrev);
    for (let i = 0; i < prev.length; i++) {
      const d = cOut * x0[i] + cSkip * sample[i];
      denoised[i] = d;
      prev[i] = noise ? sa * d + sb * noise[i] : d;
    }
    this.stepIndex = k + 1;
    return { prevSample: prev, predOriginalSample: denoised };
  }

  addNoise<T extends FloatArray>(originalSamples: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return addNoiseAlphas('LCMScheduler', this.alphasCumprod, originalSamples, noise, timesteps);
  }

  getVelocity<T extends FloatArray>(sample: T, noise: FloatArray, timesteps: number | readonly number[]): T {
    return velocityAlphas('LCMScheduler', this.alphasCumprod, sample, noise, timesteps);
  }
}
