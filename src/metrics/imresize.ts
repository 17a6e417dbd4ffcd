/**
 * MATLAB's bicubic `imresize`, as BasicSR v1.4.2 re-implements it
 * (`basicsr/utils/matlab_functions.py`): the cubic kernel with a = −0.5, widened to
 * `4/scale` when shrinking (antialiasing), symmetric (half-sample) padding, H pass then W
 * pass, output size `ceil(size·scale)`. This is how the classic SR benchmarks make their ×4
 * LR inputs and their bicubic baseline. Computed in float64 (BasicSR runs float32 torch; the
 * fixtures' float32 results agree to ~1e-7).
 */
import { ShapeError } from '../core/errors.ts';
import { roundHalfEven } from '../core/round.ts';
import { type Image, makeImage } from '../image/image.ts';
import { type FloatImage, floatImage, toFloatImage } from './float-image.ts';

/** Keys's cubic convolution kernel with a = −0.5 (matlab_functions.py `cubic`). */
function cubic(x: number): number {
  const ax = Math.abs(x), ax2 = ax * ax, ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

/** For every output index: its `width` input indices (0-based, padding already mirrored in) and weights. */
interface Taps {
  readonly index: Int32Array;
  readonly weights: Float64Array;
  readonly width: number;
}

/**
 * `calculate_weights_indices`: output pixel k (1-based x) maps to u = x/scale + 0.5(1 − 1/scale)
 * in input space; the taps are floor(u − width/2) + 0..p−1 with p = ceil(width) + 2, weights
 * normalised to sum 1. BasicSR then drops the first and last tap columns, whose weights are
 * always 0 here; keeping them changes nothing.
 */
function taps(inLength: number, outLength: number, scale: number, antialiasing: boolean): Taps {
  const shrink = scale < 1 && antialiasing;
  const kernelWidth = shrink ? 4 / scale : 4;
  const p = Math.ceil(kernelWidth) + 2;
  const index = new Int32Array(outLength * p);
  const weights = new Float64Array(outLength * p);
  for (let k = 0; k < outLength; k++) {
    const u = (k + 1) / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let j = 0; j < p; j++) {
      index[k * p + j] = mirror(left + j - 1, inLength); // 1-based MATLAB index → 0-based
      const d = u - (left + j);
      const w = shrink ? scale * cubic(d * scale) : cubic(d);
      weights[k * p + j] = w;
      sum += w;
    }
    for (let j = 0; j < p; j++) weights[k * p + j] /= sum;
  }
  return { index, weights, width: p };
}

/** Symmetric padding: index −1 reads 0, index n reads n − 1 (repeated for tiny inputs). */
function mirror(i: number, n: number): number {
  for (;;) {
    if (i < 0) i = -i - 1;
    else if (i >= n) i = 2 * n - 1 - i;
    else return i;
  }
}

/** One separable pass along an axis, samples `srcStride` apart, for `lines` lines `lineStep` apart. */
function resizeAxis(src: Float64Array, dst: Float64Array, t: Taps, lines: number, lineStep: number, srcStride: number, dstStride: number): void {
  const p = t.width, outLength = t.index.length / p;
  for (let k = 0; k < outLength; k++) {
    for (let l = 0; l < lines; l++) {
      const base = l * lineStep;
      let acc = 0;
      for (let j = 0; j < p; j++) acc += t.weights[k * p + j] * src[base + t.index[k * p + j] * srcStride];
      dst[l * lineStep + k * dstStride] = acc;
    }
  }
}

/** BasicSR `imresize(img, scale, antialiasing)` on a [0, 1] (or any-scale) float image, not rounded. */
export function imresize(img: FloatImage, scale: number, opts: { antialiasing?: boolean } = {}): FloatImage {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ShapeError(`imresize: scale must be a positive number, got ${scale}`);
  const { width: inW, height: inH, channels: c } = img;
  const outH = Math.ceil(inH * scale), outW = Math.ceil(inW * scale);
  const aa = opts.antialiasing ?? true;
  // H pass: [inH, inW·c] → [outH, inW·c]; every (x, channel) column is one line.
  const mid = new Float64Array(outH * inW * c);
  resizeAxis(img.data, mid, taps(inH, outH, scale, aa), inW * c, 1, inW * c, inW * c);
  // W pass: per row and channel, samples `c` apart.
  const out = new Float64Array(outH * outW * c);
  const tw = taps(inW, outW, scale, aa);
  for (let y = 0; y < outH; y++)
    resizeAxis(mid.subarray(y * inW * c, (y + 1) * inW * c), out.subarray(y * outW * c, (y + 1) * outW * c), tw, c, 1, c, c);
  return floatImage(outW, outH, c, out);
}

/** `round(clip(imresize(u8/255, scale)·255))`: how SR benchmarks store bicubic LR and SR images. */
export function imresizeU8(img: Image, scale: number, opts: { antialiasing?: boolean } = {}): Image {
  const r = imresize(toFloatImage(img, 1 / 255), scale, opts);
  return makeImage(r.width, r.height, r.channels, quantize01(r.data));
}

/** [0, 1] floats → uint8 by round(clip(x·255)) with numpy's half-to-even rounding. */
export function quantize01(data: Float64Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = roundHalfEven(data[i] * 255);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
