/**
 * Benchmark scoring: the classic SR protocol (BasicSR's test scripts and the papers' tables)
 * plus perceptual scores, a table of per-image and mean values, and side-by-side crops.
 *
 * - HR images are cropped to a multiple of the scale first (`modcrop`), so that LR·scale = HR.
 * - PSNR and SSIM on the Y channel (BasicSR coefficients) with `crop_border` = the scale.
 * - LPIPS (when a folder is given) on the whole RGB image, NIQE (no reference) on the whole
 *   Y image with crop 0, as BasicSR's `calculate_niqe(img, 0)`; both are undefined where they
 *   cannot be computed (NIQE needs two 96×96 blocks).
 * - HR images stored as grayscale files (1 channel; they decode to three equal channels):
 *   the MATLAB scripts behind the published tables measure a 2-D image as it is, without
 *   `rgb2ycbcr`, so with `grayPlane` the HR plane is compared with the output's luma
 *   round(0.299 R + 0.587 G + 0.114 B) (= the plane itself for a gray output). BasicSR, which
 *   reads every file as 3-channel BGR, measures Y = 16 + 219/255·gray instead, 20·log10(255/219)
 *   ≈ 1.32 dB more PSNR on such an image. (Set14's `bridge` is such a file; `man` is an RGB
 *   file with equal channels and goes through YCbCr in both protocols.)
 */
import { InputError } from '../core/errors.ts';
import { type Image, makeImage } from '../image/image.ts';
import type { LpipsMetric } from './lpips.ts';
import { niqe, niqeBlocks } from './niqe.ts';
import { psnr, ssim } from './psnr-ssim.ts';

export interface Scores {
  readonly psnr: number;
  readonly ssim: number;
  readonly lpips?: number;
  readonly niqe?: number;
}

export interface ScoreOptions {
  /** PSNR/SSIM border crop (the benchmarks use the scale). */
  readonly cropBorder: number;
  readonly lpips?: LpipsMetric | null;
  /** Compute NIQE (default true). */
  readonly niqe?: boolean;
  /** The HR file is grayscale: measure planes, not YCbCr (see the file comment). Default false. */
  readonly grayPlane?: boolean;
}

/** One channel: a gray image's plane, or BT.601 luma (the Y weights over 219, summing to 1) rounded to 8 bits. */
export function lumaPlane(img: Image): Image {
  const n = img.width * img.height, c = img.channels;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = img.data.subarray(i * c, i * c + c);
    out[i] = c < 3 ? p[0] : Math.min(255, Math.round((65.481 * p[0] + 128.553 * p[1] + 24.966 * p[2]) / 219));
  }
  return makeImage(img.width, img.height, 1, out);
}

/** The top-left part of `img` whose sides are multiples of `scale` (BasicSR/MATLAB `modcrop`). */
export function modcrop(img: Image, scale: number): Image {
  const w = img.width - (img.width % scale), h = img.height - (img.height % scale);
  if (w === 0 || h === 0) throw new InputError(`modcrop: a ${img.width}x${img.height} image is smaller than the scale ${scale}`);
  if (w === img.width && h === img.height) return img;
  const c = img.channels;
  const data = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * c, (y * img.width + w) * c), y * w * c);
  return makeImage(w, h, c, data);
}

/** Scores of one output against its HR image (same size; see `checkPair`). */
export async function scoreImage(sr: Image, hr: Image, o: ScoreOptions): Promise<Scores> {
  const opts = { cropBorder: o.cropBorder, testY: true };
  const [a, b] = o.grayPlane ? [lumaPlane(sr), lumaPlane(hr)] : [sr, hr];
  const out: { psnr: number; ssim: number; lpips?: number; niqe?: number } = { psnr: psnr(a, b, opts), ssim: ssim(a, b, opts) };
  if (o.lpips) out.lpips = await o.lpips.distance(sr, hr);
  if (o.niqe !== false && niqeBlocks(sr.width, sr.height) >= 2) out.niqe = niqe(sr);
  return out;
}

/** Refuses an output whose size differs from its HR image, naming both. */
export function checkPair(sr: Image, hr: Image, what: string): void {
  if (sr.width !== hr.width || sr.height !== hr.height)
    throw new InputError(`${what}: ${sr.width}x${sr.height} does not match its HR image (${hr.width}x${hr.height} after cropping to a multiple of the scale)`);
}

