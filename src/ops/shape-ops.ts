/** Movement ops: Reshape, Transpose, Concat, Slice, Split, Gather, Expand, and Constant. */
import { ShapeError } from '../core/errors.ts';
import { type Shape, broadcastShapes, fmtShape, numel, strides } from '../core/shape.ts';
import { fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { forEachIndex, ref } from './ref-util.ts';
import { concat, constOf, scalar, where, zerosLike } from './tensor.ts';
import type { OpAttrs, OpDef, RefTensor } from './types.ts';

type ShapeOps = Pick<OpAttrs, 'Reshape' | 'Transpose' | 'Concat' | 'Slice' | 'Split' | 'Gather' | 'Expand' | 'Constant'>;

/** Resolved [start, end, step] of one sliced axis, as ONNX/numpy clamp them. */
export function sliceRange(dim: number, start: number, end: number, step: number): [number, number, number] {
  if (step === 0) throw new ShapeError('Slice: step 0');
  const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
  return step > 0 ? [clampIdx(start, 0, dim), clampIdx(end, 0, dim), step] : [clampIdx(start, 0, dim - 1), clampIdx(end, -1, dim - 1), step];
}

function sliceLen([s, e, st]: [number, number, number]): number {
  return Math.max(0, Math.ceil((e - s) / st));
}

export const shapeOps: { [K in keyof ShapeOps]: OpDef<ShapeOps[K]> } = {
  Reshape: {
    infer: ([t], a) => {
      if (numel(a.shape) !== numel(t.shape)) throw new ShapeError(`Reshape: ${fmtType(t)} cannot become ${fmtShape(a.shape)}`);
      return [{ dtype: t.dtype, shape: [...a.shape] }];
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Reshape', [ins[0], ctx.constI64(a.shape)], [], outs); },
    vjp: ({ inputs: [x], grads: [g] }) => [g && g.reshape([...x.shape])],
    ref: ([x], a) => [ref(x.dtype, a.shape, x.data.slice())],
  },
  Transpose: {
    infer: ([t], a) => {
      if (a.perm.length !== t.shape.length || [...a.perm].sort().some((p, i) => p !== i))
        throw new ShapeError(`Transpose: perm [${a.perm.join(',')}] does not fit ${fmtType(t)}`);
      return [{ dtype: t.dtype, shape: a.perm.map((p) => t.shape[p]) }];
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Transpose', ins, [attr('perm', a.perm)], outs); },
    vjp: ({ grads: [g], attrs }) => {
      const inv = new Array<number>(attrs.perm.length);
      attrs.perm.forEach((p, i) => { inv[p] = i; });
      return [g && g.transpose(inv)];
    },
    ref: ([x], a) => {
      const outShape = a.perm.map((p) => x.shape[p]);
      const st = strides(x.shape);
      const out = ref(x.dtype, outShape);
      forEachIndex(outShape, (idx, f) => {
        let s = 0;
        for (let i = 0; i < idx.length; i++) s += idx[i] * st[a.perm[i]];
        out.data[f] = x.data[s];
      });
      return [out];
    },
  },
  Concat: {
    infer: (ins, a) => {
      const r = ins[0].shape;
      for (const t of ins)
        if (t.dtype !== ins[0].dtype || t.shape.length !== r.length || t.shape.some((d, i) => i !== a.axis && d !== r[i]))
          throw new ShapeError(`Concat(axis ${a.axis}): incompatible ${ins.map(fmtType).join(', ')}`);
      const shape = [...r];
      shape[a.axis] = ins.reduce((s, t) => s + t.shape[a.axis], 0);
      return [{ dtype: ins[0].dtype, shape }];
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Concat', ins, [attr('axis', a.axis)], outs); },
    vjp: ({ inputs, grads: [g], attrs }) => {
      if (!g) return inputs.map(() => null);
      return g.split(attrs.axis, inputs.map((t) => t.shape[attrs.axis]));
    },
    ref: (ins, a) => {
      const shape = [...ins[0].shape];
      shape[a.axis] = ins.reduce((s, t) => s + t.shape[a.axis], 0);
      const out = ref(ins[0].dtype, shape);
      const outer = numel(shape.slice(0, a.axis));
      let pos = 0;
      for (let o = 0; o < outer; o++)
        for (const t of ins) {
          const chunk = numel(t.shape.slice(a.axis));
          out.data.set(t.data.subarray(o * chunk, (o + 1) * chunk), pos);
          pos += chunk;
        }
      return [out];
    },
  },
  Slice: {
    infer: ([t], a) => {
      const shape = [...t.shape];
      a.axes.forEach((ax, i) => { shape[ax] = sliceLen(sliceRange(t.shape[ax], a.starts[i], a.ends[i], a.steps[i])); });
      return [{ dtype: t.dtype, shape }];
    },
    lower: (ctx, ins, outs, a) => {
      ctx.node('Slice', [ins[0], ctx.constI64(a.starts), ctx.constI64(a.ends), ctx.constI64(a.axes), ctx.constI64(a.steps)], [], outs);
    },
    vjp: ({ inputs: [x], grads: [g], attrs }) => {
      if (!g) return [null];
      // Scatter back by zero padding; a strided slice first interleaves zeros through Pad+Reshape.
      let y = g;
      const pads = new Array<number>(2 * x.rank).fill(0);
      for (let i = 0; i < attrs.axes.length; i++) {
        const ax = attrs.axes[i];
        const [s, e, st] = sliceRange(x.shape[ax], attrs.starts[i], attrs.ends[i], attrs.steps[i]);
        const n = sliceLen([s, e, st]);
        if (st < 0) throw new ShapeError('Slice vjp: negative steps are not differentiable here');
        if (st > 1 && n > 0) {
          // [.., n, ..] → [.., n, 1, ..] → pad to [.., n, st, ..] → [.., n·st, ..] → keep what fits.
          const sh = [...y.shape];
          const expanded = [...sh.slice(0, ax), n, 1, ...sh.slice(ax + 1)];
          const p = new Array<number>(2 * expanded.length).fill(0);
          p[expanded.length + ax + 1] = st - 1;
          y = y.reshape(expanded).pad(p).reshape([...sh.slice(0, ax), n * st, ...sh.slice(ax + 1)]);
          y = y.slice(ax, 0, Math.min(n * st, x.shape[ax] - s));
        }
        pads[ax] = s;
        pads[x.rank + ax] = x.shape[ax] - s - y.shape[ax];
      }
      return [y.pad(pads)];
    },
    ref: ([x], a) => {
      const ranges = x.shape.map((d) => [0, d, 1] as [number, number, number]);
      a.axes.forEach((ax, i) => { ranges[ax] = sliceRange(x.shape[ax], a.starts[i], a.ends[i], a.steps[i]); });
      const shape = ranges.map(sliceLen);
      const st = strides(x.shape);
      const out = ref(x.dtype, shape);
      forEachIndex(shape, (idx, f) => {
        let s = 0;
        for (let i = 0; i < idx.length; i++) s += (ranges[i][0] + idx[i] * ranges[i][2]) * st[i];
        out.data[f] = x.data[s];
      });
      return [out];
    },
  },
  Split: {
    infer: ([t], a) => {
      if (a.split.reduce((s, v) => s + v, 0) !== t.shape[a.axis]) throw new ShapeError(`Split: sizes [${a.split.join(',')}] do not sum to axis ${a.axis} of ${fmtType(t)}`);
      return a.split.map((n) => ({ dtype: t.dtype, shape: t.shape.map((d, i) => (i === a.axis ? n : d)) }));
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Split', [ins[0], ctx.constI64(a.split)], [attr('axis', a.axis)], outs); },
    vjp: ({ outputs, grads, attrs }) => {
      if (grads.every((g) => !g)) return [null];
      const parts = grads.map((g, i) => g ?? zerosLike(outputs[i]));
      return [concat(parts, attrs.axis)];
    },
    ref: ([x], a) => {
      let start = 0;
      return a.split.map((n) => {
        const r = shapeOps.Slice.ref([x], { starts: [start], ends: [start + n], axes: [a.axis], steps: [1] })[0];
        start += n;
        return r;
      });
    },
  },
  Gather: {
    infer: ([d, i], a) => {
      if (i.dtype !== 'int64' && i.dtype !== 'int32') throw new ShapeError(`Gather: indices must be int64/int32, got ${fmtType(i)}`);
      return [{ dtype: d.dtype, shape: [...d.shape.slice(0, a.axis), ...i.shape, ...d.shape.slice(a.axis + 1)] }];
    },
    lower: (ctx, ins, outs, a) => { ctx.node('Gather', ins, [attr('axis', a.axis)], outs); },
    vjp: ({ inputs: [d, i], grads: [g], attrs }) => {
      if (!g) return [null, null];
      // grad_data = onehotᵀ · g along the gathered axis: onehot[k, j] = (indices[k] == j).
      const n = d.shape[attrs.axis];
      const k = numel(i.shape);
      const iota = constOf(d.graph, [...Array(n).keys()], i.dtype, [1, n]);
      const ii = i.reshape([k, 1]);
      const differs = ii.sub(iota).abs().greater(constOf(d.graph, [0], i.dtype, []));
      const oh = where(differs, scalar(d.graph, 0, g.dtype), scalar(d.graph, 1, g.dtype)); // [k, n]
      const pre = d.shape.slice(0, attrs.axis), post = d.shape.slice(attrs.axis + 1);
      // g: [...pre, k, ...post] → [pre, k, post] → grad [pre, n, post]
      const g3 = g.reshape([numel(pre), k, numel(post)]);
      const gd = oh.mT().matmul(g3); // [n,k]·[P,k,Q] broadcast → [P, n, Q]
      return [gd.reshape([...pre, n, ...post]), null];
    },
    ref: ([d, i], a) => {
      const pre = numel(d.shape.slice(0, a.axis)), n = d.shape[a.axis], post = numel(d.shape.slice(a.axis + 1));
      const k = i.data.length;
      const out = ref(d.dtype, [...d.shape.slice(0, a.axis), ...i.shape, ...d.shape.slice(a.axis + 1)]);
      for (let p = 0; p < pre; p++)
        for (let j = 0; j < k; j++) {
          let idx = i.data[j];
          if (idx < 0) idx += n;
          if (idx < 0 || idx >= n) throw new ShapeError(`Gather: index ${i.data[j]} out of range for axis size ${n}`);
          for (let q = 0; q < post; q++) out.data[(p * k + j) * post + q] = d.data[(p * n + idx) * post + q];
        }
      return [out];
    },
  },
  Expand: {
    infer: ([t], a) => [{ dtype: t.dtype, shape: broadcastShapes([t.shape, a.shape], 'Expand') }],
    lower: (ctx, ins, outs, a) => { ctx.node('Expand', [ins[0], ctx.constI64(a.shape)], [], outs); },
    vjp: ({ grads: [g] }) => [g],
    ref: ([x], a) => {
      const shape: Shape = broadcastShapes([x.shape, a.shape]);
      return [broadcastTo(x, shape)];
    },
  },
  Constant: {
    infer: (_, a) => {
      if (a.data.length !== numel(a.shape)) throw new ShapeError(`Constant: ${a.data.length} values for shape ${fmtShape(a.shape)}`);
      return [{ dtype: a.dtype, shape: a.shape }];
    },
    lower: (ctx, _ins, outs, a) => { ctx.node('Identity', [ctx.constData(a.data, a.dtype, a.shape)], [], outs); },
    vjp: 'nondifferentiable',
    ref: (_, a) => [ref(a.dtype, a.shape, Float64Array.from(a.data as ArrayLike<number | bigint>, (v) => Number(v)))],
  },
};

function broadcastTo(x: RefTensor, shape: Shape): RefTensor {
  const off = shape.length - x.shape.length;
  const st = strides(x.shape);
  const out = ref(x.dtype, shape);
  forEachIndex(shape, (idx, f) => {
    let s = 0;
    for (let i = 0; i < x.shape.length; i++) if (x.shape[i] !== 1) s += idx[i + off] * st[i];
    out.data[f] = x.data[s];
  });
  return out;
}
