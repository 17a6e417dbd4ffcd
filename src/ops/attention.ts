/**
 * Fused multi-head attention: softmax(q·kᵀ·scale)·v per head over [B, N, h·d] / [B, M, h·d]
 * tensors. Lowered to onnxruntime's com.microsoft MultiHeadAttention, which on CPU never
 * materialises the N×M score matrix (measured at B=2, N=M=4096, 8 heads: ~0.2 GiB peak vs
 * ~2.3 GiB for MatMul/Softmax, and faster), or, where the target asks for it (WebGPU adapters
 * that compute that op wrong, src/engine/lowering.ts), to MatMul/Softmax/MatMul chunked over
 * queries; the vjp and the reference are the decomposition.
 */
import { ShapeError } from '../core/errors.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { ref } from './ref-util.ts';
import { type Tensor, concat } from './tensor.ts';

import { mergeHeads, splitHeads } from './heads.ts';
import type { LowerCtx, OpAttrs, OpDef } from './types.ts';

/** Score bytes per query chunk in the attention vjp. */
const BACKWARD_CHUNK_BYTES = 64 * 2 ** 20;

type AttnOps = Pick<OpAttrs, 'MultiHeadAttention'>;

/** Queries per chunk so that one chunk's scores [B, h, chunk, M] (4-byte elements) stay within `bytes`. */
export function queryChunk(b: number, h: number, n: number, m: number, bytes: number): number {
  return Math.max(1, Math.min(n, Math.floor(bytes / (4 * b * h * m))));
}

/**
 * The attention core as plain ONNX: q pre-scaled (smaller scores: fp16 keeps its range),
 * heads split, then per chunk of queries MatMul → Softmax → MatMul, the chunks concatenated.
 * Each chunk's scores are dead once its output exists, so onnxruntime's allocator reuses them.
 */
function lowerChunked(ctx: LowerCtx, [q, k, v]: readonly string[], outs: readonly string[], a: OpAttrs['MultiHeadAttention'], [tq, tk, tv]: readonly TensorType[], bytes: number): void {
  const [b, n, c] = tq.shape, m = tk.shape[1], e = tv.shape[2], h = a.heads;
  const d = c / h, dv = e / h;
  const split = (x: string, len: number, dim: number, perm: number[]) =>
    ctx.node('Transpose', [ctx.node('Reshape', [x, ctx.constI64([b, len, h, dim])])[0]], [attr('perm', perm)])[0];
  const [qs] = ctx.node('Mul', [q, ctx.constFloat([a.scale], tq.dtype, [])]);
  const Q = split(qs, n, d, [0, 2, 1, 3]); // [B, h, N, d]
  const Kt = split(k, m, d, [0, 2, 3, 1]); // [B, h, d, M]
  const V = split(v, m, dv, [0, 2, 1, 3]); // [B, h, M, e/h]
  const chunk = queryChunk(b, h, n, m, bytes);
  const parts: string[] = [];
  for (let s = 0; s < n; s += chunk) {
    const Qc = chunk >= n ? Q : ctx.node('Slice', [Q, ctx.constI64([s]), ctx.constI64([Math.min(n, s + chunk)]), ctx.constI64([2])])[0];
    const [scores] = ctx.node('MatMul', [Qc, Kt]); // [B, h, chunk, M]
    const [p] = ctx.node('Softmax', [scores], [attr('axis', -1)]);
    parts.push(ctx.node('MatMul', [p, V])[0]); // [B, h, chunk, e/h]
  }
  const [o] = parts.length === 1 ? parts : ctx.node('Concat', parts, [attr('axis', 2)]);
  const [merged] = ctx.node('Transpose', [o], [attr('perm', [0, 2, 1, 3])]); // [B, N, h, e/h]
  ctx.node('Reshape', [merged, ctx.constI64([b, n, e])], [], outs);
}

