/**
 * One forward/backward of train_pasd.py's loop body on host arrays: VAE posterior sample ×
 * scaling factor, DDPM add_noise, CLIP text embeddings (both frozen inference graphs, never
 * differentiated), then the compiled training-step graph (ControlNet → UNet → loss →
 * gradients) fed the current trainable values. Every random draw comes in from the caller.
 */
import { InputError } from '../core/errors.ts';
import type { CompileOptions } from '../engine/compile.ts';
import { samplePosterior, traceVaeEncode } from '../models/autoencoders/autoencoder-kl.ts';
import type { Autoencoder } from '../models/autoencoders/index.ts';
import { type CLIPTextModel, traceClipText } from '../models/clip/clip-text.ts';
import type { ControlNetModel } from '../models/controlnets/controlnet.ts';
import type { Parameter } from '../nn/module.ts';
import { GraphCache } from '../pipelines/graph-cache.ts';
import type { HostTensor } from '../runtime/session.ts';
import type { DDPMScheduler } from '../schedulers/ddpm.ts';
import { type ControlType, type ControlledUNet, gradName, traceTrainStep } from './step-graph.ts';

export interface TrainModels {
  controlnet: ControlNetModel;
  unet: ControlledUNet;
  vae: Autoencoder;
  textEncoder: CLIPTextModel;
}

export interface StepBatch {
  /** [B, 3, H, W] HR in [-1, 1]. */
  pixelValues: Float32Array;
  /** [B, 3, H, W] control image in [0, 1]. */
  cond: Float32Array;
  /** [B, S] token ids. */
  inputIds: BigInt64Array;
  batch: number;
  height: number;
  width: number;
  /** The three draws of the loop body, in its order: posterior noise, noise, timesteps. */
  posteriorNoise: Float32Array;
  noise: Float32Array;
  timesteps: readonly number[];
}

export interface StepResult {
  loss: number;
  lossMse: number;
  lossL1: number[];
  colorfulLossSum: number | null;
  latents: Float32Array;
  noisyLatents: Float32Array;
  encoderHiddenStates: HostTensor;
  modelPred: Float32Array;
  rgbs: HostTensor[];
  /** Per trainable parameter, null where it does not reach the loss. */
  grads: (Float32Array | null)[];
}

export interface StepRunnerOptions extends CompileOptions {
  controlType?: ControlType;
}

export class StepRunner {
  private readonly vaeGraphs: GraphCache;
  private readonly textGraphs: GraphCache;
  private readonly stepGraphs: GraphCache;

  constructor(
    readonly models: TrainModels,
    /** The trainable parameters, in the order of `values` and the returned gradients. */
    readonly params: readonly Parameter[],
    readonly scheduler: DDPMScheduler,
    readonly options: StepRunnerOptions = {},
  ) {
    this.vaeGraphs = new GraphCache(options);
    this.textGraphs = new GraphCache(options);
    this.stepGraphs = new GraphCache(options);
  }

  /** `vae.encode(pixels).latent_dist.sample(noise) · scaling_factor`. */
  async encodeLatents(pixels: Float32Array, b: number, h: number, w: number, noise: Float32Array): Promise<{ latents: Float32Array; shape: number[] }> {
    const vae = this.models.vae;
    const s = await this.vaeGraphs.get(`${b}x${h}x${w}`, () => traceVaeEncode(vae, { batch: b, height: h, width: w }));
    const out = await s.run({ image: { dtype: 'float32', shape: [b, 3, h, w], data: pixels } });
    const sample = samplePosterior(out.mean.data as Float32Array, out.logvar.data as Float32Array, noise);
    const k = Math.fround(vae.config.scalingFactor);
    for (let i = 0; i < sample.length; i++) sample[i] = Math.fround(sample[i] * k);
    return { latents: sample, shape: [...out.mean.shape] };
  }

  async encodeText(ids: BigInt64Array, b: number): Promise<HostTensor> {
    const len = ids.length / b;
    const s = await this.textGraphs.get(`${b}x${len}`, () => traceClipText(this.models.textEncoder, { batch: b, length: len }));
    return (await s.run({ input_ids: { dtype: 'int64', shape: [b, len], data: ids } })).last_hidden_state;
  }

  async run(x: StepBatch, values: readonly Float32Array[]): Promise<StepResult> {
    const { batch: b, height: h, width: w } = x;
    const f = this.models.vae.factor;
    if (h % f || w % f) throw new InputError(`train step: crop ${w}×${h} must be a multiple of the VAE factor ${f}`);
    if (x.timesteps.length !== b) throw new InputError(`train step: ${x.timesteps.length} timesteps for a batch of ${b}`);
    if (values.length !== this.params.length) throw new InputError(`train step: ${values.length} parameter arrays for ${this.params.length} trainable parameters`);
    if (this.scheduler.config.predictionType !== 'epsilon' && this.scheduler.config.predictionType !== 'v_prediction')
      throw new InputError(`train step: prediction_type "${this.scheduler.config.predictionType}" is not trainable here (train_pasd.py: epsilon or v_prediction)`);
    const { latents, shape: ls } = await this.encodeLatents(x.pixelValues, b, h, w, x.posteriorNoise);
    const noisy = this.scheduler.addNoise(latents, x.noise, x.timesteps);
    const target = this.scheduler.config.predictionType === 'v_prediction'
      ? this.scheduler.getVelocity(latents, x.noise, x.timesteps)
      : x.noise;
    const ehs = await this.encodeText(x.inputIds, b);
    const [, seq, dim] = ehs.shape;
    const controlType = this.options.controlType ?? 'realisr';
    const session = await this.stepGraphs.get(`${b}x${h}x${w}/${seq}x${dim}/${controlType}`, () => traceTrainStep(this.models.controlnet, this.models.unet, this.params, {
      batch: b, height: h, width: w, latentFactor: f, latentChannels: ls[1], seqLen: seq, contextDim: dim,
    }, controlType).graph);
    const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
    const feeds: Record<string, HostTensor> = {
      noisy_latents: f32(ls, noisy),
      timesteps: { dtype: 'int64', shape: [b], data: BigInt64Array.from(x.timesteps, (t) => BigInt(t)) },
      encoder_hidden_states: ehs,
      controlnet_cond: f32([b, this.models.controlnet.config.conditioningChannels, h, w], x.cond),
      target: f32(ls, target),
      pixel_values: f32([b, 3, h, w], x.pixelValues),
    };
    this.params.forEach((p, i) => { feeds[p.name] = f32([...p.shape], values[i]); });
    const out = await session.run(feeds);
    const scalar = (k: string) => (out[k].data as Float32Array)[0];
    const rgbs = Object.keys(out).filter((k) => k.startsWith('rgbs.')).sort().map((k) => out[k]);
    return {
      loss: scalar('loss'),
      lossMse: scalar('loss_mse'),
      lossL1: rgbs.map((_, i) => scalar(`loss_l1.${i}`)),
      colorfulLossSum: out.colorful_loss_sum ? scalar('colorful_loss_sum') : null,
      latents, noisyLatents: noisy, encoderHiddenStates: ehs,
      modelPred: out.model_pred.data as Float32Array,
      rgbs,
      // The graph has a gradient output exactly for the parameters that reach the loss.
      grads: this.params.map((p) => (out[gradName(p)]?.data as Float32Array | undefined) ?? null),
    };
  }

  async release(): Promise<void> {
    for (const c of [this.vaeGraphs, this.textGraphs, this.stepGraphs]) await c.release();
  }
}
