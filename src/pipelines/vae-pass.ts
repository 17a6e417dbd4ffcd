/**
 * The whole VAE encoder or decoder as one graph per input shape, as the pipeline's VAE stage
 * sees it: `staged` passes take an image in [0, 1] (encode) or latents × scaling factor
 * (decode, clamped to [0, 1] after); raw passes are AutoencoderKL's own encode/decode. WholeVae
 * runs these always, TiledVae when the input fits one tile.
 */
import { InputError } from '../core/errors.ts';
import { Graph } from '../ir/graph.ts';
import type { Autoencoder } from '../models/autoencoders/index.ts';
import { Tensor } from '../ops/tensor.ts';
import type { HostTensor } from '../runtime/session.ts';
import type { GraphCache } from './graph-cache.ts';

export type VaePassKind = 'encode' | 'decode';

/** Checks an input of `who` is [1, channels, H, W] with as many values; returns the shape. */
export function checkVaeInput(who: string, data: Float32Array, shape: readonly number[], channels: number): number[] {
  if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== channels || shape.some((d) => !Number.isInteger(d) || d <= 0))
    throw new InputError(`${who}: shape must be [1, ${channels}, H, W], got [${shape.join(', ')}]`);
  if (data.length !== shape[1] * shape[2] * shape[3]) throw new InputError(`${who}: ${data.length} values do not match shape [${shape.join(', ')}]`);
  return [...shape];
}

/** Input `x` → encode: `mean`, `logvar`; decode: `image`. */
export function traceVaePass(vae: Autoencoder, kind: VaePassKind, staged: boolean, shape: readonly number[]): Graph {
  const g = new Graph(`vae_${kind}_${staged ? 'staged' : 'raw'}_${shape.join('x')}`);
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape }));
  if (kind === 'encode') {
    const p = vae.encode(staged ? x.mul(2).sub(1) : x);
    g.setOutputs({ mean: p.mean.value, logvar: p.logvar.value });
  } else {
    const img = vae.decode(staged ? x.div(vae.config.scalingFactor) : x);
    g.setOutputs({ image: (staged ? img.div(2).add(0.5).clip(0, 1) : img).value });
  }
  return g;
}

/** Runs the pass on `data` with a graph from `cache`. */
export async function runVaePass(cache: GraphCache, vae: Autoencoder, kind: VaePassKind, staged: boolean, shape: readonly number[], data: Float32Array): Promise<Record<string, HostTensor>> {
  const g = await cache.get(`${kind}.${staged ? 'staged' : 'raw'}/${shape.join('x')}`, () => traceVaePass(vae, kind, staged, shape));
  return g.run({ x: { dtype: 'float32', shape, data } });
}