export interface MethodInfo {
  readonly id: string;
  /** Says what the row is, e.g. "bicubic (baseline: MATLAB imresize ×4)". */
  readonly label: string;
}

export interface ImageRow {
  readonly image: string;
  readonly method: string;
  readonly scores: Scores;
}

export interface BenchmarkReport {
  readonly scale: number;
  readonly cropBorder: number;
  /** How the LR inputs were made. */
  readonly lr: string;
  readonly methods: readonly MethodInfo[];
  readonly rows: readonly ImageRow[];
  /** Per method: the mean of each score over the images that have it. */
  readonly means: Readonly<Record<string, Scores & { readonly images: number }>>;
}

const KEYS = ['psnr', 'ssim', 'lpips', 'niqe'] as const;

export function meanScores(rows: readonly ImageRow[], method: string): Scores & { images: number } {
  const mine = rows.filter((r) => r.method === method);
  const mean = (k: (typeof KEYS)[number]) => {
    const v = mine.map((r) => r.scores[k]).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const out: Record<string, number | undefined> = { images: mine.length };
  for (const k of KEYS) if (mean(k) !== undefined) out[k] = mean(k);
  return out as unknown as Scores & { images: number };
}

function cell(v: number | undefined, digits: number): string {
  return v === undefined ? '–' : Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** Markdown: one row per image and method, then the means, then what each method is. */
export function markdownTable(r: BenchmarkReport): string {
  const has = (k: 'lpips' | 'niqe') => r.rows.some((x) => x.scores[k] !== undefined);
  const head = ['image', 'method', `PSNR (Y, crop ${r.cropBorder}) ↑`, `SSIM (Y, crop ${r.cropBorder}) ↑`, ...(has('lpips') ? ['LPIPS ↓'] : []), ...(has('niqe') ? ['NIQE ↓'] : [])];
  const line = (image: string, method: string, s: Scores) =>
    `| ${[image, method, cell(s.psnr, 4), cell(s.ssim, 4), ...(has('lpips') ? [cell(s.lpips, 4)] : []), ...(has('niqe') ? [cell(s.niqe, 4)] : [])].join(' | ')} |`;
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const row of r.rows) out.push(line(row.image, row.method, row.scores));
  for (const m of r.methods) out.push(line(`**mean** (${r.means[m.id].images})`, `**${m.id}**`, r.means[m.id]));
  out.push('', `×${r.scale}; LR inputs: ${r.lr}.`, ...r.methods.map((m) => `- \`${m.id}\`: ${m.label}`));
  return out.join('\n');
}

/** A square crop of `img` at (x, y), size `s`, scaled up by pixel repetition `rep` times. */
function cropNearest(img: Image, x: number, y: number, s: number, rep: number): Image {
  const o = s * rep;
  const data = new Uint8Array(o * o * 3);
  for (let j = 0; j < o; j++)
    for (let i = 0; i < o; i++) {
      const src = ((y + Math.floor(j / rep)) * img.width + x + Math.floor(i / rep)) * img.channels;
      for (let k = 0; k < 3; k++) data[(j * o + i) * 3 + k] = img.data[src + (img.channels === 3 ? k : 0)];
    }
  return makeImage(o, o, 3, data);
}

/**
 * Side by side, left to right: the LR crop (pixels repeated ×scale), then the same region of
 * every full-size panel (bicubic, method, …, HR), 4 px white gaps. The region is a centred
 * square of up to 192 px (a multiple of the scale).
 */
export function comparisonStrip(lr: Image, panels: readonly Image[], scale: number): Image {
  const hr = panels[panels.length - 1];
  const side = Math.min(192, hr.width, hr.height);
  const s = side - (side % scale);
  const x = Math.floor((hr.width - s) / 2 / scale) * scale, y = Math.floor((hr.height - s) / 2 / scale) * scale;
  const tiles = [cropNearest(lr, x / scale, y / scale, s / scale, scale), ...panels.map((p) => cropNearest(p, x, y, s, 1))];
  const gap = 4;
  const W = tiles.length * s + (tiles.length - 1) * gap;
  const data = new Uint8Array(W * s * 3).fill(255);
  tiles.forEach((t, n) => {
    for (let j = 0; j < s; j++) data.set(t.data.subarray(j * s * 3, (j + 1) * s * 3), (j * W + n * (s + gap)) * 3);
  });
  return makeImage(W, s, 3, data);
}
