/**
 * filter2D of PASD's `pasd/dataloader/basicsr/utils/img_process_util.py`: reflect-pad by k//2
 * (torch's 'reflect': the edge is not repeated), then a cross-correlation (F.conv2d) with one
 * kernel for the whole batch or one kernel per batch item, applied to every channel.
 */
import { ShapeError } from '../core/errors.ts';
import { type ImageBatch, emptyBatch } from './batch.ts';
import type { Kernel } from './kernels.ts';

/** torch 'reflect' source index of padded coordinate p (p in [-pad, n+pad)). */
function reflectIndex(p: number, n: number): number {
  if (p < 0) return -p;
  if (p >= n) return 2 * (n - 1) - p;
  return p;
}

function checkPad(img: ImageBatch, pad: number, what: string): void {
  // torch's reflect padding needs pad < dim; the original fails there too.
  if (pad >= img.h || pad >= img.w)
    throw new ShapeError(`${what}: reflect padding ${pad} needs an image larger than ${pad}×${pad}, got ${img.h}×${img.w}`);
}

/** One channel plane, reflect-padded by `pad` on every side, as float64 rows of width w + 2·pad. */
function padPlane(src: Float32Array, off: number, h: number, w: number, pad: number, out: Float64Array): void {
  const pw = w + 2 * pad;
  for (let py = 0; py < h + 2 * pad; py++) {
    const row = off + reflectIndex(py - pad, h) * w;
    const base = py * pw;
    for (let px = 0; px < pw; px++) out[base + px] = src[row + reflectIndex(px - pad, w)];
  }
}

/**
 * (kv, kh) with kernel ≈ kv·khᵀ when that is exact to Σ|k − kv·khᵀ| ≤ 1e-6 (so the result moves
 * by at most 1e-6 of the largest pixel, below float32 convolution noise), else null. Isotropic
 * Gaussians and the pulse kernel are separable; float32 rounding of their taps stays far below
 * the bound.
 */
export function separableFactors(k: Kernel): { kv: Float64Array; kh: Float64Array } | null {
  const n = k.size;
  let pi = 0, pj = 0, best = 0;
  for (let i = 0; i < n * n; i++) if (Math.abs(k.data[i]) > best) { best = Math.abs(k.data[i]); pi = Math.floor(i / n); pj = i % n; }
  if (best === 0) return null;
  const kv = new Float64Array(n);
  const kh = new Float64Array(n);
  for (let i = 0; i < n; i++) kv[i] = k.data[i * n + pj];
  for (let j = 0; j < n; j++) kh[j] = k.data[pi * n + j] / k.data[pi * n + pj];
  let residual = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) residual += Math.abs(k.data[i * n + j] - kv[i] * kh[j]);
  return residual <= 1e-6 ? { kv, kh } : null;
}

/** Rows r0..r1 and columns c0..c1 of a kh×kw tap array that hold every non-zero tap. */
function support(taps: Float64Array, kh: number, kw: number): [number, number, number, number] {
  let r0 = kh, r1 = -1, c0 = kw, c1 = -1;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      if (taps[i * kw + j] !== 0) {
        r0 = Math.min(r0, i); r1 = Math.max(r1, i); c0 = Math.min(c0, j); c1 = Math.max(c1, j);
      }
  return [r0, r1, c0, c1];
}

/**
 * out[off + y·outW + x] = Σ_{i<kh, j<kw} taps[i·kw + j] · src[(y+i)·srcW + x + j] for y < outH,
 * x < outW (a valid cross-correlation). Only the window of non-zero taps is visited (kernels
 * padded to 21 are mostly zeros), and four neighbouring outputs are accumulated together so each
 * tap and input value is loaded once per four outputs (about twice as fast in V8).
 */
function correlate(src: Float64Array, srcW: number, outH: number, outW: number, taps: Float64Array, kh: number, kw: number, out: Float64Array, off: number): void {
  const [r0, r1, c0, c1] = support(taps, kh, kw);
  const w4 = outW - (outW % 4);
  for (let y = 0; y < outH; y++) {
    const o = off + y * outW;
    for (let x = 0; x < w4; x += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = r0; i <= r1; i++) {
        const p = (y + i) * srcW + x;
        const kr = i * kw;
        let a = src[p + c0], b = src[p + c0 + 1], c = src[p + c0 + 2];
        for (let j = c0; j <= c1; j++) {
          const d = src[p + j + 3];
          const kv = taps[kr + j];
          s0 += kv * a; s1 += kv * b; s2 += kv * c; s3 += kv * d;
          a = b; b = c; c = d;
        }
      }
      out[o + x] = s0; out[o + x + 1] = s1; out[o + x + 2] = s2; out[o + x + 3] = s3;
    }
    for (let x = w4; x < outW; x++) {
      let s = 0;
      for (let i = r0; i <= r1; i++) {
        const p = (y + i) * srcW + x;
        for (let j = c0; j <= c1; j++) s += taps[i * kw + j] * src[p + j];
      }
      out[o + x] = s;
    }
  }
}

