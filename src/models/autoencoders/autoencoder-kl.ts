/**
 * AutoencoderKL (diffusers 0.29.2 `models/autoencoders/autoencoder_kl.py`): encoder →
 * quant_conv → DiagonalGaussianDistribution, and post_quant_conv → decoder. Encoding and
 * decoding are separate entry points because they are traced as separate graphs.
 */
import type { AutoencoderKLConfig } from '../../config/vae.ts';
import { InputError, ShapeError } from '../../core/errors.ts';
import { Graph } from '../../ir/graph.ts';
import { Conv2d } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { Tensor } from '../../ops/tensor.ts';
import type { Autoencoder } from './index.ts';
import { Decoder, Encoder } from './vae.ts';

/** The latent distribution's parameters, each [B, latent, h, w]. */
export interface Posterior {
  readonly mean: Tensor;
  /** Clamped to [-30, 20] as `DiagonalGaussianDistribution` does (`vae.py`). */
  readonly logvar: Tensor;
}

/** Spatial downsampling factor between image and latent (the pipelines' `vae_scale_factor`). */
export function vaeScaleFactor(c: AutoencoderKLConfig): number {
  return 2 ** (c.blockOutChannels.length - 1);
}

export class AutoencoderKL extends Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: Conv2d | null;
  readonly post_quant_conv: Conv2d | null;

  constructor(readonly config: AutoencoderKLConfig) {
    super();
    const l = config.latentChannels;
    this.encoder = new Encoder(config);
    this.decoder = new Decoder(config);
    this.quant_conv = config.useQuantConv ? new Conv2d(2 * l, 2 * l, 1) : null;
    this.post_quant_conv = config.usePostQuantConv ? new Conv2d(l, l, 1) : null;
  }

  /** Image pixels per latent pixel. */
  get factor(): number {
    return vaeScaleFactor(this.config);
  }

  /** image [B, in, H, W] in [-1, 1] → posterior mean and clamped logvar, [B, latent, H/f, W/f] */
  encode(image: Tensor): Posterior {
    this.checkInput('encode', image, this.config.inChannels, 'image');
    const h = this.encoder.forward(image);
    const moments = this.quant_conv ? this.quant_conv.forward(h) : h;
    const [mean, logvar] = moments.chunk(2, 1);
    return { mean, logvar: logvar.clip(-30, 20) };
  }

  /** latent [B, latent, h, w] (already divided by the scaling factor) → image [B, out, h·f, w·f] */
  decode(latent: Tensor): Tensor {
    this.checkInput('decode', latent, this.config.latentChannels, 'latent');
    const z = this.post_quant_conv ? this.post_quant_conv.forward(latent) : latent;
    return this.decoder.forward(z);
  }

  private checkInput(fn: string, x: Tensor, channels: number, what: string): void {
    if (x.rank !== 4 || x.shape[1] !== channels)
      throw new ShapeError(`AutoencoderKL.${fn}: ${what} must be [B, ${channels}, H, W], got [${x.shape.join(',')}]`);
    if (x.dtype !== 'float32') throw new ShapeError(`AutoencoderKL.${fn}: ${what} must be float32, got ${x.dtype}`);
  }
}

/** Graph `vae_encode`: input `image` [B, in, H, W] → outputs `mean`, `logvar` [B, latent, H/f, W/f]. */
export function traceVaeEncode(vae: Autoencoder, s: { batch: number; height: number; width: number }): Graph {
  const g = new Graph('vae_encode');
  const image = new Tensor(g, g.addInput('image', { dtype: 'float32', shape: [s.batch, vae.config.inChannels, s.height, s.width] }));
  const { mean, logvar } = vae.encode(image);
  g.setOutputs({ mean: mean.value, logvar: logvar.value });
  return g;
}

/** Graph `vae_decode`: input `latent` [B, latent, h, w] → output `image` [B, in, h·f, w·f]. */
export function traceVaeDecode(vae: Autoencoder, s: { batch: number; height: number; width: number }): Graph {
  const g = new Graph('vae_decode');
  const latent = new Tensor(g, g.addInput('latent', { dtype: 'float32', shape: [s.batch, vae.config.latentChannels, s.height, s.width] }));
  g.setOutputs({ image: vae.decode(latent).value });
  return g;
}

/**
 * `DiagonalGaussianDistribution.sample()` with explicit noise, on host arrays in float32 as
 * torch computes it: std = exp(0.5·logvar), sample = mean + std·noise.
 */
export function samplePosterior(mean: Float32Array, logvar: Float32Array, noise: Float32Array): Float32Array {
  if (logvar.length !== mean.length || noise.length !== mean.length)
    throw new InputError(`samplePosterior: mean, logvar and noise must have the same length, got ${mean.length}, ${logvar.length}, ${noise.length}`);
  const out = new Float32Array(mean.length);
  for (let i = 0; i < out.length; i++) out[i] = mean[i] + Math.fround(Math.fround(Math.exp(0.5 * logvar[i])) * noise[i]);
  return out;
}
