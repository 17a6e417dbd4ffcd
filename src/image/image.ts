/**
 * Host images and their float tensor views.
 *
 * An `Image` is 8-bit, interleaved HWC (the layout of PIL, sharp and canvas ImageData).
 * Models consume `ImageTensor`s: float32 NCHW with N = 1, values in [0, 1], produced the way
 * torchvision's `ToTensor` does. The two ways back to 8 bits are the two the original uses:
 * torchvision 0.14 `ToPILImage` truncates `x·255` (used by the colour fix), diffusers'
 * `numpy_to_pil` rounds half to even (the pipeline's PIL output).
 */
import { roundHalfEven } from '../core/round.ts';
import { ShapeError } from '../core/errors.ts';

export interface Image {
  readonly width: number;
  readonly height: number;
  /** 1 (L), 3 (RGB) or 4 (RGBA); other counts are accepted by the pure-array helpers. */
  readonly channels: number;
  /** HWC, row-major, length width·height·channels. */
  readonly data: Uint8Array;
}

/** An RGB image: the common currency of the pipeline (PIL mode 'RGB'). */
export type RgbImage = Image & { readonly channels: 3 };

/** Float32 NCHW tensor with batch 1: shape [1, C, H, W]. */
export interface ImageTensor {
  readonly shape: readonly [1, number, number, number];
  readonly data: Float32Array;
}

function checkDims(what: string, width: number, height: number, channels: number): void {
  for (const [k, v] of [['width', width], ['height', height], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ShapeError(`${what}: ${k} must be a positive integer, got ${v}`);
    }
  }
}

/** Builds an image, checking that `data` holds exactly width·height·channels bytes. */
export function makeImage(width: number, height: number, channels: number, data?: Uint8Array): Image {
  checkDims('makeImage', width, height, channels);
  const n = width * height * channels;
  if (data === undefined) return { width, height, channels, data: new Uint8Array(n) };
  if (data.length !== n) {
    throw new ShapeError(
      `makeImage: data has ${data.length} bytes but ${width}x${height}x${channels} needs ${n}`,
    );
  }
  return { width, height, channels, data };
}

/** Narrows an image to RgbImage, or throws naming `what`. */
export function asRgb(img: Image, what = 'image'): RgbImage {
  if (img.channels !== 3) {
    throw new ShapeError(`${what}: expected an RGB image (3 channels), got ${img.channels} channels`);
  }
  return img as RgbImage;
}

/** torchvision `ToTensor` on a PIL image: HWC uint8 → [1, C, H, W] float32 `v / 255`. */
export function toTensor(img: Image): ImageTensor {
  const { width: w, height: h, channels: c, data } = img;
  const out = new Float32Array(c * h * w);
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < c; ch++) out[ch * plane + i] = data[i * c + ch] / 255;
  }
  return { shape: [1, c, h, w], data: out };
}

/**
 * How float [0,1] values become bytes:
 * - 'truncate': torchvision 0.14 `ToPILImage` (`x.mul(255).byte()`, float32 multiply, truncation);
 * - 'round': diffusers `numpy_to_pil` (`(x * 255).round()` in float32, numpy's half-to-even).
 * Both clamp to [0, 255] first: the original clamps to [0,1] before either conversion, and an
 * out-of-range value would otherwise wrap around in uint8.
 */
export type QuantizeMode = 'truncate' | 'round';


/** Inverse of `toTensor`: [1, C, H, W] float → HWC uint8 with the given quantization. */
export function fromTensor(t: ImageTensor, mode: QuantizeMode): Image {
  const [n, c, h, w] = t.shape;
  if (n !== 1 || t.data.length !== c * h * w) {
    throw new ShapeError(`fromTensor: expected [1,C,H,W] data of ${c * h * w} values, got shape [${t.shape}] and ${t.data.length} values`);
  }
  const out = new Uint8Array(c * h * w);
  const plane = h * w;
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < plane; i++) {
      const x = Math.fround(t.data[ch * plane + i] * 255);
      const q = mode === 'truncate' ? Math.trunc(x) : roundHalfEven(x);
      out[i * c + ch] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return makeImage(w, h, c, out);
}
