/**
 * The non-denoising stages as compiled graphs: prompt → CLIP embeddings, image → VAE
 * posterior, latents → image. Graphs are cached per shape.
 */
import { Graph } from '../ir/graph.ts';
import { Tensor } from '../ops/tensor.ts';
import type { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import type { CLIPTextModel } from '../models/clip/clip-text.ts';
import type { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import type { HostTensor } from '../runtime/session.ts';
import { GraphCache } from './graph-cache.ts';
import type { CompileOptions } from '../engine/compile.ts';

export class TextStage {
  private readonly cache: GraphCache;
  constructor(readonly model: CLIPTextModel, readonly tokenizer: ClipTokenizer, options: CompileOptions) {
    this.cache = new GraphCache(options);
  }

  /** Token ids [N, 77] and last_hidden_state [N, 77, D] for the prompts, in order. */
  async encode(prompts: readonly string[]): Promise<{ ids: BigInt64Array; embeds: HostTensor }> {
    const batch = this.tokenizer.call(prompts);
    const [n, len] = batch.shape;
    const s = await this.cache.get(`${n}x${len}`, () => {
      const g = new Graph(`clip_text_${n}x${len}`);
      const ids = new Tensor(g, g.addInput('input_ids', { dtype: 'int64', shape: [n, len] }));
      g.setOutputs({ last_hidden_state: this.model.forward(ids).value });
      return g;
    });
    const out = await s.run({ input_ids: { dtype: 'int64', shape: [n, len], data: batch.inputIds } });
    return { ids: batch.inputIds, embeds: out.last_hidden_state };
  }

  release(): Promise<void> {
    return this.cache.release();
  }
}

export class VaeStage {
  private readonly enc: GraphCache;
  private readonly dec: GraphCache;
  constructor(readonly vae: AutoencoderKL, options: CompileOptions) {
    this.enc = new GraphCache(options);
    this.dec = new GraphCache(options);
  }

  get scalingFactor(): number {
    return this.vae.config.scalingFactor;
  }

  /** image [1, 3, H, W] in [0, 1] → posterior mean and logvar of `image·2 − 1`. */
  async encode(image: Float32Array, shape: readonly number[]): Promise<{ mean: Float32Array; logvar: Float32Array; shape: number[] }> {
    const s = await this.enc.get(shape.join('x'), () => {
      const g = new Graph(`vae_encode_${shape.join('x')}`);
      const x = new Tensor(g, g.addInput('image', { dtype: 'float32', shape }));
      const p = this.vae.encode(x.mul(2).sub(1));
      g.setOutputs({ mean: p.mean.value, logvar: p.logvar.value });
      return g;
    });
    const out = await s.run({ image: { dtype: 'float32', shape, data: image } });
    return { mean: out.mean.data as Float32Array, logvar: out.logvar.data as Float32Array, shape: [...out.mean.shape] };
  }

  /** latents [1, 4, h, w] (unscaled: divided by the scaling factor here) → image in [0, 1], clamped. */
  async decode(latents: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[] }> {
    const s = await this.dec.get(shape.join('x'), () => {
      const g = new Graph(`vae_decode_${shape.join('x')}`);
      const z = new Tensor(g, g.addInput('latents', { dtype: 'float32', shape }));
      const img = this.vae.decode(z.div(this.scalingFactor));
      g.setOutputs({ image: img.div(2).add(0.5).clip(0, 1).value });
      return g;
    });
    const out = await s.run({ latents: { dtype: 'float32', shape, data: latents } });
    return { image: out.image.data as Float32Array, shape: [...out.image.shape] };
  }

  async release(): Promise<void> {
    await this.enc.release();
    await this.dec.release();
  }
}
