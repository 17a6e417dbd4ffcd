/**
 * The Real-ESRGAN second-order degradation of PASD's `pasd/dataloader/realesrgan.py`
 * (RealESRGAN_degradation.random_kernels + degrade_process), on one HR image:
 *
 *   blur(k1) → resize (up/down/keep, random mode) → Gaussian or Poisson noise → JPEG
 *   → [blur(k2) with second_blur_prob] → resize to (ori/scale)·s2 → noise → then, in random order,
 *   [resize to ori/scale + final sinc filter] and JPEG → round to 8 bits.
 *
 * Every range comes from a `DegradationConfig` (params_realesrgan.yml) and every draw from one
 * explicit generator, in the original's order (which mixes Python, numpy and torch generators
 * there; ours is one stream, so numbers differ from the original's for the same seed).
 * Returns the (optionally flipped / sharpened) GT, the LQ image and a record of every choice.
 */
import { InputError, ShapeError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { type ImageBatch, clampBatch } from './batch.ts';
import { roundHalfEven } from '../core/round.ts';
import { DEFAULT_DEGRADATION_CONFIG, type DegradationConfig } from './config.ts';
import { diffJpeg } from './diffjpeg.ts';
import { filter2D } from './filter.ts';
import { codecJpeg } from './jpeg-codec.ts';
import { type Kernel, type KernelParams, type MixedKernelRanges, circularLowpassKernel, padKernel, pulseKernel, randomMixedKernel } from './kernels.ts';
import { addGaussianNoise, addPoissonNoise, drawsFromRandom, grayscale } from './noise.ts';
import { RESIZE_MODES, type ResizeMode, interpolate } from './resize.ts';
import { choice, uniformIn, weightedChoice } from './rng.ts';
import { usmSharp } from './usm.ts';

/** Kernel sizes 7, 9, …, 21 (realesrgan.py's kernel_range); every kernel is padded to 21. */
const KERNEL_SIZES = [7, 9, 11, 13, 15, 17, 19, 21];
const PADDED = 21;

export type JpegBackend = 'diffjpeg' | 'codec';

export interface DegradeOptions {
  /** Default: params_realesrgan.yml. */
  readonly config?: DegradationConfig;
  /** 'diffjpeg' (default, the original's DiffJPEG) or 'codec' (libjpeg through sharp). */
  readonly jpeg?: JpegBackend;
  /** Random horizontal flip of the GT first (p = 0.5), as the original's random_augment. Default false. */
  readonly hflip?: boolean;
  /** USM-sharpen the GT before degrading (commented out in PASD, on in Real-ESRGAN). Default false. */
  readonly usmSharpGt?: boolean;
  /** Resize the LQ back to the GT size at the end (the original's resize_bak). Default false. */
  readonly resizeBack?: boolean;
  /** Names the input in error messages. */
  readonly name?: string;
}

export type NoiseRecord = { kind: 'gaussian'; sigma: number; gray: boolean } | { kind: 'poisson'; scale: number; gray: boolean };
export interface ResizeRecord { direction: 'up' | 'down' | 'keep'; scale: number; mode: ResizeMode; size: [number, number] }

/** Every random choice of one degradation, enough to explain (and reproduce) the LQ image. */
export interface DegradationRecord {
  hflip: boolean;
  kernel1: KernelParams;
  kernel2: KernelParams;
  finalSinc: KernelParams;
  resize1: ResizeRecord;
  noise1: NoiseRecord;
  jpegQuality1: number;
  secondBlur: boolean;
  resize2: ResizeRecord;
  noise2: NoiseRecord;
  order: 'resize_sinc_then_jpeg' | 'jpeg_then_resize_sinc';
  finalResizeMode: ResizeMode;
  jpegQuality2: number;
  gray: boolean;
  resizeBackMode: ResizeMode | null;
}

export interface DegradeResult {
  readonly gt: ImageBatch;
  readonly lq: ImageBatch;
  readonly record: DegradationRecord;
}

function rangesOf(ki: DegradationConfig['kernel_info'], second: boolean): MixedKernelRanges {
  const sigma = second ? ki.blur_sigma2 : ki.blur_sigma;
  return {
    kernelList: second ? ki.kernel_list2 : ki.kernel_list,
    kernelProb: second ? ki.kernel_prob2 : ki.kernel_prob,
    sigmaXRange: sigma,
    sigmaYRange: sigma,
    rotationRange: [-Math.PI, Math.PI],
    betagRange: second ? ki.betag_range2 : ki.betag_range,
    betapRange: second ? ki.betap_range2 : ki.betap_range,
  };
}

/** The kernel of one degradation stage: a sinc with `sincProb`, else a random mixed kernel; padded to 21. */
function stageKernel(rng: RandomSource, sincProb: number, ranges: MixedKernelRanges): { kernel: Kernel; params: KernelParams } {
  const size = choice(rng, KERNEL_SIZES);
  let k: { kernel: Kernel; params: KernelParams };
  if (rng.uniform() < sincProb) {
    // This sinc setting is for kernel sizes 7..21 (the original's comment).
    const cutoff = size < 13 ? uniformIn(rng, Math.PI / 3, Math.PI) : uniformIn(rng, Math.PI / 5, Math.PI);
    k = { kernel: circularLowpassKernel(cutoff, size), params: { type: 'sinc', size, cutoff, padTo: 0 } };
  } else {
    k = randomMixedKernel(rng, size, ranges);
  }
  return { kernel: toF32(padKernel(k.kernel, PADDED)), params: k.params };
}

/** The original hands kernels to filter2D as float32 tensors. */
function toF32(k: Kernel): Kernel {
  return { size: k.size, data: Float32Array.from(k.data) };
}

/** random_kernels(): first-stage, second-stage and final sinc kernels, in the original's draw order. */
function randomKernels(rng: RandomSource, cfg: DegradationConfig): { k1: Kernel; k2: Kernel; sinc: Kernel; params: [KernelParams, KernelParams, KernelParams] } {
  const ki = cfg.kernel_info;
  const a = stageKernel(rng, ki.sinc_prob, rangesOf(ki, false));
  const b = stageKernel(rng, ki.sinc_prob2, rangesOf(ki, true));
  let sinc: Kernel;
  let sincParams: KernelParams;
  if (rng.uniform() < ki.final_sinc_prob) {
    const size = choice(rng, KERNEL_SIZES);
    const cutoff = uniformIn(rng, Math.PI / 3, Math.PI);
    sinc = toF32(circularLowpassKernel(cutoff, size, PADDED));
    sincParams = { type: 'sinc', size, cutoff, padTo: PADDED };
  } else {
    sinc = pulseKernel(PADDED);
    sincParams = { type: 'pulse', size: PADDED };
  }
  return { k1: a.kernel, k2: b.kernel, sinc, params: [a.params, b.params, sincParams] };
}

function randomResizeScale(rng: RandomSource, prob: readonly number[], range: readonly [number, number]): { direction: ResizeRecord['direction']; scale: number } {
  const direction = weightedChoice(rng, ['up', 'down', 'keep'] as const, prob);
  const scale = direction === 'up' ? uniformIn(rng, 1, range[1]) : direction === 'down' ? uniformIn(rng, range[0], 1) : 1;
  return { direction, scale };
}

/** random_add_gaussian_noise_pt / random_add_poisson_noise_pt with the stage's settings (batch of one). */
function randomNoise(rng: RandomSource, img: ImageBatch, gaussianProb: number, sigmaRange: readonly [number, number], poissonRange: readonly [number, number], grayProb: number): { out: ImageBatch; record: NoiseRecord } {
  const draws = drawsFromRandom(rng);
  const f = Math.fround;
  if (rng.uniform() < gaussianProb) {
    const sigma = f(f(rng.uniform()) * (sigmaRange[1] - sigmaRange[0]) + sigmaRange[0]);
    const gray = f(rng.uniform()) < grayProb;
    return { out: addGaussianNoise(img, [sigma], [gray ? 1 : 0], draws), record: { kind: 'gaussian', sigma, gray } };
  }
  const scale = f(f(rng.uniform()) * (poissonRange[1] - poissonRange[0]) + poissonRange[0]);
  const gray = f(rng.uniform()) < grayProb;
  return { out: addPoissonNoise(img, [scale], [gray ? 1 : 0], draws), record: { kind: 'poisson', scale, gray } };
}

/** Smallest side for which every stage of the pipeline has a valid size (reflect pads of 10 need > 10 px). */
function minimumSide(cfg: DegradationConfig): number {
  const ok = (d: number) => Math.floor(d * cfg.resize_range[0]) >= 1
    && Math.trunc((d / cfg.scale) * cfg.resize_range2[0]) > PADDED >> 1
    && Math.floor(d / cfg.scale) > PADDED >> 1;
  let d = PADDED;
  while (!ok(d)) d++;
  return d;
}

function hflipBatch(img: ImageBatch): ImageBatch {
  const out = new Float32Array(img.data.length);
  const { w } = img;
  for (let row = 0; row < img.n * img.c * img.h; row++)
    for (let x = 0; x < w; x++) out[row * w + x] = img.data[row * w + w - 1 - x];
  return { ...img, data: out };
}

/** Gray output (gray_prob): torchvision rgb_to_grayscale, replicated to 3 channels so the LQ stays RGB. */
function grayToRgb(img: ImageBatch): ImageBatch {
  const g = grayscale(img);
  const hw = img.h * img.w;
  const out = new Float32Array(3 * hw);
  for (let k = 0; k < 3; k++) out.set(g, k * hw);
  return { ...img, data: out };
}

/**
 * Degrades one HR image ([1, 3, H, W] in [0, 1]) into its LQ counterpart of size
 * floor(H/scale) × floor(W/scale) (or H × W with resizeBack), values multiples of 1/255.
 */
export async function degradeImage(hr: ImageBatch, rng: RandomSource, options: DegradeOptions = {}): Promise<DegradeResult> {
  const cfg = options.config ?? DEFAULT_DEGRADATION_CONFIG;
  const name = options.name ?? 'image';
  if (hr.n !== 1 || hr.c !== 3) throw new ShapeError(`degradeImage ${name}: expected one RGB image [1,3,H,W], got [${hr.n},${hr.c},${hr.h},${hr.w}]`);
  const minSide = minimumSide(cfg);
  if (hr.h < minSide || hr.w < minSide)
    throw new InputError(`${name}: ${hr.w}×${hr.h} is too small to degrade at scale ${cfg.scale}; both sides must be at least ${minSide} px`);
  const jpeg = (img: ImageBatch, q: number) => (options.jpeg === 'codec' ? codecJpeg(img, [q]) : diffJpeg(img, [q]));
  const jpegQuality = (range: readonly [number, number]) => Math.fround(uniformIn(rng, range[0], range[1]));
  const f = Math.fround;

  let gt = hr;
  const flipped = options.hflip === true && rng.uniform() < 0.5;
  if (flipped) gt = hflipBatch(gt);
  const { k1, k2, sinc, params } = randomKernels(rng, cfg);
  if (options.usmSharpGt === true) gt = usmSharp(gt);
  const [oriH, oriW] = [gt.h, gt.w];
  const sf = cfg.scale;

  // ----- first degradation: blur, random resize, noise, JPEG
  let out = filter2D(gt, k1);
  const r1 = randomResizeScale(rng, cfg.resize_prob, cfg.resize_range);
  const mode1 = choice(rng, RESIZE_MODES);
  out = interpolate(out, { scaleFactor: r1.scale, mode: mode1 });
  const resize1: ResizeRecord = { ...r1, mode: mode1, size: [out.h, out.w] };
  const n1 = randomNoise(rng, out, cfg.gaussian_noise_prob, cfg.noise_range, cfg.poisson_scale_range, cfg.gray_noise_prob);
  const q1 = jpegQuality(cfg.jpeg_range);
  out = await jpeg(clampBatch(n1.out, 0, 1), q1);

  // ----- second degradation: optional blur, resize relative to the target size, noise
  const secondBlur = rng.uniform() < cfg.second_blur_prob;
  if (secondBlur) out = filter2D(out, k2);
  const r2 = randomResizeScale(rng, cfg.resize_prob2, cfg.resize_range2);
  const mode2 = choice(rng, RESIZE_MODES);
  const size2: [number, number] = [Math.trunc((oriH / sf) * r2.scale), Math.trunc((oriW / sf) * r2.scale)];
  out = interpolate(out, { size: size2, mode: mode2 });
  const n2 = randomNoise(rng, out, cfg.gaussian_noise_prob2, cfg.noise_range2, cfg.poisson_scale_range2, cfg.gray_noise_prob2);
  out = n2.out;

  // ----- [resize back + sinc] and JPEG in random order (other orders give twisted lines, says the original)
  const finalSize: [number, number] = [Math.floor(oriH / sf), Math.floor(oriW / sf)];
  const sincFirst = rng.uniform() < 0.5;
  let finalMode: ResizeMode;
  let q2: number;
  if (sincFirst) {
    finalMode = choice(rng, RESIZE_MODES);
    out = filter2D(interpolate(out, { size: finalSize, mode: finalMode }), sinc);
    q2 = jpegQuality(cfg.jpeg_range2);
    out = await jpeg(clampBatch(out, 0, 1), q2);
  } else {
    q2 = jpegQuality(cfg.jpeg_range2);
    out = await jpeg(clampBatch(out, 0, 1), q2);
    finalMode = choice(rng, RESIZE_MODES);
    out = filter2D(interpolate(out, { size: finalSize, mode: finalMode }), sinc);
  }

  const gray = rng.uniform() < cfg.gray_prob;
  if (gray) out = grayToRgb(out);
  // color_jitter_prob is validated to be 0; the draw is kept so the stream matches the original's shape.
  rng.uniform();
  let resizeBackMode: ResizeMode | null = null;
  if (options.resizeBack === true) {
    resizeBackMode = choice(rng, RESIZE_MODES);
    out = interpolate(out, { size: [oriH, oriW], mode: resizeBackMode });
  }

  // clamp and round to 8-bit levels
  const lq = new Float32Array(out.data.length);
  for (let i = 0; i < lq.length; i++) {
    const r = roundHalfEven(f(out.data[i] * 255));
    lq[i] = f((r < 0 ? 0 : r > 255 ? 255 : r) / 255);
  }
  const record: DegradationRecord = {
    hflip: flipped,
    kernel1: params[0],
    kernel2: params[1],
    finalSinc: params[2],
    resize1,
    noise1: n1.record,
    jpegQuality1: q1,
    secondBlur,
    resize2: { ...r2, mode: mode2, size: size2 },
    noise2: n2.record,
    order: sincFirst ? 'resize_sinc_then_jpeg' : 'jpeg_then_resize_sinc',
    finalResizeMode: finalMode,
    jpegQuality2: q2,
    gray,
    resizeBackMode,
  };
  return { gt, lq: { ...out, data: lq }, record };
}
