/**
 * NIQE (Mittal et al., "Making a Completely Blind Image Quality Analyzer", 2013) as BasicSR
 * v1.4.2 computes it (`basicsr/metrics/niqe.py`), with its pristine model
 * (`niqe_pris_params.npz`, shipped here as niqe-pris-params.json: same values, 31 KB,
 * Apache-2.0 like BasicSR). Lower is better.
 *
 * Steps: rounded Y (ycbcr.ts `metricY`), crop to whole 96×96 blocks, two scales (the second
 * is `imresize(Y/255, 0.5)·255`); per scale the MSCN image (local mean/std with the 7×7
 * Gaussian window, scipy `convolve` mode 'nearest'), per block 18 AGGD features; a
 * multivariate Gaussian fit over the blocks; distance to the pristine model with
 * pinv((Σp + Σ)/2). BasicSR runs much of this in float32; this is float64 throughout, which
 * the fixtures' `value_float64` checks (on most crops the two differ by 1e-3..3e-2, see the
 * fixtures README).
 */
import { InputError } from '../core/errors.ts';
import { roundHalfEven } from '../core/round.ts';
import type { Image } from '../image/image.ts';
import { type FloatImage, cropBorder, floatImage } from './float-image.ts';
import { imresize } from './imresize.ts';
import { gamma, pinvSymmetric } from './numeric.ts';
import PRISTINE from './niqe-pris-params.json' with { type: 'json' };
import { metricY } from './ycbcr.ts';

const BLOCK = 96;

/** The shape grid of `estimate_aggd_param`: 0.2, 0.201, …, 10 (np.arange) with r(γ) = Γ(2/γ)²/(Γ(1/γ)Γ(3/γ)). */
const GRID: { gam: Float64Array; r: Float64Array } = (() => {
  const n = 9801;
  const gam = Float64Array.from({ length: n }, (_, i) => 0.2 + i * 0.001);
  const r = gam.map((g) => gamma(2 / g) ** 2 / (gamma(1 / g) * gamma(3 / g)));
  return { gam, r };
})();

/** `estimate_aggd_param`: AGGD shape α and left/right scales of a block's values. */
function aggd(v: Float64Array): [number, number, number] {
  let ls = 0, ln = 0, rs = 0, rn = 0, abs = 0, sq = 0;
  for (const x of v) {
    if (x < 0) { ls += x * x; ln++; } else if (x > 0) { rs += x * x; rn++; }
    abs += Math.abs(x);
    sq += x * x;
  }
  const leftStd = Math.sqrt(ls / ln), rightStd = Math.sqrt(rs / rn);
  const gh = leftStd / rightStd;
  const rhat = (abs / v.length) ** 2 / (sq / v.length);
  const rnorm = (rhat * (gh ** 3 + 1) * (gh + 1)) / (gh ** 2 + 1) ** 2;
  // np.argmin: the first minimum (NaN, for a block without negative or positive values, wins).
  let best = 0, bestD = Infinity;
  for (let i = 0; i < GRID.r.length; i++) {
    const d = (GRID.r[i] - rnorm) ** 2;
    if (d < bestD || Number.isNaN(d)) { best = i; bestD = d; if (Number.isNaN(d)) break; }
  }
  const alpha = GRID.gam[best];
  const f = Math.sqrt(gamma(1 / alpha) / gamma(3 / alpha));
  return [alpha, leftStd * f, rightStd * f];
}

/** `compute_feature`: 18 features of one MSCN block (h × w, row-major). */
function blockFeatures(b: Float64Array, h: number, w: number): number[] {
  const [a0, l0, r0] = aggd(b);
  const feat = [a0, (l0 + r0) / 2];
  // np.roll(block, (dy, dx)): shifted[y, x] = block[y − dy, x − dx] (cyclic).
  for (const [dy, dx] of [[0, 1], [1, 0], [1, 1], [1, -1]]) {
    const prod = new Float64Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) prod[y * w + x] = b[y * w + x] * b[((y - dy + h) % h) * w + ((x - dx + w) % w)];
    const [a, l, r] = aggd(prod);
    feat.push(a, (r - l) * (gamma(2 / a) / gamma(1 / a)), l, r);
  }
  return feat;
}

/** scipy.ndimage.convolve(img, window, mode='nearest') for a symmetric odd window. */
function convolveNearest(img: Float64Array, w: number, h: number, win: Float64Array, k: number): Float64Array {
  const r = (k - 1) / 2;
  const out = new Float64Array(w * h);
  const clamp = (i: number, n: number) => (i < 0 ? 0 : i >= n ? n - 1 : i);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = 0; i < k; i++) {
        const row = clamp(y + i - r, h) * w;
        for (let j = 0; j < k; j++) acc += win[i * k + j] * img[row + clamp(x + j - r, w)];
      }
      out[y * w + x] = acc;
    }
  return out;
}

