/**
 * The pipeline's VAE stage: image in [0, 1] → posterior, scaled latents → image in [0, 1].
 * AutoencoderKL runs through the exact tiled VAE (./tiled-vae.ts); an autoencoder whose
 * memory does not grow with depth (the PixelShuffleAutoencoder) runs as one graph per shape.
 */
import type { CompileOptions } from '../engine/compile.ts';
import { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import type { Autoencoder } from '../models/autoencoders/index.ts';
import { GraphCache } from './graph-cache.ts';
import { TiledVae, type TiledVaeOptions } from './tiled-vae.ts';
import { checkVaeInput, runVaePass } from './vae-pass.ts';

export interface VaeStage {
  readonly scalingFactor: number;
  /** image [1, 3, H, W] in [0, 1] → posterior mean and logvar of `image·2 − 1`. */
  encode(image: Float32Array, shape: readonly number[]): Promise<{ mean: Float32Array; logvar: Float32Array; shape: number[] }>;
  /** latents [1, latent, h, w] (scaled; divided by the scaling factor here) → image in [0, 1], clamped. */
  decode(latents: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[] }>;
  release(): Promise<void>;
}

export function vaeStage(vae: Autoencoder, options: TiledVaeOptions & CompileOptions = {}): VaeStage {
  if (vae instanceof AutoencoderKL) return new TiledVae(vae, options);
  const { encoderTileSize: _e, decoderTileSize: _d, memoryBudgetBytes: _m, spillDir: _s, keepGraphs: _k, ...compile } = options;
  return new WholeVae(vae, compile);
}

/** Encode and decode as single graphs, compiled per shape. */
export class WholeVae implements VaeStage {
  private readonly graphs: GraphCache;
  constructor(readonly vae: Autoencoder, options: CompileOptions = {}) {
    this.graphs = new GraphCache(options);
  }

  get scalingFactor(): number {
    return this.vae.config.scalingFactor;
  }

  async encode(image: Float32Array, shape: readonly number[]) {
    const s = checkVaeInput('VAE encode', image, shape, this.vae.config.inChannels);
    const out = await runVaePass(this.graphs, this.vae, 'encode', true, s, image);
    return { mean: out.mean.data as Float32Array, logvar: out.logvar.data as Float32Array, shape: [...out.mean.shape] };
  }

  async decode(latents: Float32Array, shape: readonly number[]) {
    const s = checkVaeInput('VAE decode', latents, shape, this.vae.config.latentChannels);
    const out = await runVaePass(this.graphs, this.vae, 'decode', true, s, latents);
    return { image: out.image.data as Float32Array, shape: [...out.image.shape] };
  }

  release(): Promise<void> {
    return this.graphs.release();
  }
}
