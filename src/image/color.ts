/**
 * Colour-space conversions with the integer arithmetic of the libraries the original calls,
 * so 8-bit results are identical:
 * - PIL `convert('L')` (libImaging/Convert.c, ITU-R 601-2 luma in 16-bit fixed point);
 * - OpenCV `cvtColor` BGR2YUV / YUV2BGR for 8-bit images (imgproc color_yuv.simd.hpp:
 *   14-bit fixed point, `CV_DESCALE` rounding, saturation), used by test_pasd.py's
 *   colorization path to keep the input's luma and take the chroma of the generated image.
 * Images here are RGB ordered; the BGR/RGB swap of the OpenCV calls is folded in.
 */
import { ShapeError } from '../core/errors.ts';
import { asRgb, makeImage, type Image, type RgbImage } from './image.ts';

const sat8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** PIL `convert('L')`: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
export function rgbToGray(img: Image): Image {
  const src = asRgb(img, 'rgbToGray').data;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (19595 * src[i * 3] + 38470 * src[i * 3 + 1] + 7471 * src[i * 3 + 2] + 0x8000) >>> 16;
  }
  return makeImage(img.width, img.height, 1, out);
}

/** PIL `convert('RGB')` of an L image: L replicated into R, G and B. */
export function grayToRgb(img: Image): RgbImage {
  if (img.channels !== 1) throw new ShapeError(`grayToRgb: expected 1 channel, got ${img.channels}`);
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = img.data[i];
  return makeImage(img.width, img.height, 3, out) as RgbImage;
}

// OpenCV BT.601 constants, scaled by 2^14 (yuv_shift).
const SHIFT = 14;
const ROUND = 1 << (SHIFT - 1);
const R2Y = 4899, G2Y = 9617, B2Y = 1868;
const R2V = 14369, B2U = 8061;
const U2B = 33292, U2G = -6472, V2G = -9519, V2R = 18678;
const DELTA = 128;

/** `cv2.cvtColor(bgr, COLOR_BGR2YUV)` on 8 bits, taking RGB input. Output channels Y, U, V. */
export function rgbToYuv(img: Image): Image {
  const src = asRgb(img, 'rgbToYuv').data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const r = src[i], g = src[i + 1], b = src[i + 2];
    const y = (r * R2Y + g * G2Y + b * B2Y + ROUND) >> SHIFT;
    out[i] = sat8(y);
    out[i + 1] = sat8(((b - y) * B2U + (DELTA << SHIFT) + ROUND) >> SHIFT);
    out[i + 2] = sat8(((r - y) * R2V + (DELTA << SHIFT) + ROUND) >> SHIFT);
  }
  return makeImage(img.width, img.height, 3, out);
}

/** `cv2.cvtColor(yuv, COLOR_YUV2BGR)` on 8 bits, returning RGB. */
export function yuvToRgb(img: Image): RgbImage {
  if (img.channels !== 3) throw new ShapeError(`yuvToRgb: expected 3 channels (Y, U, V), got ${img.channels}`);
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const y = src[i], u = src[i + 1] - DELTA, v = src[i + 2] - DELTA;
    out[i] = sat8(y + ((v * V2R + ROUND) >> SHIFT));
    out[i + 1] = sat8(y + ((u * U2G + v * V2G + ROUND) >> SHIFT));
    out[i + 2] = sat8(y + ((u * U2B + ROUND) >> SHIFT));
  }
  return makeImage(img.width, img.height, 3, out) as RgbImage;
}

/**
 * test_pasd.py's colorization merge: Y from `luma` (the grayscale input, as RGB), U and V from
 * `chroma` (the generated image resized to the same size), converted back to RGB.
 */
export function mergeLumaChroma(luma: Image, chroma: Image): RgbImage {
  if (luma.width !== chroma.width || luma.height !== chroma.height) {
    throw new ShapeError(`mergeLumaChroma: luma is ${luma.width}x${luma.height}, chroma ${chroma.width}x${chroma.height}; resize the chroma image first`);
  }
  const yuv = rgbToYuv(luma);
  const c = rgbToYuv(chroma);
  for (let i = 0; i < yuv.data.length; i += 3) {
    yuv.data[i + 1] = c.data[i + 1];
    yuv.data[i + 2] = c.data[i + 2];
  }
  return yuvToRgb(yuv);
}
