/**
 * Colorization (yangxy/PASD `test_pasd.py --control_type grayscale`, usually with
 * `--use_pasd_light`): the pieces around the denoising run that differ from Real-ISR.
 * - the input is made grey first (PIL `convert('L').convert('RGB')`), so a colour photo is
 *   recoloured from its luma alone;
 * - the prompt has "black and white" replaced by "color" and no added prompt; the negative
 *   prompt is fixed to "b&w, color bleeding";
 * - the network size comes from Resize(process_size, max_size = 2·process_size) applied
 *   always (src/pipelines/sizes.ts), there is no upscale and no wavelet colour fix;
 * - the result keeps the grey input's luma and takes only the chroma of the generated image,
 *   brought back to the input size with OpenCV's bilinear resize (cv2 YUV merge).
 */
import { InputError } from '../core/errors.ts';
import { grayToRgb, mergeLumaChroma, rgbToGray } from '../image/color.ts';
import { cvResizeLinear } from '../image/cv-resize.ts';
import type { Image, RgbImage } from '../image/image.ts';

export const COLORIZATION_NEGATIVE_PROMPT = 'b&w, color bleeding';

/** test_pasd.py: `f"{prompt}, "` (empty stays empty), every "black and white" → "color". */
export function colorizationPrompt(prompt: string): string {
  return (prompt === '' ? '' : `${prompt}, `).replaceAll('black and white', 'color');
}

/**
 * Options the original's grayscale mode has no use for are refused rather than dropped
 * (upscale other than 1, a colour fix, an added prompt).
 */
export function checkColorizationOptions(o: { upscale?: number; colorFix?: string; addedPrompt?: string }): void {
  if (o.upscale !== undefined && o.upscale !== 1) throw new InputError(`colorization keeps the input size: upscale must be 1, got ${o.upscale}`);
  if (o.colorFix !== undefined && o.colorFix !== 'none') throw new InputError(`colorization takes no colour fix (it keeps the input's luma): got colorFix '${o.colorFix}'`);
  if (o.addedPrompt !== undefined) throw new InputError('colorization uses the prompt alone: leave addedPrompt unset');
}

/** PIL `image.convert('L').convert('RGB')`: the grey input the pipeline sees and whose luma the result keeps. */
export function grayInput(input: Image): RgbImage {
  return grayToRgb(rgbToGray(input));
}

/**
 * The final image: Y of `gray` (cv2 BGR2YUV) with U, V of `generated` resized to the input
 * size by `cv2.resize` (INTER_LINEAR), converted back (cv2 YUV2BGR).
 */
export function mergeColorization(gray: Image, generated: Image): RgbImage {
  return mergeLumaChroma(gray, cvResizeLinear(generated, gray.width, gray.height));
}