/** One padded plane ([h+k−1, w+k−1]) correlated with kv·khᵀ: a vertical pass into tmp, then a horizontal one. */
function correlateSeparable(plane: Float64Array, h: number, w: number, kv: Float64Array, kh: Float64Array, out: Float64Array, tmp: Float64Array): void {
  const k = kv.length;
  const pw = w + k - 1;
  correlate(plane, pw, h, pw, kv, k, 1, tmp, 0);
  correlate(tmp, pw, h, w, kh, 1, k, out, 0);
}

/** Filters every (sample, channel) plane of `img`, reflect-padded by `pad`, with the sample's plane filter. */
function filterPlanes(img: ImageBatch, pad: number, what: string, filterFor: (sample: number) => (plane: Float64Array, res: Float64Array) => void): ImageBatch {
  checkPad(img, pad, what);
  const { n, c, h, w } = img;
  const out = emptyBatch(n, c, h, w);
  const plane = new Float64Array((h + 2 * pad) * (w + 2 * pad));
  const res = new Float64Array(h * w);
  for (let b = 0; b < n; b++) {
    const fn = filterFor(b);
    for (let ch = 0; ch < c; ch++) {
      const off = (b * c + ch) * h * w;
      padPlane(img.data, off, h, w, pad, plane);
      fn(plane, res);
      out.data.set(res, off);
    }
  }
  return out;
}

/**
 * filter2D(img, kernel): `kernels` holds one kernel (shared by the batch) or one per batch item.
 * All kernels must have the same odd size, as in the original (a [b, k, k] tensor). Kernels
 * that are outer products are applied in two 1-D passes (see separableFactors).
 */
export function filter2D(img: ImageBatch, kernels: Kernel | readonly Kernel[]): ImageBatch {
  const list = Array.isArray(kernels) ? (kernels as readonly Kernel[]) : [kernels as Kernel];
  if (list.length !== 1 && list.length !== img.n)
    throw new ShapeError(`filter2D: got ${list.length} kernels for a batch of ${img.n}; pass one kernel or one per item`);
  const k = list[0].size;
  for (const kk of list) {
    if (kk.size !== k) throw new ShapeError(`filter2D: kernels of different sizes (${k} and ${kk.size}) in one call`);
    if (kk.data.length !== k * k) throw new ShapeError(`filter2D: kernel data has ${kk.data.length} values, size ${k} needs ${k * k}`);
  }
  if (k % 2 !== 1) throw new ShapeError(`filter2D: kernel size ${k} must be odd ('Wrong kernel size' in the original)`);
  const pad = k >> 1;
  const { h, w } = img;
  // One array type for every tap array keeps the inner loops monomorphic in V8.
  const taps = list.map((kk) => Float64Array.from(kk.data));
  const factors = taps.map((t) => separableFactors({ size: k, data: t }));
  const tmp = new Float64Array(h * (w + 2 * pad));
  return filterPlanes(img, pad, 'filter2D', (b) => {
    const i = list.length === 1 ? 0 : b;
    const sep = factors[i];
    if (sep !== null) return (plane, res) => correlateSeparable(plane, h, w, sep.kv, sep.kh, res, tmp);
    return (plane, res) => correlate(plane, w + 2 * pad, h, w, taps[i], k, k, res, 0);
  });
}

/**
 * filter2D with the separable kernel kv·khᵀ given by its factors (kv along rows, kh along
 * columns); used by USMSharp, whose 51×51 Gaussian is an outer product.
 */
export function filter2DSeparable(img: ImageBatch, kv: Float64Array, kh: Float64Array): ImageBatch {
  const k = kv.length;
  if (kh.length !== k || k % 2 !== 1) throw new ShapeError(`filter2DSeparable: 1-D kernels of sizes ${kv.length} and ${kh.length}; both must have the same odd size`);
  const tmp = new Float64Array(img.h * (img.w + k - 1));
  return filterPlanes(img, k >> 1, 'filter2DSeparable', () => (plane, res) => correlateSeparable(plane, img.h, img.w, kv, kh, res, tmp));
}
