/**
 * Timestep embeddings (diffusers 0.29.2 `embeddings.py`): the sinusoidal `Timesteps`
 * projection and the `TimestepEmbedding` MLP (linear_1 → SiLU → linear_2).
 */
import type { Tensor } from '../ops/tensor.ts';
import { concat, constOf } from '../ops/tensor.ts';
import { Linear } from './layers.ts';
import { Module } from './module.ts';

/**
 * Frequencies of `get_timestep_embedding`, rounded step by step as torch computes them in
 * float32: exponent = −ln(max_period)·arange(half)/(half − shift), freq = exp(exponent).
 */
export function timestepFrequencies(dim: number, shift: number, maxPeriod = 10000): number[] {
  const half = Math.floor(dim / 2);
  const c = Math.fround(-Math.log(maxPeriod));
  return Array.from({ length: half }, (_, i) => Math.fround(Math.exp(Math.fround(Math.fround(c * i) / Math.fround(half - shift)))));
}

/** `Timesteps` (no parameters): t [N] (int64 or float) → [N, dim]. */
export class Timesteps extends Module {
  constructor(readonly dim: number, readonly flipSinToCos: boolean, readonly downscaleFreqShift: number) {
    super();
  }

  forward(t: Tensor): Tensor {
    const g = t.graph;
    const freqs = constOf(g, timestepFrequencies(this.dim, this.downscaleFreqShift), 'float32', [1, Math.floor(this.dim / 2)]);
    const args = t.cast('float32').reshape([-1, 1]).mul(freqs); // [N, half]
    const [sin, cos] = [args.sin(), args.cos()];
    const parts = this.flipSinToCos ? [cos, sin] : [sin, cos];
    return concat(parts, -1);
  }
}

export class TimestepEmbedding extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;
  constructor(inChannels: number, timeEmbedDim: number) {
    super();
    this.linear_1 = new Linear(inChannels, timeEmbedDim);
    this.linear_2 = new Linear(timeEmbedDim, timeEmbedDim);
  }

  forward(x: Tensor): Tensor {
    return this.linear_2.forward(this.linear_1.forward(x).silu());
  }
}

/** diffusers' `added_cond_kwargs` for `addition_embed_type: "text_time"` (SDXL). */
export interface TextTimeConditions {
  /** Pooled text embedding [B, P]. */
  readonly textEmbeds: Tensor;
  /** [B, 6]: original size (h, w), crop top-left (y, x), target size (h, w). */
  readonly timeIds: Tensor;
}

/**
 * diffusers `get_aug_embed` for "text_time": `add_time_proj(time_ids.flatten())` reshaped to
 * [B, 6·d], concatenated after text_embeds, through `add_embedding` → [B, time_embed_dim].
 */
export function textTimeEmbedding(proj: Timesteps, embedding: TimestepEmbedding, c: TextTimeConditions): Tensor {
  const [b] = c.textEmbeds.shape;
  const time = proj.forward(c.timeIds.reshape([-1])).reshape([b, -1]); // [B·6, d] → [B, 6·d]
  return embedding.forward(concat([c.textEmbeds, time], -1));
}
