/**
 * Training samples from a folder of HR images (PASD `pasd/dataloader/realesrgan.py` and the
 * dataset of train_pasd.py): a random `resolution`² crop (images with a shorter side are
 * first resized up, bicubic), a random horizontal flip, and the control image made from the
 * crop — the Real-ESRGAN second-order degradation resized back to the crop size (realisr), a
 * bicubic ×1/scale then ×scale (the `train` fixtures' simple stand-in), or the grayscale crop
 * (colorization). The caption is the `.txt` file beside the image (empty if none), replaced
 * by "" with probability `proportionEmptyPrompts`.
 *
 * Every draw of sample `i` comes from a generator seeded by (seed, i), so a sample does not
 * depend on which worker made it or when, and a resumed run sees the same data.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { imageBatch } from '../degrade/batch.ts';
import { type DegradationConfig } from '../degrade/config.ts';
import { degradeImage } from '../degrade/pipeline.ts';
import { readImage } from '../image/codec-node.ts';
import { grayToRgb, rgbToGray } from '../image/color.ts';
import { type Image, makeImage, toTensor } from '../image/image.ts';
import { resize } from '../image/resample.ts';

export type Degradation = 'realesrgan' | 'bicubic' | 'grayscale';

export interface DatasetOptions {
  resolution: number;
  degradation: Degradation;
  /** Degradation scale of 'bicubic' (the Real-ESRGAN one comes from its config). */
  scale: number;
  proportionEmptyPrompts: number;
  seed: number;
  degradationConfig?: DegradationConfig;
}

export interface Sample {
  /** [3, R, R] in [-1, 1]. */
  pixelValues: Float32Array;
  /** [3, R, R] in [0, 1]. */
  cond: Float32Array;
  caption: string;
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff']);

/** Image files below `dir` (recursive), sorted, so an index names the same file on every run. */
export function listImages(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--data ${dir}: not a folder`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (IMAGE_EXT.has(extname(n).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  if (!out.length) throw new InputError(`--data ${dir}: no images (${[...IMAGE_EXT].join(', ')}) found`);
  return out;
}

/** A 53-bit seed from integers (splitmix-style mixing), for per-sample and per-step generators. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9, l = 0x85ebca6b;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) ^ Math.imul(l, 0xc2b2ae35);
    l = Math.imul(l ^ Math.floor(p / 2 ** 32), 0x27d4eb2f) ^ (h >>> 15);
  }
  return ((h >>> 0) % 2 ** 21) * 2 ** 32 + (l >>> 0);
}

function crop(img: Image, x: number, y: number, size: number): Image {
  const c = img.channels;
  const out = new Uint8Array(size * size * c);
  for (let r = 0; r < size; r++) out.set(img.data.subarray(((y + r) * img.width + x) * c, ((y + r) * img.width + x + size) * c), r * size * c);
  return makeImage(size, size, c, out);
}

function hflip(img: Image): Image {
  const { width: w, height: h, channels: c } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = img.data[(y * w + w - 1 - x) * c + k];
  return makeImage(w, h, c, out);
}

function captionOf(file: string): string {
  const txt = file.slice(0, file.length - extname(file).length) + '.txt';
  return existsSync(txt) ? readFileSync(txt, 'utf8').trim() : '';
}

/** Sample `index` (global, across epochs) of `file`. */
export async function loadSample(file: string, index: number, o: DatasetOptions): Promise<Sample> {
  const rng = new Random(mixSeed(o.seed, 1, index));
  const R = o.resolution;
  let img: Image = (await readImage(file)).rgb;
  const short = Math.min(img.width, img.height);
  if (short < R) img = resize(img, Math.max(R, Math.round((img.width * R) / short)), Math.max(R, Math.round((img.height * R) / short)), 'bicubic');
  img = crop(img, rng.randint(0, img.width - R + 1), rng.randint(0, img.height - R + 1), R);
  if (rng.uniform() < 0.5) img = hflip(img);
  const hr = toTensor(img).data;
  let cond: Float32Array;
  if (o.degradation === 'grayscale') cond = toTensor(grayToRgb(rgbToGray(img))).data;
  else if (o.degradation === 'bicubic') {
    const lr = resize(img, Math.max(1, Math.floor(R / o.scale)), Math.max(1, Math.floor(R / o.scale)), 'bicubic');
    cond = toTensor(resize(lr, R, R, 'bicubic')).data;
  } else {
    const { lq } = await degradeImage(imageBatch(hr, 1, 3, R, R, file), rng, { config: o.degradationConfig, resizeBack: true, name: file });
    cond = lq.data;
  }
  const pixelValues = new Float32Array(hr.length);
  for (let i = 0; i < hr.length; i++) pixelValues[i] = hr[i] * 2 - 1;
  const caption = rng.uniform() < o.proportionEmptyPrompts ? '' : captionOf(file);
  return { pixelValues, cond, caption };
}

/** The file of global sample `index`: a seeded permutation of the files per epoch. */
export function fileOfSample(files: number, index: number, seed: number): number {
  const epoch = Math.floor(index / files);
  const rng = new Random(mixSeed(seed, 2, epoch));
  const perm = Array.from({ length: files }, (_, i) => i);
  for (let i = files - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm[index % files];
}
