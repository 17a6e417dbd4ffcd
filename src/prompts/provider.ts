/**
 * High-level information for the prompt (yangxy/PASD `test_pasd.py`, `get_validation_prompt`):
 * a provider looks at the input image and says what it shows — a caption, the detected objects
 * or the top ImageNet class — and the user prompt and that description are joined by the
 * original's rule for that kind, before the pipeline appends the added prompt.
 */
import type { Image } from '../image/image.ts';

/** test_pasd.py `--high_level_info` (its default is caption; ours is none unless a model is given). */
export const HIGH_LEVEL_INFO = ['caption', 'detection', 'classification', 'none'] as const;
export type HighLevelInfo = (typeof HIGH_LEVEL_INFO)[number];

/** test_pasd.py keeps the top class when `score >= 0.1`. */
export const CLASS_THRESHOLD = 0.1;

/**
 * What a provider saw, in the form its kind's prompt rule needs:
 * - caption: the generated text and how the original joins it to the user prompt — `blip`
 *   (`--use_blip`, "{caption}, {prompt}") or `coca` (its default open_clip CoCa, "{caption} {prompt}");
 * - detection: one class name per kept detection, in the detector's order (ultralytics: by
 *   falling confidence);
 * - classification: the top-1 class and its softmax probability.
 */
export type Description =
  | { readonly kind: 'caption'; readonly text: string; readonly join: 'blip' | 'coca' }
  | { readonly kind: 'detection'; readonly names: readonly string[] }
  | { readonly kind: 'classification'; readonly label: string; readonly probability: number };

/** Something that describes an image for the prompt: a captioner, a detector or a classifier. */
export interface PromptProvider {
  readonly kind: Exclude<HighLevelInfo, 'none'>;
  describe(image: Image): Promise<Description>;
  /** Frees the provider's resources (e.g. its onnxruntime sessions). */
  release?(): Promise<void>;
}

/** test_pasd.py's detection text: "{count} {name}, " per class name, in the order names are first seen. */
export function detectionCounts(names: readonly string[]): string {
  const count = new Map<string, number>();
  for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
  return [...count].map(([n, c]) => `${c} ${n}, `).join('');
}

/** test_pasd.py's caption clean-up: every "blurry" → "clear", then every "noisy" → "clean" (Python `str.replace`). */
export function cleanCaption(caption: string): string {
  return caption.replaceAll('blurry', 'clear').replaceAll('noisy', 'clean');
}

/**
 * test_pasd.py `get_validation_prompt`, per kind (`null`: none). The added prompt is appended
 * to the result directly.
 * - none: "{prompt}, " or "";
 * - classification: "{prompt}, {class}, " or "{class}, " when p ≥ 0.1;
 * - detection: "{prompt}, {counts}" or "{counts}" (counts may be empty: "{prompt}, ");
 * - caption: "{caption}, {prompt}" (BLIP) or "{caption} {prompt}" (CoCa), or "{caption}".
 * Two deliberate differences, both documented in docs/DESIGN.md §4:
 * - classification below the threshold: the original returns "" and so drops the user's own
 *   prompt (its `validation_prompt` is only assigned when `score >= 0.1`); here the user prompt
 *   is kept, as without high-level info;
 * - caption: the original ends without ", ", so its added prompt fuses with the caption's last
 *   word ("…on grassclean, high-resolution"); here ", " ends it as in every other branch.
 */
export function validationPrompt(userPrompt: string, d: Description | null): string {
  const withUser = (text: string) => (userPrompt === '' ? text : `${userPrompt}, ${text}`);
  switch (d?.kind) {
    case undefined:
      return withUser('');
    case 'classification':
      return withUser(d.probability >= CLASS_THRESHOLD ? `${d.label}, ` : '');
    case 'detection':
      return withUser(detectionCounts(d.names));
    case 'caption': {
      const caption = cleanCaption(d.text);
      const text = userPrompt === '' ? caption : `${caption}${d.join === 'blip' ? ', ' : ' '}${userPrompt}`;
      return text === '' ? '' : `${text}, `;
    }
  }
}
