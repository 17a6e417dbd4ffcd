/**
 * The pipeline's VAE stage: image in [0, 1] → posterior, scaled latents → image in [0, 1].
 * AutoencoderKL runs through the exact tiled VAE (./tiled-vae.ts); an autoencoder whose
 * memory does not grow with depth (the PixelShuffleAutoencoder) runs as one graph per shape.
 */
import { InputError } from '../core/errors.ts';
import type { CompileOptions } from '../engine/compile.ts';
import { Graph } from '../ir/graph.ts';
import { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import type { Autoencoder } from '../models/autoencoders/index.ts';
import { Tensor } from '../ops/tensor.ts';
import { GraphCache } from './graph-cache.ts';
import { TiledVae, type TiledVaeOptions } from './tiled-vae.ts';

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
    const s = checkShape('encode', image, shape, this.vae.config.inChannels);
    const out = await this.run(`enc.${s.join('x')}`, s, image, (x) => {
      const p = this.vae.encode(x.mul(2).sub(1));
      return { mean: p.mean, logvar: p.logvar };
    });
    return { mean: out.mean.data as Float32Array, logvar: out.logvar.data as Float32Array, shape: [...out.mean.shape] };
  }

  async decode(latents: Float32Array, shape: readonly number[]) {
    const s = checkShape('decode', latents, shape, this.vae.config.latentChannels);
    const sf = this.scalingFactor;
    const out = await this.run(`dec.${s.join('x')}`, s, latents, (z) => ({ image: this.vae.decode(z.div(sf)).div(2).add(0.5).clip(0, 1) }));
    return { image: out.image.data as Float32Array, shape: [...out.image.shape] };
  }

  release(): Promise<void> {
    return this.graphs.release();
  }

  private async run(key: string, shape: number[], data: Float32Array, body: (x: Tensor) => Record<string, Tensor>) {
    const session = await this.graphs.get(key, () => {
      const g = new Graph(`vae_${key.replace(/\W/g, '_')}`);
      const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape }));
      g.setOutputs(Object.fromEntries(Object.entries(body(x)).map(([k, t]) => [k, t.value])));
      return g;
    });
    return session.run({ x: { dtype: 'float32', shape, data } });
  }
}

function checkShape(fn: string, data: Float32Array, shape: readonly number[], channels: number): number[] {
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== channels || shape.some((d) => !Number.isInteger(d) || d <= 0))
    throw new InputError(`VAE ${fn}: shape must be [1, ${channels}, H, W], got [${shape.join(', ')}]`);
  if (data.length !== shape[1] * shape[2] * shape[3]) throw new InputError(`VAE ${fn}: ${data.length} values do not match shape [${shape.join(', ')}]`);
  return [...shape];
}
