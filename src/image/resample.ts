/**
 * PIL-compatible resampling, bit-exact with Pillow 9.4 `Image.resize` on 8-bit images.
 *
 * Pillow (src/libImaging/Resample.c) resizes in two separable passes, horizontal then
 * vertical, each rounding back to uint8. Filter weights are computed in double, with the
 * filter support stretched by the scale when downscaling (that stretch is the antialias),
 * normalised per output pixel, then turned into fixed-point integers with
 * PRECISION_BITS = 32 - 8 - 2 = 22 fractional bits; each output is
 * clip8((Σ in·k + 2^21) >> 22). Reproducing exactly that integer arithmetic is what makes
 * the results identical to PIL's, which the original (test_pasd.py) uses for every resize.
 *
 * Channels are resampled independently (PIL modes L and RGB). PIL premultiplies RGBA by
 * alpha first; we keep alpha as its own image (see codec-node.ts), so that case never arises.
 */
import { ConfigError, ShapeError } from '../core/errors.ts';
import { makeImage, type Image } from './image.ts';

export type ResampleFilter = 'bicubic' | 'bilinear';

interface Filter {
  readonly support: number;
  readonly fn: (x: number) => number;
}

// Pillow's bicubic uses a = -0.5 (Keys), not OpenCV's -0.75.
const FILTERS: Readonly<Record<ResampleFilter, Filter>> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Fixed-point taps for one axis: output i reads `count[i]` inputs from `first[i]`. */
interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  /** ksize integer weights per output. */
  readonly k: Int32Array;
  readonly ksize: number;
}

/** Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for the full-image box [0, inSize). */
function precomputeTaps(inSize: number, outSize: number, filter: Filter): Taps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp makes the sign irrelevant.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { first, count, k, ksize };
}

/** Pillow `clip8`: arithmetic shift, then clamp to a byte. */
function clip8(ss: number): number {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over rows [y0, y1) of `src` (width sw), writing a width-`outW` image. */
function resampleRows(src: Uint8Array, sw: number, c: number, y0: number, y1: number, outW: number, t: Taps): Uint8Array {
  const out = new Uint8Array((y1 - y0) * outW * c);
  for (let y = y0; y < y1; y++) {
    const rowIn = y * sw * c;
    const rowOut = (y - y0) * outW * c;
    for (let xx = 0; xx < outW; xx++) {
      const base = rowIn + t.first[xx] * c;
      const kb = xx * t.ksize;
      const n = t.count[xx];
      for (let ch = 0; ch < c; ch++) {
        let ss = HALF;
        for (let x = 0; x < n; x++) ss += src[base + x * c + ch] * t.k[kb + x];
        out[rowOut + xx * c + ch] = clip8(ss);
      }
    }
  }
  return out;
}

/** Vertical pass: `src` has rows starting at source row `rowOffset`, width w. */
function resampleCols(src: Uint8Array, w: number, c: number, rowOffset: number, outH: number, t: Taps): Uint8Array {
  const stride = w * c;
  const out = new Uint8Array(outH * stride);
  for (let yy = 0; yy < outH; yy++) {
    const first = t.first[yy] - rowOffset;
    const n = t.count[yy];
    const kb = yy * t.ksize;
    for (let i = 0; i < stride; i++) {
      let ss = HALF;
      for (let y = 0; y < n; y++) ss += src[(first + y) * stride + i] * t.k[kb + y];
      out[yy * stride + i] = clip8(ss);
    }
  }
  return out;
}

function checkSize(what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`resize: ${what} must be a positive integer, got ${v}`);
}

/**
 * Pillow 9.4 `Image.resize((width, height), resample)` for 8-bit images.
 * The default filter is BICUBIC, as in Pillow ≥ 9 for RGB/L images; same size returns a copy.
 */
export function resize(img: Image, width: number, height: number, filter: ResampleFilter = 'bicubic'): Image {
  checkSize('width', width);
  checkSize('height', height);
  const f = FILTERS[filter];
  if (f === undefined) throw new ConfigError(`resize: unknown filter '${filter}' (use 'bicubic' or 'bilinear')`);
  const { width: w0, height: h0, channels: c } = img;
  if (w0 === width && h0 === height) return makeImage(w0, h0, c, img.data.slice());

  let data = img.data;
  let w = w0;
  let rowOffset = 0;
  const vert = precomputeTaps(h0, height, f);
  if (width !== w0) {
    // Like Pillow, run the horizontal pass only over the rows the vertical pass will read.
    const y0 = vert.first[0];
    const y1 = vert.first[height - 1] + vert.count[height - 1];
    data = resampleRows(data, w0, c, y0, y1, width, precomputeTaps(w0, width, f));
    w = width;
    rowOffset = y0;
  }
  if (height !== h0) data = resampleCols(data, w, c, rowOffset, height, vert);
  return makeImage(width, height, c, data);
}

/**
 * The output size of torchvision 0.14 `transforms.Resize(size, max_size=maxSize)` with an int
 * `size` on a PIL image (`functional_pil.resize`): the shorter side becomes `size`, the longer
 * `int(size·long/short)`; if that exceeds `maxSize`, the longer side becomes `maxSize` and the
 * shorter `int(maxSize·size/long)`. Returns [width, height].
 */
export function torchvisionResizeSize(width: number, height: number, size: number, maxSize?: number): [number, number] {
  checkSize('size', size);
  const portrait = width <= height;
  const [short, long] = portrait ? [width, height] : [height, width];
  let newShort = size;
  let newLong = Math.trunc((size * long) / short);
  if (maxSize !== undefined) {
    if (!(maxSize > size)) {
      throw new ConfigError(`resize: maxSize (${maxSize}) must be strictly greater than size (${size})`);
    }
    if (newLong > maxSize) {
      newShort = Math.trunc((maxSize * newShort) / newLong);
      newLong = maxSize;
    }
  }
  return portrait ? [newShort, newLong] : [newLong, newShort];
}

/** torchvision 0.14 `transforms.Resize(size, interpolation, max_size)` applied to a PIL image. */
export function torchvisionResize(img: Image, size: number, opts: { maxSize?: number; filter?: ResampleFilter } = {}): Image {
  const [w, h] = torchvisionResizeSize(img.width, img.height, size, opts.maxSize);
  return resize(img, w, h, opts.filter ?? 'bilinear');
}
