/**
 * diffusers 0.29.2 `Attention` with `AttnProcessor` semantics: q from the hidden states,
 * k/v from the context (self-attention when none), scores = q·kᵀ·dim_head^-0.5, softmax over
 * keys, ·v, then `to_out.0` (Linear with bias) and `to_out.1` (Dropout). The core runs as the
 * fused MultiHeadAttention op (src/ops/attention.ts): bounded memory for the 4096-token
 * self- and pixel-aware attentions of a 64×64 latent. `lowering = 'unfused'` traces the
 * plain MatMul → Softmax → MatMul form instead (the before-case of bench/run.ts).
 */
import { type Tensor, apply1 } from '../ops/tensor.ts';
import { mergeHeads, splitHeads } from '../ops/heads.ts';
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


export class Attention extends Module {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: ModuleList<Linear | Dropout>;
  readonly heads: number;
  readonly scale: number;
  /** How the attention core is traced: the fused op (default) or MatMul/Softmax/MatMul. */
  lowering: 'fused' | 'unfused' = 'fused';

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
      const o = this.lowering === 'fused'
        ? apply1('MultiHeadAttention', qkv, { heads: this.heads, scale: this.scale })
        : mergeHeads(splitHeads(qkv[0], this.heads).matmul(splitHeads(qkv[1], this.heads).mT()).mul(this.scale).softmax(-1).matmul(splitHeads(qkv[2], this.heads)));
      return this.to_out.items.reduce((x, m) => m.forward(x), o);
    });
  }
}
