/**
 * Gaussian and Poisson noise of PASD's `pasd/dataloader/basicsr/data/degradations.py`
 * (generate_/add_gaussian_noise_pt, generate_/add_poisson_noise_pt, rgb_to_grayscale from
 * torchvision), batched, with per-sample strength and per-sample gray flags.
 *
 * Every random draw goes through a `NoiseDraws`, in the original's consumption order, so tests
 * can replay the fixture's stored draws and the pipeline can draw from its seeded generator.
 * The arithmetic emulates float32 step by step (Math.fround) where a rounding decision depends on
 * it (the x·255 rounding before counting grey levels); that keeps the Poisson rates identical.
 */
import { ShapeError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { type ImageBatch } from './batch.ts';
import { roundHalfEven } from '../core/round.ts';
import { poisson } from './rng.ts';

const f = Math.fround;

/** The random draws the noise functions consume, in order. */
export interface NoiseDraws {
  /** `count` standard normal samples (torch.randn). */
  randn(count: number): ArrayLike<number>;
  /** One Poisson count per rate (torch.poisson). */
  poisson(rates: Float32Array): ArrayLike<number>;
}

/** Draws from a seeded generator. */
export function drawsFromRandom(rng: RandomSource): NoiseDraws {
  return {
    randn: (count) => rng.randn(count),
    poisson: (rates) => {
      const out = new Float32Array(rates.length);
      for (let i = 0; i < rates.length; i++) out[i] = poisson(rng, rates[i]);
      return out;
    },
  };
}

export interface NoiseOptions {
  /** Clamp the result to [0, 1] (default true, as the pipeline calls it). */
  readonly clip?: boolean;
  /** Round the result to multiples of 1/255 (default false). */
  readonly rounds?: boolean;
}

function perSample(values: ArrayLike<number>, n: number, what: string): Float32Array {
  if (values.length !== n) throw new ShapeError(`${what}: got ${values.length} values for a batch of ${n}`);
  return Float32Array.from(values);
}

function checkDraw(draw: ArrayLike<number>, count: number, what: string): void {
  if (draw.length !== count) throw new ShapeError(`${what}: the draw has ${draw.length} values, ${count} needed`);
}

/** The clip/rounds tail shared by add_gaussian_noise_pt and add_poisson_noise_pt. */
function finish(img: ImageBatch, noise: Float32Array, opts: NoiseOptions): ImageBatch {
  const clip = opts.clip ?? true;
  const rounds = opts.rounds ?? false;
  const out = new Float32Array(noise.length);
  for (let i = 0; i < out.length; i++) {
    let v = f(img.data[i] + noise[i]);
    if (rounds) v = f(roundHalfEven(f(v * 255)) / 255);
    if (clip) v = v < 0 ? 0 : v > 1 ? 1 : v;
    out[i] = v;
  }
  return { ...img, data: out };
}

/**
 * add_gaussian_noise_pt(img, sigma, gray_noise, clip, rounds): `sigma` per sample in 0..255
 * units, `gray` per sample (0 or 1). Draws: if any sample is gray, one (h, w) normal field shared
 * by every sample and channel; then always a full (n, c, h, w) colour field.
 */
export function addGaussianNoise(img: ImageBatch, sigma: ArrayLike<number>, gray: ArrayLike<number>, draws: NoiseDraws, opts: NoiseOptions = {}): ImageBatch {
  const { n, c, h, w } = img;
  const sig = perSample(sigma, n, 'addGaussianNoise sigma');
  const g = perSample(gray, n, 'addGaussianNoise gray');
  const hw = h * w;
  const anyGray = g.reduce((a, b) => a + b, 0) > 0;
  let grayField: ArrayLike<number> | null = null;
  if (anyGray) {
    grayField = draws.randn(hw);
    checkDraw(grayField, hw, 'addGaussianNoise gray draw');
  }
  const colour = draws.randn(n * c * hw);
  checkDraw(colour, n * c * hw, 'addGaussianNoise colour draw');
  const noise = new Float32Array(n * c * hw);
  for (let b = 0; b < n; b++) {
    const s = sig[b];
    const gb = g[b];
    for (let ch = 0; ch < c; ch++) {
      const off = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        let v = f(f(colour[off + i] * s) / 255);
        if (grayField !== null) v = f(f(v * f(1 - gb)) + f(f(f(grayField[i] * s) / 255) * gb));
        noise[off + i] = v;
      }
    }
  }
  return finish(img, noise, opts);
}

