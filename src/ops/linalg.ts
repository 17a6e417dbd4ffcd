/** MatMul (numpy semantics, batch broadcasting) and Gemm (2-D, with transposes and C). */
import { ShapeError } from '../core/errors.ts';
import { broadcastShapes, numel } from '../core/shape.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { ref } from './ref-util.ts';
import type { OpAttrs, OpDef, RefTensor } from './types.ts';

type LinalgOps = Pick<OpAttrs, 'MatMul' | 'Gemm'>;

function matmulShape(a: TensorType, b: TensorType): number[] {
  if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError(`MatMul: operands must have rank ≥ 2, got ${fmtType(a)} and ${fmtType(b)}`);
  if (a.dtype !== b.dtype) throw new ShapeError(`MatMul: dtypes differ (${fmtType(a)}, ${fmtType(b)})`);
  const [m, k] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new ShapeError(`MatMul: inner dimensions differ: ${fmtType(a)} · ${fmtType(b)}`);
  return [...broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)], 'MatMul'), m, n];
}

function refMatmul(a: RefTensor, b: RefTensor): RefTensor {
  const shape = matmulShape(a, b);
  const batch = shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2), n = b.shape[b.shape.length - 1];
  const out = ref(a.dtype, shape);
  const nb = numel(batch);
  // Broadcast batch index → flat batch index of each operand.
  const bidx = (t: RefTensor, flat: number) => {
    const tb = t.shape.slice(0, -2);
    let rem = flat, f = 0, mul = 1;
    for (let i = batch.length - 1; i >= 0; i--) {
      const d = batch[i], id = rem % d;
      rem = Math.floor(rem / d);
      const j = i - (batch.length - tb.length);
      if (j >= 0) {
        if (tb[j] !== 1) f += id * mul;
        mul *= tb[j];
      }
    }
    return f;
  };
  for (let bi = 0; bi < nb; bi++) {
    const ao = bidx(a, bi) * m * k, bo = bidx(b, bi) * k * n, oo = bi * m * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[ao + i * k + p] * b.data[bo + p * n + j];
        out.data[oo + i * n + j] = s;
      }
  }
  return out;
}

function t2(x: RefTensor): RefTensor {
  const [r, c] = x.shape;
  const out = ref(x.dtype, [c, r]);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out.data[j * r + i] = x.data[i * c + j];
  return out;
}

export const linalgOps: { [K in keyof LinalgOps]: OpDef<LinalgOps[K]> } = {
  MatMul: {
    infer: ([a, b]) => [{ dtype: a.dtype, shape: matmulShape(a, b) }],
    lower: (ctx, ins, outs) => { ctx.node('MatMul', ins, [], outs); },
    vjp: ({ inputs: [a, b], grads: [g] }) => (g ? [g.matmul(b.mT()), a.mT().matmul(g)] : [null, null]),
    ref: ([a, b]) => [refMatmul(a, b)],
  },
  Gemm: {
    infer: ([a, b, c], at) => {
      if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError(`Gemm: operands must be 2-D, got ${fmtType(a)} and ${fmtType(b)}`);
      const [m, k] = at.transA ? [a.shape[1], a.shape[0]] : a.shape;
      const [k2, n] = at.transB ? [b.shape[1], b.shape[0]] : b.shape;
      if (k !== k2) throw new ShapeError(`Gemm: inner dimensions differ: ${fmtType(a)}, ${fmtType(b)} (transA ${at.transA}, transB ${at.transB})`);
      if (c) broadcastShapes([c.shape, [m, n]], 'Gemm C');
      return [{ dtype: a.dtype, shape: [m, n] }];
    },
    lower: (ctx, ins, outs, a) => {
      ctx.node('Gemm', ins, [attr('transA', a.transA ? 1 : 0), attr('transB', a.transB ? 1 : 0), attr('alpha', a.alpha, 'float'), attr('beta', a.beta, 'float')], outs);
    },
    vjp: ({ inputs: [a, b, c], grads: [g], attrs }) => {
      if (!g) return [null, null, null];
      const A = attrs.transA ? a.mT() : a, B = attrs.transB ? b.mT() : b;
      const gA = g.matmul(B.mT()).mul(attrs.alpha), gB = A.mT().matmul(g).mul(attrs.alpha);
      return [attrs.transA ? gA.mT() : gA, attrs.transB ? gB.mT() : gB, c ? g.mul(attrs.beta) : null];
    },
    ref: ([a, b, c], at) => {
      const y = refMatmul(at.transA ? t2(a) : a, at.transB ? t2(b) : b);
      for (let i = 0; i < y.data.length; i++) y.data[i] *= at.alpha;
      if (c) {
        const [m, n] = y.shape;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            const ci = (c.shape.length === 2 ? (c.shape[0] === 1 ? 0 : i) * c.shape[1] : 0) + (c.shape[c.shape.length - 1] === 1 ? 0 : j);
            y.data[i * n + j] += at.beta * c.data[c.shape.length === 0 ? 0 : ci];
          }
      }
      return [y];
    },
  },
};
