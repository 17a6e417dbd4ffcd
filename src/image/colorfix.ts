/**
 * Colour correction of the diffusion output toward the input's colours, after
 * pasd/myutils/wavelet_color_fix.py (itself from sd-webui-stablesr's colorfix.py).
 *
 * Tensor functions work on float32 [1, C, H, W] like the original's float32 torch ops: every
 * intermediate tensor is rounded to float32 (stored in a Float32Array); sums inside one conv
 * or reduction are taken in double, which differs from torch's float32 accumulation order by a
 * few ulp at most.
 */
import { ShapeError } from '../core/errors.ts';
import { fromTensor, toTensor, type Image, type ImageTensor } from './image.ts';

const WAVELET_LEVELS = 5;
const ADAIN_EPS = 1e-5;

function sameShape(what: string, a: ImageTensor, b: ImageTensor): void {
  if (a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${what}: target [${a.shape}] and source [${b.shape}] must have the same shape (resize one first)`);
  }
}

/**
 * `wavelet_blur`: depthwise 3×3 [[1,2,1],[2,4,2],[1,2,1]]/16 with dilation `radius` on the
 * image replicate-padded by `radius` — i.e. taps at offsets {-r, 0, r} with edge clamping.
 */
function waveletBlur(t: ImageTensor, radius: number): Float32Array {
  const [, c, h, w] = t.shape;
  const src = t.data;
  const out = new Float32Array(src.length);
  const clampIdx = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let ch = 0; ch < c; ch++) {
    const p = ch * h * w;
    for (let y = 0; y < h; y++) {
      const up = p + clampIdx(y - radius, h) * w;
      const mid = p + y * w;
      const down = p + clampIdx(y + radius, h) * w;
      for (let x = 0; x < w; x++) {
        const l = clampIdx(x - radius, w);
        const r = clampIdx(x + radius, w);
        // Kernel [[1,2,1],[2,4,2],[1,2,1]]/16; powers of two, so each product is exact.
        const s =
          0.0625 * (src[up + l] + src[up + r] + src[down + l] + src[down + r]) +
          0.125 * (src[up + x] + src[down + x] + src[mid + l] + src[mid + r]) +
          0.25 * src[mid + x];
        out[mid + x] = s;
      }
    }
  }
  return out;
}

/**
 * `wavelet_decomposition(image, levels=5)`: the sum of the band-pass layers (high) and the
 * final low-pass residual (low), with `high + low ≈ image`.
 */
export function waveletDecomposition(t: ImageTensor): { high: ImageTensor; low: ImageTensor } {
  const high = new Float32Array(t.data.length);
  let cur = t;
  for (let i = 0; i < WAVELET_LEVELS; i++) {
    const low = waveletBlur(cur, 2 ** i);
    for (let k = 0; k < high.length; k++) high[k] += Math.fround(cur.data[k] - low[k]);
    cur = { shape: t.shape, data: low };
  }
  return { high: { shape: t.shape, data: high }, low: cur };
}

/** `wavelet_reconstruction(content, style)`: high frequencies of `target` + low of `source`. */
export function waveletReconstruction(target: ImageTensor, source: ImageTensor): ImageTensor {
  sameShape('waveletReconstruction', target, source);
  const { high } = waveletDecomposition(target);
  const { low } = waveletDecomposition(source);
  const out = new Float32Array(high.data.length);
  for (let k = 0; k < out.length; k++) out[k] = high.data[k] + low.data[k];
  return { shape: target.shape, data: out };
}

/** Per-channel mean and std (`calc_mean_std`: unbiased variance + eps, then sqrt), float32. */
function meanStd(t: ImageTensor): { mean: Float32Array; std: Float32Array } {
  const [, c, h, w] = t.shape;
  const n = h * w;
  if (n < 2) throw new ShapeError(`adaptiveInstanceNormalization: needs at least 2 pixels per channel, got ${h}x${w}`);
  const mean = new Float32Array(c);
  const std = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    const p = t.data.subarray(ch * n, (ch + 1) * n);
    let s = 0;
    for (let i = 0; i < n; i++) s += p[i];
    const m = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (p[i] - m) * (p[i] - m);
    mean[ch] = m;
    std[ch] = Math.sqrt(Math.fround(Math.fround(v / (n - 1)) + ADAIN_EPS));
  }
  return { mean, std };
}

/** `adaptive_instance_normalization(content, style)`: content's per-channel stats → style's. */
export function adaptiveInstanceNormalization(target: ImageTensor, source: ImageTensor): ImageTensor {
  const [, c, h, w] = target.shape;
  if (source.shape[1] !== c) {
    throw new ShapeError(`adaptiveInstanceNormalization: target has ${c} channels, source ${source.shape[1]}`);
  }
  const ts = meanStd(target);
  const ss = meanStd(source);
  const n = h * w;
  const out = new Float32Array(target.data.length);
  for (let ch = 0; ch < c; ch++) {
    for (let i = ch * n; i < (ch + 1) * n; i++) {
      const norm = Math.fround(Math.fround(target.data[i] - ts.mean[ch]) / ts.std[ch]);
      out[i] = Math.fround(norm * ss.std[ch]) + ss.mean[ch];
    }
  }
  return { shape: target.shape, data: out };
}

/** The colour fixes, in the order the doors list them. */
export const COLOR_FIXES = ['wavelet', 'adain', 'none'] as const;
export type ColorFix = (typeof COLOR_FIXES)[number];

/**
 * The PIL-level `wavelet_color_fix` / `adain_color_fix`: ToTensor, the op, clamp(0,1),
 * ToPILImage (truncating). `target` is the generated image, `source` the input at the same size.
 */
export function colorFix(kind: ColorFix, target: Image, source: Image): Image {
  if (kind === 'none') return target;
  const t = toTensor(target);
  const s = toTensor(source);
  const r = kind === 'wavelet' ? waveletReconstruction(t, s) : adaptiveInstanceNormalization(t, s);
  for (let k = 0; k < r.data.length; k++) r.data[k] = Math.min(Math.max(r.data[k], 0), 1);
  return fromTensor(r, 'truncate');
}

export const waveletColorFix = (target: Image, source: Image): Image => colorFix('wavelet', target, source);
export const adainColorFix = (target: Image, source: Image): Image => colorFix('adain', target, source);
