/**
 * A host NCHW float32 image batch, the tensor type of this folder (the original works on float32
 * torch tensors, so storage stays float32; arithmetic is done in float64 where that only removes
 * rounding noise, and in emulated float32 where a rounding decision must match the original).
 */
import { ShapeError } from '../core/errors.ts';

export interface ImageBatch {
  /** Row-major [n, c, h, w]. */
  readonly data: Float32Array;
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

export function imageBatch(data: Float32Array, n: number, c: number, h: number, w: number, what = 'image'): ImageBatch {
  for (const [k, v] of [['n', n], ['c', c], ['h', h], ['w', w]] as const)
    if (!Number.isSafeInteger(v) || v < 1) throw new ShapeError(`${what}: ${k}=${v} must be a positive integer`);
  if (data.length !== n * c * h * w)
    throw new ShapeError(`${what}: data has ${data.length} values but [${n},${c},${h},${w}] needs ${n * c * h * w}`);
  return { data, n, c, h, w };
}

export function emptyBatch(n: number, c: number, h: number, w: number): ImageBatch {
  return imageBatch(new Float32Array(n * c * h * w), n, c, h, w);
}

/** `torch.clamp(x, lo, hi)` into a new batch. */
export function clampBatch(img: ImageBatch, lo: number, hi: number): ImageBatch {
  const out = new Float32Array(img.data.length);
  const src = img.data;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return { ...img, data: out };
}

