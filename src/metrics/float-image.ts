/**
 * The float image the metrics work on: interleaved HWC like `Image`, float64 values on
 * whatever scale the caller says ([0, 255] for PSNR/SSIM/NIQE, [0, 1] for `imresize`).
 * BasicSR computes its metrics on numpy float64 arrays of this layout.
 */
import { ShapeError } from '../core/errors.ts';
import type { Image } from '../image/image.ts';

export interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** HWC, row-major, length width·height·channels. */
  readonly data: Float64Array;
}

export function floatImage(width: number, height: number, channels: number, data?: Float64Array): FloatImage {
  const n = width * height * channels;
  if (data !== undefined && data.length !== n) throw new ShapeError(`floatImage: ${data.length} values for ${width}x${height}x${channels}`);
  return { width, height, channels, data: data ?? new Float64Array(n) };
}

/** uint8 values as floats times `scale` (1: [0, 255]; 1/255: [0, 1]). */
export function toFloatImage(img: Image, scale = 1): FloatImage {
  const data = new Float64Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = scale === 1 ? img.data[i] : img.data[i] * scale;
  return floatImage(img.width, img.height, img.channels, data);
}

/** One channel as an H×W plane. */
export function plane(img: FloatImage, c: number): FloatImage {
  const n = img.width * img.height;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = img.data[i * img.channels + c];
  return floatImage(img.width, img.height, 1, out);
}

/** `img[b:-b, b:-b]` (BasicSR's `crop_border`); the crop must leave pixels. */
export function cropBorder<T extends FloatImage | Image>(img: T, border: number, what = 'image'): T {
  if (!Number.isInteger(border) || border < 0) throw new ShapeError(`${what}: crop border must be a non-negative integer, got ${border}`);
  if (border === 0) return img;
  const w = img.width - 2 * border, h = img.height - 2 * border;
  if (w <= 0 || h <= 0) throw new ShapeError(`${what}: ${img.width}x${img.height} is too small for a crop border of ${border}`);
  const c = img.channels;
  const data = new (img.data.constructor as Float64ArrayConstructor | Uint8ArrayConstructor)(w * h * c);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y + border) * img.width + border) * c, ((y + border) * img.width + border + w) * c), y * w * c);
  return { width: w, height: h, channels: c, data } as T;
}
