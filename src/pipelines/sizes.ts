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
