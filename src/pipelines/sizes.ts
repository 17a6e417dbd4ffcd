/**
 * test_pasd.py's size rules for Real-ISR: resize ×upscale (PIL default filter, bicubic);
 * if the shorter side is below `processSize`, torchvision Resize(processSize, bilinear);
 * floor both sides to multiples of the VAE factor (8 for SD); at the end the output is resized back to exactly
 * input × upscale. Colorization always applies Resize(processSize, max_size = 2·processSize).
 */
import { torchvisionResizeSize } from '../image/resample.ts';

export interface ProcessingSizes {
  /** Size after ×upscale. */
  readonly upscaled: readonly [number, number];
  /** Size after the process-size rule, before flooring (null: rule not applied). */
  readonly preprocessed: readonly [number, number] | null;
  /** The size the network runs at (multiples of `multiple`, the VAE factor). */
  readonly network: readonly [number, number];
  /** Final output size. */
  readonly output: readonly [number, number];
}

/** Sizes are [width, height]. */
export function processingSizes(width: number, height: number, o: { upscale: number; processSize: number; colorization?: boolean; multiple?: number }): ProcessingSizes {
  const m = o.multiple ?? 8;
  const r = o.colorization ? 1 : o.upscale;
  const upscaled: [number, number] = [width * r, height * r];
  let cur: [number, number] = upscaled;
  let preprocessed: [number, number] | null = null;
  if (o.colorization || Math.min(...upscaled) < o.processSize) {
    const [w, h] = torchvisionResizeSize(upscaled[0], upscaled[1], o.processSize, o.colorization ? 2 * o.processSize : undefined);
    preprocessed = cur = [w, h];
  }
  const network: [number, number] = [Math.floor(cur[0] / m) * m, Math.floor(cur[1] / m) * m];
  return { upscaled, preprocessed, network, output: o.colorization ? [width, height] : upscaled };
}

/**
 * Default cap on the pixels the network runs at (width × height of `network`): 4096², ≈3.5 GB
 * at WORK_BYTES_PER_PIXEL. Input and output caps alone do not bound it: the process-size rule
 * lifts the *shorter* side, so a 2000×2 input at process size 576 would run at 576000×576.
 */
export const DEFAULT_MAX_WORK_PIXELS = 4096 * 4096;

/**
 * Host memory a run holds per network pixel: the image, control and latent tensors, the decoded
 * sample and the colour fix (mini model, 1 sample, 1024²→2048×512 vs 2048²: 0.58 → 1.19 GB peak RSS).
 */
export const WORK_BYTES_PER_PIXEL = 200;

/**
 * Checks, before any work, the size the network would run at for a `width`×`height` input
 * (the sizes.ts rules before flooring, so an upper bound); returns null when it is within
 * `maxWorkPixels`, else a message naming the sizes, the estimated memory and the cap (the
 * caller adds the option that raises it).
 */
export function workSizeProblem(width: number, height: number, o: { upscale: number; processSize: number; colorization?: boolean }, maxWorkPixels: number): string | null {
  const [w, h] = processingSizes(width, height, { ...o, multiple: 1 }).network;
  if (w * h <= maxWorkPixels) return null;
  const gib = (w * h * WORK_BYTES_PER_PIXEL) / 2 ** 30;
  return `${width}x${height} at scale ${o.colorization ? 1 : o.upscale} and process size ${o.processSize} runs the network at ${w}x${h} = ${w * h} pixels ` +
    `(≈${gib.toFixed(1)} GiB of memory), more than the cap of ${maxWorkPixels} working pixels (the process size lifts the shorter side; a thin image grows along the long one)`;
}
