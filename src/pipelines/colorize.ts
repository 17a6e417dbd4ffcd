/**
 * Colorization (yangxy/PASD `test_pasd.py --control_type grayscale`, usually with
 * `--use_pasd_light`): the pieces around the denoising run that differ from Real-ISR.
 * - the input is made grey first (PIL `convert('L').convert('RGB')`), so a colour photo is
 *   recoloured from its luma alone;
 * - the prompt has "black and white" replaced by "color" and no added prompt; the negative
 *   prompt is fixed to "b&w, color bleeding" (these option rules are in ./options.ts);
 * - the network size comes from Resize(process_size, max_size = 2·process_size) applied
 *   always (src/pipelines/sizes.ts), there is no upscale and no wavelet colour fix;
 * - the result keeps the grey input's luma and takes only the chroma of the generated image,
 *   brought back to the input size with OpenCV's bilinear resize (cv2 YUV merge).
 */
import { grayToRgb, mergeLumaChroma, rgbToGray } from '../image/color.ts';
import { cvResizeLinear } from '../image/cv-resize.ts';
import type { Image, RgbImage } from '../image/image.ts';
import { type Description, validationPrompt } from '../prompts/provider.ts';

/** test_pasd.py: `get_validation_prompt` (e.g. `f"{prompt}, "`, empty stays empty), every "black and white" → "color". */
export function colorizationPrompt(prompt: string, description: Description | null = null): string {
  return validationPrompt(prompt, description).replaceAll('black and white', 'color');
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
