/**
 * USMSharp of PASD's `pasd/dataloader/basicsr/utils/img_process_util.py`: unsharp masking with
 * a soft threshold mask. With I the image and B its Gaussian blur:
 *   sharp = clip(I + weight·(I − B), 0, 1); mask = |I − B|·255 > threshold;
 *   out = blur(mask)·sharp + (1 − blur(mask))·I.
 * The blur is cv2.getGaussianKernel(radius, sigma) ⊗ itself with filter2D's reflect padding;
 * we apply it as two 1-D passes (the 2-D kernel is an outer product).
 */
import { ConfigError } from '../core/errors.ts';
import { type ImageBatch } from './batch.ts';
import { filter2DSeparable } from './filter.ts';

const f = Math.fround;

/**
 * cv2.getGaussianKernel(ksize, sigma): sigma ≤ 0 means 0.3·((ksize−1)/2 − 1) + 0.8; weights
 * exp(−x²/(2σ²)) normalised to sum 1. OpenCV's fixed tables for ksize ≤ 7 with sigma ≤ 0 are not
 * implemented (USMSharp's default size is 51); those arguments throw.
 */
export function gaussianKernel1D(ksize: number, sigma: number): Float64Array {
  if (!Number.isSafeInteger(ksize) || ksize < 1 || ksize % 2 !== 1) throw new ConfigError(`gaussianKernel1D: ksize ${ksize} must be an odd positive integer`);
  if (sigma <= 0 && ksize <= 7) throw new ConfigError(`gaussianKernel1D: ksize ${ksize} with sigma ≤ 0 uses OpenCV's fixed tables, which are not implemented; pass sigma > 0 or ksize > 7`);
  const s = sigma > 0 ? sigma : 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
  const k = new Float64Array(ksize);
  let sum = 0;
  for (let i = 0; i < ksize; i++) {
    const x = i - (ksize - 1) * 0.5;
    k[i] = Math.exp((-0.5 / (s * s)) * x * x);
    sum += k[i];
  }
  for (let i = 0; i < ksize; i++) k[i] /= sum;
  return k;
}

export interface UsmOptions {
  /** Kernel size; an even value is raised by one, as in the original. Default 50 (→ 51). */
  readonly radius?: number;
  /** Gaussian sigma; 0 derives it from the size as OpenCV does. Default 0. */
  readonly sigma?: number;
  /** Default 0.5. */
  readonly weight?: number;
  /** In 0..255 units. Default 10. */
  readonly threshold?: number;
}

/** USMSharp(radius, sigma)(img, weight, threshold). */
export function usmSharp(img: ImageBatch, opts: UsmOptions = {}): ImageBatch {
  let radius = opts.radius ?? 50;
  if (radius % 2 === 0) radius += 1;
  const k = gaussianKernel1D(radius, opts.sigma ?? 0);
  const weight = opts.weight ?? 0.5;
  const threshold = opts.threshold ?? 10;
  const blur = filter2DSeparable(img, k, k);
  const residual = new Float32Array(img.data.length);
  const mask = new Float32Array(img.data.length);
  for (let i = 0; i < residual.length; i++) {
    residual[i] = f(img.data[i] - blur.data[i]);
    mask[i] = f(Math.abs(residual[i]) * 255) > threshold ? 1 : 0;
  }
  const soft = filter2DSeparable({ ...img, data: mask }, k, k).data;
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = img.data[i];
    const s = f(x + f(weight * residual[i]));
    const sharp = s < 0 ? 0 : s > 1 ? 1 : s;
    out[i] = f(f(soft[i] * sharp) + f(f(1 - soft[i]) * x));
  }
  return { ...img, data: out };
}
