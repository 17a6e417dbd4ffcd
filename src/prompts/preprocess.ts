/**
 * The classifier's input transform. Default: torchvision 0.14
 * `ResNet50_Weights.DEFAULT.transforms()` — the weights test_pasd.py loads (DEFAULT is
 * IMAGENET1K_V2, whose `ImageClassification` preset resizes to 232, not V1's 256). On a PIL
 * image that preset runs: Resize(shorter side → size, bilinear; PIL's resize, antialiased by
 * construction), CenterCrop(crop), PILToTensor, ConvertImageDtype(float) (÷255),
 * Normalize(mean, std). Other classifiers describe theirs in `preprocess.json`.
 */
import { ConfigError } from '../core/errors.ts';
import { roundHalfEven } from '../core/round.ts';
import { type Image, asRgb, makeImage } from '../image/image.ts';
import { torchvisionResize } from '../image/resample.ts';
import type { HostTensor } from '../runtime/session.ts';

export interface ClassifierPreprocess {
  /** The shorter side is resized to this (torchvision `resize_size`). */
  readonly size: number;
  /** Side of the centred square crop; the model's input is [1, 3, crop, crop]. */
  readonly crop: number;
  /** Per-channel (R, G, B) mean and std of `Normalize`, on values in [0, 1]. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

export const RESNET50_PREPROCESS: ClassifierPreprocess = Object.freeze({
  size: 232, crop: 224, mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const,
});

const KEYS = ['size', 'crop', 'mean', 'std'] as const;

function triple(v: unknown, key: string, what: string, positive: boolean): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0)))
    throw new ConfigError(`${what}: "${key}" must be 3 ${positive ? 'positive ' : ''}numbers (R, G, B), got ${JSON.stringify(v)}`);
  return [v[0], v[1], v[2]];
}

/**
 * A `preprocess.json` object → a checked transform; missing keys take the ResNet-50 values,
 * unknown keys are refused (a misspelt key would otherwise silently keep the default).
 */
export function parsePreprocess(json: unknown, what = 'preprocess.json'): ClassifierPreprocess {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ConfigError(`${what}: expected a JSON object with keys ${KEYS.join(', ')}`);
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new ConfigError(`${what}: unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')} (allowed: ${KEYS.join(', ')})`);
  const int = (key: 'size' | 'crop'): number => {
    const v = o[key] ?? RESNET50_PREPROCESS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${what}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const size = int('size'), crop = int('crop');
  // torchvision pads a crop larger than the image; with crop ≤ size that never happens.
  if (crop > size) throw new ConfigError(`${what}: "crop" (${crop}) must not exceed "size" (${size})`);
  const mean = o.mean === undefined ? RESNET50_PREPROCESS.mean : triple(o.mean, 'mean', what, false);
  const std = o.std === undefined ? RESNET50_PREPROCESS.std : triple(o.std, 'std', what, true);
  return Object.freeze({ size, crop, mean, std });
}

/**
 * torchvision 0.14 `F.center_crop` offsets: `int(round((side - crop) / 2))`, Python's round
 * (half to even), so 1 spare row puts the crop at the top, 3 spare rows leave 2 above it.
 */
export function centerCropOffset(side: number, crop: number): number {
  return roundHalfEven((side - crop) / 2);
}

function centerCrop(img: Image, crop: number): Image {
  const top = centerCropOffset(img.height, crop), left = centerCropOffset(img.width, crop);
  const c = img.channels, out = makeImage(crop, crop, c);
  for (let y = 0; y < crop; y++) {
    const from = ((top + y) * img.width + left) * c;
    out.data.set(img.data.subarray(from, from + crop * c), y * crop * c);
  }
  return out;
}

/** RGB image → the classifier's float32 [1, 3, crop, crop] input. */
export function classifierInput(image: Image, p: ClassifierPreprocess): HostTensor & { readonly data: Float32Array } {
  const img = centerCrop(torchvisionResize(asRgb(image, 'classifier input'), p.size, { filter: 'bilinear' }), p.crop);
  const n = p.crop * p.crop, data = new Float32Array(3 * n);
  for (let ch = 0; ch < 3; ch++) {
    // float32 steps as torch takes them: x/255, then (x − mean)/std.
    const mean = Math.fround(p.mean[ch]), std = Math.fround(p.std[ch]);
    for (let i = 0; i < n; i++) data[ch * n + i] = Math.fround(Math.fround(img.data[i * 3 + ch] / 255) - mean) / std;
  }
  return { dtype: 'float32', shape: [1, 3, p.crop, p.crop], data };
}
