/**
 * High-level information for the prompt (yangxy/PASD `test_pasd.py`, `get_validation_prompt`):
 * a provider looks at the input image and names what it shows ("tomato"); the user prompt
 * and that description are then joined the way the original builds its validation prompt,
 * before the pipeline appends the added prompt.
 */
import type { Image } from '../image/image.ts';

/**
 * Something that describes an image in a few words for the prompt: an image classifier
 * (./classifier.ts), later a detector or a captioner. `null` (or '') means "nothing
 * confident to say"; the user prompt is then used alone.
 */
export interface PromptProvider {
  describe(image: Image): Promise<string | null>;
  /** Frees the provider's resources (e.g. its onnxruntime session). */
  release?(): Promise<void>;
}

/**
 * The user prompt and the description joined by ", ", empty parts left out
 * ("a photo" + "tomato" → "a photo, tomato"). This is the text before the original's trailing
 * ", "; the colorization prompt (src/pipelines/colorize.ts) starts from it.
 */
export function promptSubject(userPrompt: string, description: string | null): string {
  return [userPrompt, description ?? ''].filter((s) => s !== '').join(', ');
}

/**
 * test_pasd.py `get_validation_prompt`: `"{prompt}, {class}, "`, `"{class}, "`, `"{prompt}, "`
 * or `""`. The added prompt is appended to this directly.
 *
 * One deliberate difference: with classification on and the top class below the threshold,
 * the original returns "" and so drops the user's own prompt (its `validation_prompt` is only
 * assigned when `score >= 0.1`); here the user prompt is kept, as without high-level info.
 */
export function validationPrompt(userPrompt: string, description: string | null): string {
  const subject = promptSubject(userPrompt, description);
  return subject === '' ? '' : `${subject}, `;
}
