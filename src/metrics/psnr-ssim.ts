/**
 * PSNR and SSIM exactly as BasicSR v1.4.2 computes them (`basicsr/metrics/psnr_ssim.py`
 * `calculate_psnr` / `calculate_ssim`, `_ssim`): crop `crop_border` pixels from every edge,
 * optionally take the Y channel (`to_y_channel`, see ycbcr.ts), then float64 arithmetic on
 * the [0, 255] scale. SSIM is per channel with an 11×11 Gaussian window (σ = 1.5, the outer
 * product of `cv2.getGaussianKernel(11, 1.5)`), `cv2.filter2D` followed by the `[5:-5, 5:-5]`
 * valid crop (so the border mode never matters), c1 = (0.01·255)², c2 = (0.03·255)², mean of
 * the map, then mean over channels.
 */
import { ShapeError } from '../core/errors.ts';
import type { Image } from '../image/image.ts';
import { type FloatImage, cropBorder, plane, toFloatImage } from './float-image.ts';
import { metricY } from './ycbcr.ts';

export interface MetricOptions {
  /** Pixels cropped from every edge first (BasicSR `crop_border`; benchmarks use the scale). Default 0. */
  readonly cropBorder?: number;
  /** Measure the Y of YCbCr (BasicSR `test_y_channel`) instead of every channel. Default false. */
  readonly testY?: boolean;
}

function prepare(img: Image, img2: Image, o: MetricOptions, what: string): [FloatImage, FloatImage] {
  if (img.width !== img2.width || img.height !== img2.height || img.channels !== img2.channels)
    throw new ShapeError(`${what}: image shapes differ: ${img.width}x${img.height}x${img.channels} vs ${img2.width}x${img2.height}x${img2.channels}`);
  const border = o.cropBorder ?? 0;
  const a = cropBorder(img, border, what), b = cropBorder(img2, border, what);
  return o.testY ? [metricY(a), metricY(b)] : [toFloatImage(a), toFloatImage(b)];
}

/** 10·log10(255²/MSE) in dB; Infinity for identical images (as BasicSR). */
export function psnr(img: Image, img2: Image, opts: MetricOptions = {}): number {
  const [a, b] = prepare(img, img2, opts, 'psnr');
  let se = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
  }
  const mse = se / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** cv2.getGaussianKernel(11, 1.5); the SSIM window is its outer product with itself. */
const KERNEL: Float64Array = (() => {
  const k = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const s = k.reduce((x, y) => x + y, 0);
  return Float64Array.from(k, (v) => v / s);
})();

/**
 * The window applied at every valid position ([5:-5, 5:-5] of cv2.filter2D's output), as a
 * column pass then a row pass (the window is separable; cv2 itself filters through a DFT for
 * a window this large, so neither order of summation is "the" original one).
 */
function filterValid(x: Float64Array, w: number, h: number): Float64Array {
  const ow = w - 10, oh = h - 10;
  const cols = new Float64Array(oh * w);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < w; xx++) {
      let acc = 0;
      for (let i = 0; i < 11; i++) acc += KERNEL[i] * x[(y + i) * w + xx];
      cols[y * w + xx] = acc;
    }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++) {
      let acc = 0;
      for (let j = 0; j < 11; j++) acc += KERNEL[j] * cols[y * w + xx + j];
      out[y * ow + xx] = acc;
    }
  return out;
}

/** `_ssim` on two [0, 255] planes. */
function ssimPlane(a: Float64Array, b: Float64Array, w: number, h: number): number {
  const c1 = (0.01 * 255) ** 2, c2 = (0.03 * 255) ** 2;
  const sq = (x: Float64Array) => x.map((v) => v * v);
  const mu1 = filterValid(a, w, h), mu2 = filterValid(b, w, h);
  const s11 = filterValid(sq(a), w, h), s22 = filterValid(sq(b), w, h), s12 = filterValid(a.map((v, i) => v * b[i]), w, h);
  let sum = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i], m2 = mu2[i];
    const m1s = m1 * m1, m2s = m2 * m2, m12 = m1 * m2;
    const v1 = s11[i] - m1s, v2 = s22[i] - m2s, cov = s12[i] - m12;
    sum += ((2 * m12 + c1) * (2 * cov + c2)) / ((m1s + m2s + c1) * (v1 + v2 + c2));
  }
  return sum / mu1.length;
}

/** Mean SSIM over channels. Images smaller than 11×11 after cropping are refused. */
export function ssim(img: Image, img2: Image, opts: MetricOptions = {}): number {
  const [a, b] = prepare(img, img2, opts, 'ssim');
  if (a.width < 11 || a.height < 11) throw new ShapeError(`ssim: needs at least 11x11 pixels after cropping, got ${a.width}x${a.height}`);
  let total = 0;
  for (let c = 0; c < a.channels; c++) total += ssimPlane(plane(a, c).data, plane(b, c).data, a.width, a.height);
  return total / a.channels;
}
