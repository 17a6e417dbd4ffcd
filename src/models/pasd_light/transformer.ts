/**
 * PASD-light's pixel-aware transformer (yangxy/PASD `pasd/models/pasd_light/transformer_2d.py`
 * and `attention.py`): diffusers' Transformer2DModel / BasicTransformerBlock with a third
 * attention. Each block runs self-attention → text cross-attention (attn2) → pixel
 * cross-attention (`norm2_plus`, `attn2_plus`) to the ControlNet residual → feed-forward,
 * each pre-LayerNorm with a residual. The residual enters through `proj_in_plus` (a 1×1 conv,
 * or a Linear with use_linear_projection), with no normalisation.
 */
import { ShapeError } from '../../core/errors.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { Attention } from '../../nn/attention.ts';
import { Conv2d, GroupNorm, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { FeedForward, fromTokens, toTokens } from '../../nn/transformer.ts';

export interface PixelAwareTransformerOptions {
  heads: number;
  dimHead: number;
  inChannels: number;
  numLayers: number;
  crossAttentionDim: number;
  /** Channels of the ControlNet residual (= the skip connection's channels). */
  pixelChannels: number;
  normGroups: number;
  useLinearProjection: boolean;
}

export class PixelAwareTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm;
  readonly attn2: Attention;
  readonly norm2_plus: LayerNorm;
  readonly attn2_plus: Attention;
  readonly norm3: LayerNorm;
  readonly ff: FeedForward;

  constructor(dim: number, heads: number, dimHead: number, crossAttentionDim: number, pixelChannels: number) {
    super();
    this.norm1 = new LayerNorm(dim);
    this.attn1 = new Attention({ queryDim: dim, heads, dimHead });
    this.norm2 = new LayerNorm(dim);
    this.attn2 = new Attention({ queryDim: dim, crossAttentionDim, heads, dimHead });
    this.norm2_plus = new LayerNorm(dim);
    this.attn2_plus = new Attention({ queryDim: dim, crossAttentionDim: pixelChannels, heads, dimHead });
    this.norm3 = new LayerNorm(dim);
    this.ff = new FeedForward(dim);
  }

  /** x [B, N, dim], text [B, M, D], pixel tokens [B, N', pixelChannels] → [B, N, dim] */
  forward(x: Tensor, text: Tensor, pixel: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      let h = this.attn1.forward(this.norm1.forward(x)).add(x);
      h = this.attn2.forward(this.norm2.forward(h), text).add(h);
      h = this.attn2_plus.forward(this.norm2_plus.forward(h), pixel).add(h);
      return this.ff.forward(this.norm3.forward(h)).add(h);
    });
  }
}

export class PixelAwareTransformer2DModel extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Conv2d | Linear;
  readonly proj_in_plus: Conv2d | Linear;
  readonly transformer_blocks: ModuleList<PixelAwareTransformerBlock>;
  readonly proj_out: Conv2d | Linear;
  readonly linear: boolean;

  constructor(o: PixelAwareTransformerOptions) {
    super();
    const inner = o.heads * o.dimHead, p = o.pixelChannels;
    this.linear = o.useLinearProjection;
    this.norm = new GroupNorm(o.normGroups, o.inChannels, 1e-6);
    this.proj_in = this.linear ? new Linear(o.inChannels, inner) : new Conv2d(o.inChannels, inner, 1);
    this.proj_in_plus = this.linear ? new Linear(p, p) : new Conv2d(p, p, 1);
    this.transformer_blocks = new ModuleList(Array.from({ length: o.numLayers }, () =>
      new PixelAwareTransformerBlock(inner, o.heads, o.dimHead, o.crossAttentionDim, p)));
    this.proj_out = this.linear ? new Linear(inner, o.inChannels) : new Conv2d(inner, o.inChannels, 1);
  }

  /** x [B, C, H, W], text [B, M, D], pixel (ControlNet residual) [B, P, H', W'] → [B, C, H, W] */
  forward(x: Tensor, text: Tensor, pixel: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      const [b, , h, w] = x.shape;
      // Upstream reshapes the residual with the features' (b, h·w): it must be that size.
      if (pixel.shape[0] !== b || pixel.shape[2] !== h || pixel.shape[3] !== w)
        throw new ShapeError(`${this.path}: ControlNet residual [${pixel.shape.join(', ')}] must have batch ${b} and size ${h}×${w} like the features`);
      const n = this.norm.forward(x);
      let t = this.linear ? this.proj_in.forward(toTokens(n)) : toTokens(this.proj_in.forward(n));
      const p = this.linear ? this.proj_in_plus.forward(toTokens(pixel)) : toTokens(this.proj_in_plus.forward(pixel));
      for (const blk of this.transformer_blocks.items) t = blk.forward(t, text, p);
      const out = this.linear ? fromTokens(this.proj_out.forward(t), h, w) : this.proj_out.forward(fromTokens(t, h, w));
      return out.add(x);
    });
  }
}
