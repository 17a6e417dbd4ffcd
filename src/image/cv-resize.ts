/**
 * OpenCV `cv2.resize(img, (w, h))` with the default INTER_LINEAR on 8-bit images, as the
 * original's colorization path uses it to bring the generated image back to the input size
 * (test_pasd.py). Reproduces opencv imgproc/src/resize.cpp:
 * - source coordinate `(d + 0.5)·scale - 0.5` in float32, clamped at the borders; tap weights
 *   (1-f, f) rounded to 11-bit fixed point (INTER_RESIZE_COEF_SCALE = 2048) each;
 * - horizontal pass in exact integers;
 * - vertical pass in OpenCV's reduced-precision form (VResizeLinear<uchar,…> and its SIMD twin
 *   VResizeLinearVec_32s8u agree on it): each row value is shifted right by 4, multiplied by
 *   the 11-bit weight keeping the high 16 bits, and the sum is rounded by `(s + 2) >> 2`. This
 *   is not the exact `(Σ + 2^21) >> 22` and differs from it by one on some pixels;
 * - an exact 2× reduction in both directions is INTER_AREA's 2×2 mean, which OpenCV
 *   substitutes in that case.
 * Upscaling is not special-cased beyond this.
 */
import { ShapeError } from '../core/errors.ts';
import { makeImage, type Image } from './image.ts';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

interface Axis {
  /** First source index; the second tap is the next one, both clamped into the image. */
  readonly i0: Int32Array;
  readonly w0: Int32Array;
  readonly w1: Int32Array;
}

/** cvRound: round half to even, as `saturate_cast<short>(float)` does. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Tap positions and weights along one axis. OpenCV clamps the column position and zeroes its
 * fraction at the borders (`clampFraction`), but keeps the row fraction and only clamps the
 * row indices; the two differ when the rounded weights do not sum to 2048.
 */
function axis(inSize: number, outSize: number, clampFraction: boolean): Axis {
  const scale = 1 / (outSize / inSize);
  const i0 = new Int32Array(outSize);
  const w0 = new Int32Array(outSize);
  const w1 = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const pos = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(pos);
    let f = Math.fround(pos - s);
    if (clampFraction && s < 0) { s = 0; f = 0; }
    if (clampFraction && s >= inSize - 1) { s = inSize - 1; f = 0; }
    i0[d] = s;
    w0[d] = roundEven(Math.fround(Math.fround(1 - f) * COEF_SCALE));
    w1[d] = roundEven(Math.fround(f * COEF_SCALE));
  }
  return { i0, w0, w1 };
}

const sat8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** int16 high half of a signed 16×16 product. */
const mulHi = (a: number, b: number) => (a * b) >> 16;

function halve(img: Image, width: number, height: number): Image {
  const { width: w, channels: c, data } = img;
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < c; k++) {
        const a = ((2 * y) * w + 2 * x) * c + k;
        const b = a + w * c;
        out[(y * width + x) * c + k] = (data[a] + data[a + c] + data[b] + data[b + c] + 2) >> 2;
      }
    }
  }
  return makeImage(width, height, c, out);
}

/** `cv2.resize(img, (width, height))` (INTER_LINEAR) on an 8-bit HWC image. */
export function cvResizeLinear(img: Image, width: number, height: number): Image {
  for (const [k, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`cvResizeLinear: ${k} must be a positive integer, got ${v}`);
  }
  const { width: w, height: h, channels: c, data } = img;
  if (w === width && h === height) return makeImage(w, h, c, data.slice());
  if (w === 2 * width && h === 2 * height) return halve(img, width, height);

  const ax = axis(w, width, true);
  const ay = axis(h, height, false);
  const clampRow = (r: number) => (r < 0 ? 0 : r > h - 1 ? h - 1 : r);
  const rowLen = width * c;
  // Horizontal pass for every source row, kept as int32 (values up to 255·2048).
  const rows = new Int32Array(h * rowLen);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      const p0 = (y * w + ax.i0[x]) * c;
      const p1 = (y * w + Math.min(ax.i0[x] + 1, w - 1)) * c;
      for (let k = 0; k < c; k++) rows[y * rowLen + x * c + k] = data[p0 + k] * ax.w0[x] + data[p1 + k] * ax.w1[x];
    }
  }
  const out = new Uint8Array(height * rowLen);
  for (let y = 0; y < height; y++) {
    const r0 = clampRow(ay.i0[y]) * rowLen;
    const r1 = clampRow(ay.i0[y] + 1) * rowLen;
    const b0 = ay.w0[y];
    const b1 = ay.w1[y];
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      out[o + i] = sat8((mulHi(rows[r0 + i] >> 4, b0) + mulHi(rows[r1 + i] >> 4, b1) + 2) >> 2);
    }
  }
  return makeImage(width, height, c, out);
}
