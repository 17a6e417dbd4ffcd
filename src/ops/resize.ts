/**
 * Resize (the last two axes) and Pad.
 *
 * Resize follows torch.nn.functional.interpolate called with `size` (torch 1.13
 * aten/src/ATen/native/UpSample.h): 'nearest' takes src = min(floor(dst · in/out), in−1)
 * (ONNX: coordinate_transformation_mode 'asymmetric', nearest_mode 'floor'); 'linear' is
 * bilinear with align_corners=False, antialias off: src = (dst + ½)·in/out − ½, clamped
 * below at 0, the upper neighbour clamped to in−1. ONNX 'half_pixel' gives exactly that in
 * onnxruntime (it clamps the source coordinate to [0, in−1]); 'pytorch_half_pixel' would
 * differ from torch for an output length of 1. Per axis the resize is a constant linear map,
 * so its vjp is two MatMuls with the transposed interpolation matrices.
 */
import { ShapeError } from '../core/errors.ts';
import { numel } from '../core/shape.ts';
import { fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { forEachIndex, ref } from './ref-util.ts';
import { type Tensor, constOf, hostArrayOf } from './tensor.ts';
import type { OpAttrs, OpDef, RefTensor, ResizeMode } from './types.ts';

type ResizeOps = Pick<OpAttrs, 'Resize' | 'Pad'>;

/** The [out, in] row-major matrix M with y = M · x along one axis. */
export function interpMatrix(inSize: number, outSize: number, mode: ResizeMode): Float64Array {
  const m = new Float64Array(outSize * inSize);
  // torch computes the scale in float32 (compute_scales_value); nearest indices depend on it.
  const scale = Math.fround(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    if (mode === 'nearest') {
      const s = inSize === outSize ? d : Math.min(Math.floor(Math.fround(d * scale)), inSize - 1);
      m[d * inSize + s] = 1;
      continue;
    }
    const src = Math.max(scale * (d + 0.5) - 0.5, 0);
    const i0 = Math.floor(src), i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
    const l1 = src - i0;
    m[d * inSize + i0] += 1 - l1;
    m[d * inSize + i1] += l1;
  }
  return m;
}

/** Applies the [out, in] matrix `m` along `axis` of `x`. */
function refAlongAxis(x: RefTensor, axis: number, m: Float64Array, outSize: number): RefTensor {
  const inSize = x.shape[axis];
  const pre = numel(x.shape.slice(0, axis)), post = numel(x.shape.slice(axis + 1));
  const out = ref(x.dtype, x.shape.map((d, i) => (i === axis ? outSize : d)));
  for (let p = 0; p < pre; p++)
    for (let o = 0; o < outSize; o++)
      for (let i = 0; i < inSize; i++) {
        const w = m[o * inSize + i];
        if (w === 0) continue;
        for (let q = 0; q < post; q++) out.data[(p * outSize + o) * post + q] += w * x.data[(p * inSize + i) * post + q];
      }
  return out;
}

/** Source index of padded position `i` along an axis of length n with `begin` padding; -1: the constant. */
function padSource(i: number, n: number, begin: number, mode: OpAttrs['Pad']['mode']): number {
  const j = i - begin;
  if (j >= 0 && j < n) return j;
  if (mode === 'constant') return -1;
  if (mode === 'edge') return j < 0 ? 0 : n - 1;
  return j < 0 ? -j : 2 * (n - 1) - j; // reflect: mirrored about the edge, edge not repeated
}

/** Zero pads of a rank-r tensor with `begin`/`end` on one axis, in ONNX order. */
function axisPads(rank: number, axis: number, begin: number, end: number): number[] {
  const p = new Array<number>(2 * rank).fill(0);
  p[axis] = begin;
  p[rank + axis] = end;
  return p;
}

/**
 * Gradient of Pad along one axis (n input positions, `b`/`e` padded): the interior slice, plus
 * the borders folded back onto the positions they copied — mirrored for reflect, summed onto
 * the edge element for edge.
 */
function padVjpAxis(g: Tensor, axis: number, n: number, b: number, e: number, mode: OpAttrs['Pad']['mode']): Tensor {
  let dx = g.slice(axis, b, b + n);
  if (mode === 'constant') return dx;
  const r = g.rank, len = g.shape[axis];
  if (b > 0) {
    const lead = mode === 'edge' ? g.slice(axis, 0, b).sum([axis], true) : g.slice(axis, b - 1, -len - 1, -1); // reflect: x[1..b] in order
    dx = dx.add(lead.pad(mode === 'edge' ? axisPads(r, axis, 0, n - 1) : axisPads(r, axis, 1, n - 1 - b)));
  }
  if (e > 0) {
    const tail = mode === 'edge' ? g.slice(axis, b + n, len).sum([axis], true) : g.slice(axis, len - 1, b + n - 1, -1); // reflect: x[n−1−e..n−2]
    dx = dx.add(tail.pad(mode === 'edge' ? axisPads(r, axis, n - 1, 0) : axisPads(r, axis, n - 1 - e, 1)));
  }
  return dx;
}

export const resizeOps: { [K in keyof ResizeOps]: OpDef<ResizeOps[K]> } = {
  Resize: {
    infer: ([x], a) => {
      const r = x.shape.length;
      if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16') throw new ShapeError(`Resize: needs a float tensor, got ${fmtType(x)}`);
      if (r < 2 || a.sizes.length !== r || a.sizes.some((d, i) => !Number.isInteger(d) || d < 1 || (i < r - 2 && d !== x.shape[i])))
        throw new ShapeError(`Resize: sizes [${a.sizes}] must be the full output shape of ${fmtType(x)}, changing only the last two axes`);
      if (a.mode !== 'nearest' && a.mode !== 'linear') throw new ShapeError(`Resize: mode '${a.mode as string}' is not one of 'nearest', 'linear'`);
      return [{ dtype: x.dtype, shape: [...a.sizes] }];
    },
    lower: (ctx, ins, outs, a) => {
      const attrs = a.mode === 'nearest'
        ? [attr('mode', 'nearest'), attr('coordinate_transformation_mode', 'asymmetric'), attr('nearest_mode', 'floor')]
        : [attr('mode', 'linear'), attr('coordinate_transformation_mode', 'half_pixel')];
      ctx.node('Resize', [ins[0], '', '', ctx.constI64(a.sizes)], attrs, outs);
    },
    vjp: ({ inputs: [x], grads: [g], attrs: a }) => {
      if (!g) return [null];
      const r = x.rank;
      const [hIn, wIn] = x.shape.slice(r - 2), [hOut, wOut] = a.sizes.slice(r - 2);
      let dx = g;
      if (hIn !== hOut) {
        // dx = Mhᵀ · g: [hIn, hOut] · [… , hOut, w] → [… , hIn, w]
        const mh = interpMatrix(hIn, hOut, a.mode);
        const mhT = Array.from({ length: hIn * hOut }, (_, k) => mh[(k % hOut) * hIn + Math.floor(k / hOut)]);
        dx = constOf(g.graph, mhT, g.dtype, [hIn, hOut]).matmul(dx);
      }
      // · Mw: [… , wOut] · [wOut, wIn] → [… , wIn]
      if (wIn !== wOut) dx = dx.matmul(constOf(g.graph, [...interpMatrix(wIn, wOut, a.mode)], g.dtype, [wOut, wIn]));
      return [dx];
    },
    ref: ([x], a) => {
      let y = x;
      for (const axis of [x.shape.length - 2, x.shape.length - 1])
        if (x.shape[axis] !== a.sizes[axis]) y = refAlongAxis(y, axis, interpMatrix(x.shape[axis], a.sizes[axis], a.mode), a.sizes[axis]);
      return [y];
    },
  },
  Pad: {
    infer: ([x], a) => {
      const r = x.shape.length;
      if (a.pads.length !== 2 * r || a.pads.some((p) => !Number.isInteger(p) || p < 0))
        throw new ShapeError(`Pad: pads [${a.pads}] must be ${2 * r} non-negative ints (all begins, then all ends) for ${fmtType(x)}; crop with slice`);
      x.shape.forEach((d, i) => {
        const most = Math.max(a.pads[i], a.pads[r + i]);
        if (most > 0 && ((a.mode === 'reflect' && most > d - 1) || (a.mode === 'edge' && d === 0)))
          throw new ShapeError(`Pad: ${a.mode} padding of ${most} on axis ${i} of ${fmtType(x)} needs more input (reflect: pad < size)`);
      });
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d + a.pads[i] + a.pads[r + i]) }];
    },
    lower: (ctx, ins, outs, a, [t]) => {
      const value = a.mode === 'constant' ? [ctx.constData(hostArrayOf([a.value], t.dtype), t.dtype, [])] : [];
      ctx.node('Pad', [ins[0], ctx.constI64(a.pads), ...value], [attr('mode', a.mode)], outs);
    },
    vjp: ({ inputs: [x], grads: [g], attrs: a }) => {
      if (!g) return [null];
      let dx = g;
      x.shape.forEach((n, axis) => {
        const b = a.pads[axis], e = a.pads[x.rank + axis];
        if (b || e) dx = padVjpAxis(dx, axis, n, b, e, a.mode);
      });
      return [dx];
    },
    ref: ([x], a) => {
      const r = x.shape.length;
      const shape = x.shape.map((d, i) => d + a.pads[i] + a.pads[r + i]);
      const xs = x.shape.map((_, i) => numel(x.shape.slice(i + 1)));
      const out = ref(x.dtype, shape);
      forEachIndex(shape, (idx, f) => {
        let s = 0;
        for (let i = 0; i < r; i++) {
          const j = padSource(idx[i], x.shape[i], a.pads[i], a.mode);
          if (j < 0) { s = -1; break; }
          s += j * xs[i];
        }
        out.data[f] = s < 0 ? a.value : x.data[s];
      });
      return [out];
    },
  },
};