/** round-and-clip to 8-bit levels: clamp(round(x·255), 0, 255)/255 in float32. */
function quantize255(x: number): number {
  const r = roundHalfEven(f(x * 255));
  return f((r < 0 ? 0 : r > 255 ? 255 : r) / 255);
}

/**
 * `2^ceil(log2(#distinct values))` of one sample's quantized values: the number of levels the
 * Poisson rates are scaled by (the original counts torch.unique per sample).
 */
function levelCount(q: Float32Array, start: number, end: number): number {
  const seen = new Uint8Array(256);
  let count = 0;
  for (let i = start; i < end; i++) {
    const level = Math.round(q[i] * 255);
    if (seen[level] === 0) {
      seen[level] = 1;
      count++;
    }
  }
  return 2 ** Math.ceil(Math.log2(count));
}

/**
 * Poisson noise of quantized values `q` ([n, planes, hw]): rates q·vals per sample, counts from
 * `draws`, noise = counts/vals − q. Returns the noise.
 */
function shotNoise(q: Float32Array, n: number, perSampleSize: number, draws: NoiseDraws, what: string): Float32Array {
  const rates = new Float32Array(q.length);
  const vals = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    vals[b] = levelCount(q, b * perSampleSize, (b + 1) * perSampleSize);
    for (let i = b * perSampleSize; i < (b + 1) * perSampleSize; i++) rates[i] = f(q[i] * vals[b]);
  }
  const counts = draws.poisson(rates);
  checkDraw(counts, rates.length, what);
  const noise = new Float32Array(q.length);
  for (let b = 0; b < n; b++)
    for (let i = b * perSampleSize; i < (b + 1) * perSampleSize; i++) noise[i] = f(f(counts[i] / vals[b]) - q[i]);
  return noise;
}

/** torchvision rgb_to_grayscale: 0.2989·R + 0.587·G + 0.114·B in float32, one channel. */
export function grayscale(img: ImageBatch): Float32Array {
  const { n, c, h, w } = img;
  if (c !== 3) throw new ShapeError(`grayscale: expected 3 channels, got ${c}`);
  const hw = h * w;
  const out = new Float32Array(n * hw);
  const kr = f(0.2989), kg = f(0.587), kb = f(0.114);
  for (let b = 0; b < n; b++) {
    const o = b * 3 * hw;
    for (let i = 0; i < hw; i++)
      out[b * hw + i] = f(f(f(kr * img.data[o + i]) + f(kg * img.data[o + hw + i])) + f(kb * img.data[o + 2 * hw + i]));
  }
  return out;
}

/**
 * add_poisson_noise_pt(img, scale, gray_noise, clip, rounds): `scale` and `gray` per sample.
 * Draws: if any sample is gray, Poisson counts for the (n, 1, h, w) grayscale rates; then always
 * counts for the (n, c, h, w) colour rates.
 */
export function addPoissonNoise(img: ImageBatch, scale: ArrayLike<number>, gray: ArrayLike<number>, draws: NoiseDraws, opts: NoiseOptions = {}): ImageBatch {
  const { n, c, h, w } = img;
  const sc = perSample(scale, n, 'addPoissonNoise scale');
  const g = perSample(gray, n, 'addPoissonNoise gray');
  const hw = h * w;
  const anyGray = g.reduce((a, b) => a + b, 0) > 0;
  let grayNoise: Float32Array | null = null;
  if (anyGray) grayNoise = shotNoise(grayscale(img).map(quantize255), n, hw, draws, 'addPoissonNoise gray draw');
  const colourNoise = shotNoise(img.data.map(quantize255), n, c * hw, draws, 'addPoissonNoise colour draw');
  const noise = new Float32Array(n * c * hw);
  for (let b = 0; b < n; b++) {
    const gb = g[b];
    for (let ch = 0; ch < c; ch++) {
      const off = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        let v = colourNoise[off + i];
        if (grayNoise !== null) v = f(f(v * f(1 - gb)) + f(grayNoise[b * hw + i] * gb));
        noise[off + i] = f(v * sc[b]);
      }
    }
  }
  return finish(img, noise, opts);
}
