/** Helpers for the float64 reference evaluators (small tensors only: clarity over speed). */
import { type DType, isFloat } from '../core/dtype.ts';
import { type Shape, broadcastShapes, numel, strides } from '../core/shape.ts';
import type { RefTensor } from './types.ts';

export function ref(dtype: DType, shape: Shape, data: Float64Array = new Float64Array(numel(shape))): RefTensor {
  return { dtype, shape: [...shape], data };
}

/** Integer and bool results are truncated like the op's result type; floats stay float64. */
export function roundTo(dtype: DType, v: number): number {
  if (dtype === 'bool') return v ? 1 : 0;
  if (!isFloat(dtype)) return Math.trunc(v);
  return v;
}

/** Flat index into a tensor of `shape` for the broadcast output index `idx` (right-aligned). */
function broadcastIndexer(shape: Shape, outShape: Shape): (idx: readonly number[]) => number {
  const st = strides(shape);
  const off = outShape.length - shape.length;
  return (idx) => {
    let f = 0;
    for (let i = 0; i < shape.length; i++) if (shape[i] !== 1) f += idx[i + off] * st[i];
    return f;
  };
}

/** Calls fn(multiIndex, flatIndex) for every element of `shape` in row-major order. */
export function forEachIndex(shape: Shape, fn: (idx: number[], flat: number) => void): void {
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(idx, f);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** Elementwise op over broadcast inputs. */
export function broadcastMap(inputs: readonly RefTensor[], outDtype: DType, fn: (...xs: number[]) => number): RefTensor {
  const shape = broadcastShapes(inputs.map((t) => t.shape));
  const idxers = inputs.map((t) => broadcastIndexer(t.shape, shape));
  const out = ref(outDtype, shape);
  const xs = new Array<number>(inputs.length);
  forEachIndex(shape, (idx, f) => {
    for (let i = 0; i < inputs.length; i++) xs[i] = inputs[i].data[idxers[i](idx)];
    out.data[f] = fn(...xs);
  });
  return out;
}

export function unaryMap(x: RefTensor, fn: (v: number) => number): RefTensor {
  return ref(x.dtype, x.shape, x.data.map(fn));
}

/** erf by Abramowitz–Stegun 7.1.26 is too coarse for a reference; use a series/continued fraction. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // Maclaurin series: converges quickly for |x| < 3 in double precision.
    let term = x, sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at large |x|.
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
