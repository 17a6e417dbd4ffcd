/** Reductions and Softmax. Axes are normalised (non-negative) by the Tensor API. */
import { ShapeError } from '../core/errors.ts';
import { type Shape, numel } from '../core/shape.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { forEachIndex, ref } from './ref-util.ts';
import type { OpAttrs, OpDef, RefTensor } from './types.ts';
import type { Tensor } from './tensor.ts';

type ReduceOps = Pick<OpAttrs, 'ReduceMean' | 'ReduceSum' | 'Softmax'>;
type ReduceAttrs = OpAttrs['ReduceSum'];

function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  return shape.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]));
}

function inferReduce(op: string) {
  return ([t]: readonly TensorType[], a: ReduceAttrs): TensorType[] => {
    for (const ax of a.axes) if (ax < 0 || ax >= t.shape.length) throw new ShapeError(`${op}: axis ${ax} out of range for ${fmtType(t)}`);
    return [{ dtype: t.dtype, shape: reducedShape(t.shape, a.axes, a.keepdims) }];
  };
}

function refReduce(x: RefTensor, a: ReduceAttrs, mean: boolean): RefTensor {
  const keep = reducedShape(x.shape, a.axes, true);
  const out = ref(x.dtype, reducedShape(x.shape, a.axes, a.keepdims));
  const count = numel(x.shape) / numel(keep);
  const ks = keep.map((_, i) => numel(keep.slice(i + 1)));
  forEachIndex(x.shape, (idx, f) => {
    let o = 0;
    for (let i = 0; i < idx.length; i++) if (keep[i] !== 1) o += idx[i] * ks[i];
    out.data[o] += x.data[f];
  });
  if (mean) for (let i = 0; i < out.data.length; i++) out.data[i] /= count;
  return out;
}

/** Gradient of a reduction: the output gradient broadcast back over the reduced axes. */
function reduceVjp(x: Tensor, g: Tensor, a: ReduceAttrs, mean: boolean): Tensor {
  const keep = reducedShape(x.shape, a.axes, true);
  const gk = g.reshape(keep).expand([...x.shape]);
  return mean ? gk.mul(numel(keep) / numel(x.shape)) : gk;
}

export const reduceOps: { [K in keyof ReduceOps]: OpDef<ReduceOps[K]> } = {
  ReduceSum: {
    infer: inferReduce('ReduceSum'),
    lower: (ctx, ins, outs, a) => { ctx.node('ReduceSum', [ins[0], ctx.constI64(a.axes)], [attr('keepdims', a.keepdims ? 1 : 0)], outs); },
    vjp: ({ inputs: [x], grads: [g], attrs }) => [g && reduceVjp(x, g, attrs, false)],
    ref: ([x], a) => [refReduce(x, a, false)],
  },
  ReduceMean: {
    infer: inferReduce('ReduceMean'),
    lower: (ctx, ins, outs, a) => { ctx.node('ReduceMean', [ins[0], ctx.constI64(a.axes)], [attr('keepdims', a.keepdims ? 1 : 0)], outs); },
    vjp: ({ inputs: [x], grads: [g], attrs }) => [g && reduceVjp(x, g, attrs, true)],
    ref: ([x], a) => [refReduce(x, a, true)],
  },
  Softmax: {
    infer: ([t], a) => {
      if (a.axis < 0 || a.axis >= t.shape.length) throw new ShapeError(`Softmax: axis ${a.axis} out of range for ${fmtType(t)}`);
      return [t];
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Softmax', ins, [attr('axis', a.axis)], outs); },
    // dx = y ⊙ (g − Σ_axis g⊙y)
    vjp: ({ outputs: [y], grads: [g], attrs }) => [g && y.mul(g.sub(g.mul(y).sum([attrs.axis], true)))],
    ref: ([x], a) => {
      const out = ref(x.dtype, x.shape);
      const n = x.shape[a.axis], inner = numel(x.shape.slice(a.axis + 1)), outer = numel(x.shape.slice(0, a.axis));
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          const at = (k: number) => (o * n + k) * inner + i;
          let m = -Infinity;
          for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
          let s = 0;
          for (let k = 0; k < n; k++) s += (out.data[at(k)] = Math.exp(x.data[at(k)] - m));
          for (let k = 0; k < n; k++) out.data[at(k)] /= s;
        }
      return [out];
    },
  },
};
