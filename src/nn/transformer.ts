/**
 * diffusers 0.29.2 `attention.py` / `transformers/transformer_2d.py`: GEGLU FeedForward,
 * BasicTransformerBlock (self-attn → cross-attn → FF, each pre-LayerNorm with a residual),
 * and Transformer2DModel (GroupNorm eps 1e-6 → 1×1 conv or Linear proj_in → blocks →
 * proj_out, plus the outer residual).
 */
import type { Tensor } from '../ops/tensor.ts';
import { Attention } from './attention.ts';
import { Conv2d, Dropout, GroupNorm, LayerNorm, Linear } from './layers.ts';
import { Module, ModuleList } from './module.ts';

/** GELU-gated linear unit: proj → (hidden, gate) → hidden · gelu(gate) (exact, erf). */
export class GEGLU extends Module {
  readonly proj: Linear;
  constructor(dimIn: number, readonly dimOut: number) {
    super();
    this.proj = new Linear(dimIn, dimOut * 2);
  }
  forward(x: Tensor): Tensor {
    const [hidden, gate] = this.proj.forward(x).chunk(2, -1);
    return hidden.mul(gelu(gate));
  }
}

export function gelu(x: Tensor): Tensor {
  return x.mul(x.mul(Math.SQRT1_2).erf().add(1)).mul(0.5);
}

export class FeedForward extends Module {
  readonly net: ModuleList<GEGLU | Dropout | Linear>;
  constructor(dim: number, mult = 4) {
    super();
    const inner = dim * mult;
    this.net = new ModuleList<GEGLU | Dropout | Linear>([new GEGLU(dim, inner), new Dropout(), new Linear(inner, dim)]);
  }
  forward(x: Tensor): Tensor {
    return this.net.items.reduce((h, m) => m.forward(h), x);
  }
}

export interface TransformerBlockOptions {
  dim: number;
  heads: number;
  dimHead: number;
  /** Channels of the cross-attention context. */
  crossAttentionDim: number;
}

export class BasicTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm;
  readonly attn2: Attention;
  readonly norm3: LayerNorm;
  readonly ff: FeedForward;
  constructor(o: TransformerBlockOptions) {
    super();
    this.norm1 = new LayerNorm(o.dim);
    this.attn1 = new Attention({ queryDim: o.dim, heads: o.heads, dimHead: o.dimHead });
    this.norm2 = new LayerNorm(o.dim);
    this.attn2 = new Attention({ queryDim: o.dim, crossAttentionDim: o.crossAttentionDim, heads: o.heads, dimHead: o.dimHead });
    this.norm3 = new LayerNorm(o.dim);
    this.ff = new FeedForward(o.dim);
  }

  /** x [B, N, dim], context [B, M, crossAttentionDim] → [B, N, dim] */
  forward(x: Tensor, context: Tensor): Tensor {
    let h = this.attn1.forward(this.norm1.forward(x)).add(x);
    h = this.attn2.forward(this.norm2.forward(h), context).add(h);
    return this.ff.forward(this.norm3.forward(h)).add(h);
  }
}

export interface Transformer2DOptions {
  heads: number;
  dimHead: number;
  inChannels: number;
  numLayers: number;
  crossAttentionDim: number;
  normGroups: number;
  useLinearProjection: boolean;
}

/** NCHW ⇄ tokens: [B, C, H, W] → [B, H·W, C] */
export function toTokens(x: Tensor): Tensor {
  const [b, c, h, w] = x.shape;
  return x.reshape([b, c, h * w]).transpose([0, 2, 1]);
}

/** [B, H·W, C] → [B, C, H, W] */
export function fromTokens(x: Tensor, h: number, w: number): Tensor {
  const [b, , c] = x.shape;
  return x.transpose([0, 2, 1]).reshape([b, c, h, w]);
}

export class Transformer2DModel extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Conv2d | Linear;
  readonly transformer_blocks: ModuleList<BasicTransformerBlock>;
  readonly proj_out: Conv2d | Linear;
  readonly linear: boolean;

  constructor(o: Transformer2DOptions) {
    super();
    const inner = o.heads * o.dimHead;
    this.linear = o.useLinearProjection;
    this.norm = new GroupNorm(o.normGroups, o.inChannels, 1e-6);
    this.proj_in = o.useLinearProjection ? new Linear(o.inChannels, inner) : new Conv2d(o.inChannels, inner, 1);
    this.transformer_blocks = new ModuleList(
      Array.from({ length: o.numLayers }, () => new BasicTransformerBlock({ dim: inner, heads: o.heads, dimHead: o.dimHead, crossAttentionDim: o.crossAttentionDim })),
    );
    this.proj_out = o.useLinearProjection ? new Linear(inner, o.inChannels) : new Conv2d(inner, o.inChannels, 1);
  }

  /** x [B, C, H, W], context [B, M, D] → [B, C, H, W] */
  forward(x: Tensor, context: Tensor): Tensor {
    const [, , h, w] = x.shape;
    const n = this.norm.forward(x);
    let t = this.linear ? this.proj_in.forward(toTokens(n)) : toTokens(this.proj_in.forward(n));
    for (const blk of this.transformer_blocks.items) t = blk.forward(t, context);
    const out = this.linear ? fromTokens(this.proj_out.forward(t), h, w) : this.proj_out.forward(fromTokens(t, h, w));
    return out.add(x);
  }
}