export const attentionOps: { [K in keyof AttnOps]: OpDef<AttnOps[K]> } = {
  MultiHeadAttention: {
    infer: ([q, k, v], a) => {
      const ok = q.shape.length === 3 && k.shape.length === 3 && v.shape.length === 3 && q.shape[0] === k.shape[0] && k.shape[0] === v.shape[0] &&
        k.shape[1] === v.shape[1] && q.shape[2] === k.shape[2] && q.shape[2] % a.heads === 0 && v.shape[2] % a.heads === 0 &&
        q.dtype === k.dtype && k.dtype === v.dtype;
      if (!ok) throw new ShapeError(`MultiHeadAttention(${a.heads} heads): q ${fmtType(q)}, k ${fmtType(k)}, v ${fmtType(v)} do not fit [B,N,h·d], [B,M,h·d], [B,M,h·e]`);
      return [{ dtype: q.dtype, shape: [q.shape[0], q.shape[1], v.shape[2]] }];
    },
    lower: (ctx, ins, outs, a, types) => {
      const t = ctx.target.attention;
      if (t.kind === 'fused') ctx.node('MultiHeadAttention', ins, [attr('num_heads', a.heads), attr('scale', a.scale, 'float')], outs, 'com.microsoft');
      else lowerChunked(ctx, ins, outs, a, types, t.scoreBytes);
    },
    // The backward pass recomputes the probabilities one chunk of queries at a time, so its
    // memory is bounded like the fused forward's (a whole [B, h, N, M] map at N = M = 4096,
    // batch 2, 8 heads would be 1 GiB per attention, kept for every layer during training).
    vjp: ({ inputs: [q, k, v], grads: [g], attrs: a }) => {
      if (!g) return [null, null, null];
      const [Q, K, V, G] = [splitHeads(q, a.heads), splitHeads(k, a.heads), splitHeads(v, a.heads), splitHeads(g, a.heads)];
      const [b, h, n, m] = [Q.shape[0], a.heads, Q.shape[2], K.shape[2]];
      const chunk = a.backwardChunk ?? queryChunk(b, h, n, m, BACKWARD_CHUNK_BYTES);
      const dQs: Tensor[] = [];
      let dK: Tensor | null = null, dV: Tensor | null = null;
      for (let s = 0; s < n; s += chunk) {
        const e = Math.min(n, s + chunk);
        const [Qc, Gc] = n <= chunk ? [Q, G] : [Q.slice(2, s, e), G.slice(2, s, e)];
        const P = Qc.matmul(K.mT()).mul(a.scale).softmax(-1); // [B, h, chunk, M]
        const dP = Gc.matmul(V.mT());
        const dS = P.mul(dP.sub(dP.mul(P).sum([3], true))).mul(a.scale);
        dQs.push(dS.matmul(K));
        const dKc = dS.mT().matmul(Qc), dVc = P.mT().matmul(Gc);
        dK = dK ? dK.add(dKc) : dKc;
        dV = dV ? dV.add(dVc) : dVc;
      }
      return [mergeHeads(concat(dQs, 2)), mergeHeads(dK!), mergeHeads(dV!)];
    },
    ref: ([q, k, v], a) => {
      const [b, n, c] = q.shape, m = k.shape[1], e = v.shape[2];
      const d = c / a.heads, dv = e / a.heads;
      const out = ref(q.dtype, [b, n, e]);
      const s = new Float64Array(m);
      for (let bi = 0; bi < b; bi++)
        for (let h = 0; h < a.heads; h++)
          for (let i = 0; i < n; i++) {
            let mx = -Infinity;
            for (let j = 0; j < m; j++) {
              let dot = 0;
              for (let t = 0; t < d; t++) dot += q.data[(bi * n + i) * c + h * d + t] * k.data[(bi * m + j) * c + h * d + t];
              s[j] = dot * a.scale;
              mx = Math.max(mx, s[j]);
            }
            let z = 0;
            for (let j = 0; j < m; j++) z += (s[j] = Math.exp(s[j] - mx));
            for (let t = 0; t < dv; t++) {
              let acc = 0;
              for (let j = 0; j < m; j++) acc += s[j] * v.data[(bi * m + j) * e + h * dv + t];
              out.data[(bi * n + i) * e + h * dv + t] = acc / z;
            }
          }
      return [out];
    },
  },
};
