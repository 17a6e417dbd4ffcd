/**
 * diffusers 0.29.2 `Attention` with `AttnProcessor` semantics: q from the hidden states,
 * k/v from the context (self-attention when none), scores = q·kᵀ·dim_head^-0.5, softmax over
 * keys, ·v, then `to_out.0` (Linear with bias) and `to_out.1` (Dropout). The core runs as the
 * fused MultiHeadAttention op (src/ops/attention.ts): bounded memory for the 4096-token
 * self- and pixel-aware attentions of a 64×64 latent.
 */
import { type Tensor, apply1 } from '../ops/tensor.ts';
import { Dropout, Linear } from './layers.ts';
import { Module, ModuleList } from './module.ts';

export interface AttentionOptions {
  queryDim: number;
  /** Context channels (cross-attention); defaults to queryDim. */
  crossAttentionDim?: number;
  heads: number;
  dimHead: number;
  /** Bias of to_q/to_k/to_v (diffusers default false). */
  qkvBias?: boolean;
  outBias?: boolean;
}

/** [B, N, h·d] → [B, h, N, d] */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, n, c] = x.shape;
  return x.reshape([b, n, heads, c / heads]).transpose([0, 2, 1, 3]);
}

/** [B, h, N, d] → [B, N, h·d] */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, n, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([b, n, h * d]);
}

export class Attention extends Module {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: ModuleList<Linear | Dropout>;
  readonly heads: number;
  readonly scale: number;

  constructor(o: AttentionOptions) {
    super();
    const inner = o.heads * o.dimHead;
    const ctx = o.crossAttentionDim ?? o.queryDim;
    this.heads = o.heads;
    this.scale = o.dimHead ** -0.5;
    this.to_q = new Linear(o.queryDim, inner, o.qkvBias ?? false);
    this.to_k = new Linear(ctx, inner, o.qkvBias ?? false);
    this.to_v = new Linear(ctx, inner, o.qkvBias ?? false);
    this.to_out = new ModuleList<Linear | Dropout>([new Linear(inner, o.queryDim, o.outBias ?? true), new Dropout()]);
  }

  /** hidden [B, N, queryDim], context [B, M, ctxDim] or null → [B, N, queryDim] */
  forward(hidden: Tensor, context: Tensor | null = null): Tensor {
    return this.scoped(hidden.graph, () => {
      const c = context ?? hidden;
      const qkv = [this.to_q.forward(hidden), this.to_k.forward(c), this.to_v.forward(c)];
      const o = apply1('MultiHeadAttention', qkv, { heads: this.heads, scale: this.scale });
      return this.to_out.items.reduce((x, m) => m.forward(x), o);
    });
  }
}