export interface NiqeModel {
  /** [36] pristine feature mean. */
  readonly mu: Float64Array;
  /** [36, 36] pristine covariance, row-major. */
  readonly cov: Float64Array;
  /** [7, 7] Gaussian window of the local statistics. */
  readonly window: Float64Array;
}

/** BasicSR's pristine parameters (MATLAB's official niqe_release model). */
export const BASICSR_NIQE_MODEL: NiqeModel = {
  mu: Float64Array.from(PRISTINE.mu_pris_param.data),
  cov: Float64Array.from(PRISTINE.cov_pris_param.data),
  window: Float64Array.from(PRISTINE.gaussian_window.data),
};

/** `niqe()` on a [0, 255] gray plane (already rounded as BasicSR does). */
export function niqeBlocks(width: number, height: number): number {
  return Math.floor(width / BLOCK) * Math.floor(height / BLOCK);
}

export function niqePlane(y: FloatImage, model: NiqeModel = BASICSR_NIQE_MODEL): number {
  const nbh = Math.floor(y.height / BLOCK), nbw = Math.floor(y.width / BLOCK);
  // The covariance over the blocks needs two of them (BasicSR returns NaN with one).
  if (nbh * nbw < 2) throw new InputError(`niqe: needs at least two ${BLOCK}x${BLOCK} blocks (e.g. ${2 * BLOCK}x${BLOCK} pixels), got ${y.width}x${y.height}`);
  let w = nbw * BLOCK, h = nbh * BLOCK;
  let img = new Float64Array(w * h);
  for (let r = 0; r < h; r++) img.set(y.data.subarray(r * y.width, r * y.width + w), r * w);
  const feats: number[][] = Array.from({ length: nbh * nbw }, () => []);
  for (const scale of [1, 2]) {
    const mu = convolveNearest(img, w, h, model.window, 7);
    const ex2 = convolveNearest(img.map((v) => v * v), w, h, model.window, 7);
    const mscn = img.map((v, i) => (v - mu[i]) / (Math.sqrt(Math.abs(ex2[i] - mu[i] * mu[i])) + 1));
    const bs = BLOCK / scale;
    let k = 0;
    for (let bx = 0; bx < nbw; bx++)
      for (let by = 0; by < nbh; by++) {
        const block = new Float64Array(bs * bs);
        for (let r = 0; r < bs; r++) block.set(mscn.subarray((by * bs + r) * w + bx * bs, (by * bs + r) * w + (bx + 1) * bs), r * bs);
        feats[k++].push(...blockFeatures(block, bs, bs));
      }
    if (scale === 1) {
      const half = imresize(floatImage(w, h, 1, img.map((v) => v / 255)), 0.5);
      img = half.data.map((v) => v * 255);
      w = half.width;
      h = half.height;
    }
  }
  return mvgDistance(feats, model);
}

/** Fits mean (np.nanmean) and covariance (np.cov over rows without NaN) and measures the distance. */
function mvgDistance(feats: number[][], model: NiqeModel): number {
  const d = model.mu.length;
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let s = 0, n = 0;
    for (const f of feats) if (!Number.isNaN(f[j])) { s += f[j]; n++; }
    mean[j] = s / n;
  }
  const rows = feats.filter((f) => f.every((v) => !Number.isNaN(v)));
  const rm = new Float64Array(d);
  for (const f of rows) for (let j = 0; j < d; j++) rm[j] += f[j];
  for (let j = 0; j < d; j++) rm[j] /= rows.length;
  const avg = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let c = 0;
      for (const f of rows) c += (f[i] - rm[i]) * (f[j] - rm[j]);
      avg[i * d + j] = (model.cov[i * d + j] + c / (rows.length - 1)) / 2;
    }
  const inv = pinvSymmetric(avg, d);
  const diff = model.mu.map((m, i) => m - mean[i]);
  let q = 0;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) q += diff[i] * inv[i * d + j] * diff[j];
  return Math.sqrt(q);
}

/** BasicSR `calculate_niqe(img, crop_border, convert_to='y')` on an RGB (or gray) uint8 image. */
export function niqe(img: Image, opts: { cropBorder?: number } = {}): number {
  const y = metricY(img);
  if (y.channels !== 1) throw new InputError(`niqe: expected an RGB or 1-channel image, got ${img.channels} channels`);
  const rounded = cropBorder(y, opts.cropBorder ?? 0, 'niqe');
  return niqePlane(floatImage(rounded.width, rounded.height, 1, rounded.data.map(roundHalfEven)));
}
