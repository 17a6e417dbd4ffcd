/**
 * torch.nn.functional.interpolate for NCHW float images, modes 'area', 'bilinear' and 'bicubic'
 * with align_corners=False (the calls in PASD's `pasd/dataloader/realesrgan.py`).
 *
 * Torch's rules (aten/src/ATen/native/UpSample.h, AdaptiveAveragePooling.cpp):
 * - with `scaleFactor`, the output size is floor(in·scale) and, since recompute_scale_factor is
 *   None, bilinear/bicubic map coordinates with 1/scale, not in/out;
 * - 'area' is adaptive_avg_pool2d: output i averages input [floor(i·in/out), ceil((i+1)·in/out));
 * - 'bilinear': src = max(scale·(dst+0.5)−0.5, 0), the right neighbour clamped at the border;
 * - 'bicubic': src = scale·(dst+0.5)−0.5 (not clamped), Keys' cubic with A = −0.75, the four
 *   tap indices clamped to [0, in−1].
 * Every mode is separable, so each is applied as a width pass then a height pass.
 */
import { ShapeError } from '../core/errors.ts';
import { type ImageBatch, emptyBatch } from './batch.ts';

export const RESIZE_MODES = ['area', 'bilinear', 'bicubic'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

export interface InterpolateOptions {
  readonly mode: ResizeMode;
  /** Target [height, width]; exclusive with scaleFactor. */
  readonly size?: readonly [number, number];
  readonly scaleFactor?: number;
}

/** Sparse 1-D resampling matrix: output o reads idx[start[o] .. start[o+1]) with weights wt. */
interface Taps {
  readonly start: Int32Array;
  readonly idx: Int32Array;
  readonly wt: Float64Array;
}

const CUBIC_A = -0.75;

function cubic1(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}

function cubic2(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

function buildTaps(inSize: number, outSize: number, mode: ResizeMode, scaleFactor: number | undefined): Taps {
  const idx: number[] = [];
  const wt: number[] = [];
  const start = new Int32Array(outSize + 1);
  // Coordinate scale of bilinear/bicubic: 1/scale_factor when given, else in/out.
  const scale = scaleFactor !== undefined && scaleFactor > 0 ? 1 / scaleFactor : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    start[o] = idx.length;
    if (mode === 'area') {
      const a = Math.floor((o * inSize) / outSize);
      const b = Math.ceil(((o + 1) * inSize) / outSize);
      for (let i = a; i < b; i++) {
        idx.push(i);
        wt.push(1 / (b - a));
      }
    } else if (mode === 'bilinear') {
      const src = Math.max(scale * (o + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const lambda = src - i0;
      idx.push(i0, i0 < inSize - 1 ? i0 + 1 : i0);
      wt.push(1 - lambda, lambda);
    } else {
      const src = scale * (o + 0.5) - 0.5;
      const i0 = Math.floor(src);
      const t = src - i0;
      const ws = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
      for (let j = 0; j < 4; j++) {
        idx.push(Math.min(Math.max(i0 - 1 + j, 0), inSize - 1));
        wt.push(ws[j]);
      }
    }
  }
  start[outSize] = idx.length;
  return { start, idx: Int32Array.from(idx), wt: Float64Array.from(wt) };
}

/** Output size and the per-axis coordinate scale argument, following F.interpolate. */
function outputSize(img: ImageBatch, opts: InterpolateOptions): [number, number] {
  if ((opts.size === undefined) === (opts.scaleFactor === undefined))
    throw new ShapeError('interpolate: give exactly one of size or scaleFactor');
  if (opts.size !== undefined) {
    const [oh, ow] = opts.size;
    if (!Number.isSafeInteger(oh) || !Number.isSafeInteger(ow) || oh < 1 || ow < 1)
      throw new ShapeError(`interpolate: size [${oh}, ${ow}] must be positive integers`);
    return [oh, ow];
  }
  const s = opts.scaleFactor as number;
  if (!(s > 0) || !Number.isFinite(s)) throw new ShapeError(`interpolate: scaleFactor ${s} must be a positive number`);
  const oh = Math.floor(img.h * s);
  const ow = Math.floor(img.w * s);
  if (oh < 1 || ow < 1) throw new ShapeError(`interpolate: scaleFactor ${s} turns ${img.h}×${img.w} into an empty image`);
  return [oh, ow];
}

/** F.interpolate(img, size | scale_factor, mode, align_corners=False). */
export function interpolate(img: ImageBatch, opts: InterpolateOptions): ImageBatch {
  const [oh, ow] = outputSize(img, opts);
  const { n, c, h, w } = img;
  const th = buildTaps(h, oh, opts.mode, opts.scaleFactor);
  const tw = buildTaps(w, ow, opts.mode, opts.scaleFactor);
  const out = emptyBatch(n, c, oh, ow);
  const rows = new Float64Array(h * ow); // one plane after the width pass: [h, ow]
  const acc = new Float64Array(ow);
  for (let p = 0; p < n * c; p++) {
    const src = p * h * w;
    for (let y = 0; y < h; y++) {
      const r = src + y * w;
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let t = tw.start[x]; t < tw.start[x + 1]; t++) s += tw.wt[t] * img.data[r + tw.idx[t]];
        rows[y * ow + x] = s;
      }
    }
    // Height pass as whole-row multiply-adds: contiguous memory instead of a column walk.
    for (let y = 0; y < oh; y++) {
      acc.fill(0);
      for (let t = th.start[y]; t < th.start[y + 1]; t++) {
        const wt = th.wt[t];
        const r = th.idx[t] * ow;
        for (let x = 0; x < ow; x++) acc[x] += wt * rows[r + x];
      }
      out.data.set(acc, p * oh * ow + y * ow);
    }
  }
  return out;
}
