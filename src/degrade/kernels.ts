/**
 * Blur kernels of the Real-ESRGAN degradation, after PASD's copy of BasicSR
 * `pasd/dataloader/basicsr/data/degradations.py` (bivariate_Gaussian, bivariate_generalized_Gaussian,
 * bivariate_plateau, circular_lowpass_kernel, random_mixed_kernels). All kernels are float64,
 * square, odd-sized, row-major and normalised to sum 1.
 */
import { ConfigError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { uniformIn, weightedChoice } from './rng.ts';

export interface Kernel {
  readonly size: number;
  /** Row-major [size, size]. */
  readonly data: Float64Array | Float32Array;
}

export const KERNEL_TYPES = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso'] as const;
export type KernelType = (typeof KERNEL_TYPES)[number];

/** What a random kernel was made of (recorded so a degradation can be reported and replayed). */
export type KernelParams =
  | { type: 'iso' | 'aniso'; size: number; sigmaX: number; sigmaY: number; theta: number }
  | { type: 'generalized_iso' | 'generalized_aniso' | 'plateau_iso' | 'plateau_aniso'; size: number; sigmaX: number; sigmaY: number; theta: number; beta: number }
  | { type: 'sinc'; size: number; cutoff: number; padTo: number }
  | { type: 'pulse'; size: number };

function checkOddSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 1 || size % 2 !== 1) throw new ConfigError(`${what}: kernel size ${size} must be an odd positive integer`);
}

/**
 * Inverse of the covariance: isotropic uses sig_x only; anisotropic is U·diag(σx²,σy²)·Uᵀ with
 * U the rotation by theta (sigma_matrix2). Returned as [i00, i01, i10, i11].
 */
function inverseSigma(sigX: number, sigY: number, theta: number, isotropic: boolean): [number, number, number, number] {
  let s00: number, s01: number, s10: number, s11: number;
  if (isotropic) {
    s00 = sigX * sigX; s01 = 0; s10 = 0; s11 = sigX * sigX;
  } else {
    const c = Math.cos(theta), s = Math.sin(theta);
    const dx = sigX * sigX, dy = sigY * sigY;
    s00 = c * c * dx + s * s * dy;
    s01 = c * s * dx - s * c * dy;
    s10 = s01;
    s11 = s * s * dx + c * c * dy;
  }
  const det = s00 * s11 - s01 * s10;
  if (!(det > 0) || !Number.isFinite(det)) throw new ConfigError(`kernel sigma: sig_x=${sigX}, sig_y=${sigY} give a singular covariance; use sigmas > 0`);
  return [s11 / det, -s01 / det, -s10 / det, s00 / det];
}

/**
 * Evaluates f(q) on mesh_grid(size), q = [x y]·Σ⁻¹·[x y]ᵀ with x along columns and y along rows
 * (both from -(size-1)/2 to (size-1)/2), then normalises to sum 1.
 */
function quadraticFormKernel(size: number, inv: [number, number, number, number], f: (q: number) => number): Kernel {
  const data = new Float64Array(size * size);
  const half = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const y = i - half;
    for (let j = 0; j < size; j++) {
      const x = j - half;
      const q = x * (x * inv[0] + y * inv[2]) + y * (x * inv[1] + y * inv[3]);
      const v = f(q);
      data[i * size + j] = v;
      sum += v;
    }
  }
  for (let i = 0; i < data.length; i++) data[i] /= sum;
  return { size, data };
}

/** bivariate_Gaussian(kernel_size, sig_x, sig_y, theta, isotropic). */
export function bivariateGaussian(size: number, sigX: number, sigY: number, theta: number, isotropic: boolean): Kernel {
  checkOddSize(size, 'bivariateGaussian');
  return quadraticFormKernel(size, inverseSigma(sigX, sigY, theta, isotropic), (q) => Math.exp(-0.5 * q));
}

/** bivariate_generalized_Gaussian: exp(-0.5·q^beta). */
export function bivariateGeneralizedGaussian(size: number, sigX: number, sigY: number, theta: number, beta: number, isotropic: boolean): Kernel {
  checkOddSize(size, 'bivariateGeneralizedGaussian');
  return quadraticFormKernel(size, inverseSigma(sigX, sigY, theta, isotropic), (q) => Math.exp(-0.5 * Math.pow(q, beta)));
}

/** bivariate_plateau: 1 / (q^beta + 1). */
export function bivariatePlateau(size: number, sigX: number, sigY: number, theta: number, beta: number, isotropic: boolean): Kernel {
  checkOddSize(size, 'bivariatePlateau');
  return quadraticFormKernel(size, inverseSigma(sigX, sigY, theta, isotropic), (q) => 1 / (Math.pow(q, beta) + 1));
}

/**
 * Bessel function of the first kind, order 1 (scipy.special.j1), from Bessel's integral
 * J1(x) = 1/(2π) ∫₀^{2π} cos(τ − x·sin τ) dτ. The integrand is periodic and analytic, so the
 * trapezoidal rule converges geometrically; its error is the aliased J_{1+kN}(x), negligible
 * once N exceeds |x| by a margin of a few dozen.
 */
export function besselJ1(x: number): number {
  const n = 64 + 2 * Math.ceil(Math.abs(x));
  let s = 0;
  for (let k = 0; k < n; k++) {
    const t = (2 * Math.PI * k) / n;
    s += Math.cos(t - x * Math.sin(t));
  }
  return s / n;
}

/** Zero-pads a kernel symmetrically to `to` × `to` (np.pad as in realesrgan.py); no-op if not larger. */
export function padKernel(kernel: Kernel, to: number): Kernel {
  if (to <= kernel.size) return kernel;
  const p = (to - kernel.size) >> 1;
  const size = kernel.size + 2 * p;
  const data = new Float64Array(size * size);
  for (let i = 0; i < kernel.size; i++)
    for (let j = 0; j < kernel.size; j++) data[(i + p) * size + j + p] = kernel.data[i * kernel.size + j];
  return { size, data };
}

/**
 * circular_lowpass_kernel(cutoff, kernel_size, pad_to): the 2-D circular sinc
 * cutoff·J1(cutoff·r)/(2π·r), centre value cutoff²/(4π), normalised, then zero-padded to `padTo`.
 */
export function circularLowpassKernel(cutoff: number, size: number, padTo = 0): Kernel {
  checkOddSize(size, 'circularLowpassKernel');
  if (padTo !== 0 && padTo > size && padTo % 2 !== 1) throw new ConfigError(`circularLowpassKernel: pad_to ${padTo} must be odd or 0`);
  const data = new Float64Array(size * size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const r = Math.hypot(i - c, j - c);
      const v = r === 0 ? (cutoff * cutoff) / (4 * Math.PI) : (cutoff * besselJ1(cutoff * r)) / (2 * Math.PI * r);
      data[i * size + j] = v;
      sum += v;
    }
  }
  for (let i = 0; i < data.length; i++) data[i] /= sum;
  return padKernel({ size, data }, padTo);
}

/** The identity kernel (realesrgan.py's pulse_tensor): filtering with it changes nothing. */
export function pulseKernel(size: number): Kernel {
  checkOddSize(size, 'pulseKernel');
  const data = new Float64Array(size * size);
  data[((size - 1) / 2) * (size + 1)] = 1;
  return { size, data };
}

/** Ranges of random_mixed_kernels (as read from params_realesrgan.yml's kernel_info). */
export interface MixedKernelRanges {
  readonly kernelList: readonly KernelType[];
  readonly kernelProb: readonly number[];
  readonly sigmaXRange: readonly [number, number];
  readonly sigmaYRange: readonly [number, number];
  readonly rotationRange: readonly [number, number];
  readonly betagRange: readonly [number, number];
  readonly betapRange: readonly [number, number];
}

/** Builds a kernel from recorded parameters (the inverse of what the random generators record). */
export function kernelFromParams(p: KernelParams): Kernel {
  switch (p.type) {
    case 'iso': case 'aniso':
      return bivariateGaussian(p.size, p.sigmaX, p.sigmaY, p.theta, p.type === 'iso');
    case 'generalized_iso': case 'generalized_aniso':
      return bivariateGeneralizedGaussian(p.size, p.sigmaX, p.sigmaY, p.theta, p.beta, p.type === 'generalized_iso');
    case 'plateau_iso': case 'plateau_aniso':
      return bivariatePlateau(p.size, p.sigmaX, p.sigmaY, p.theta, p.beta, p.type === 'plateau_iso');
    case 'sinc':
      return circularLowpassKernel(p.cutoff, p.size, p.padTo);
    case 'pulse':
      return pulseKernel(p.size);
  }
}

/**
 * random_mixed_kernels with noise_range=None: picks the type by `kernelProb`, then draws sigma_x,
 * (anisotropic: sigma_y, rotation), (generalized/plateau: beta from [lo,1) or [1,hi) with equal
 * odds), in the original's order. Isotropic kernels get sigma_y = sigma_x and rotation 0.
 */
export function randomMixedKernel(rng: RandomSource, size: number, r: MixedKernelRanges): { kernel: Kernel; params: KernelParams } {
  const type = weightedChoice(rng, r.kernelList, r.kernelProb);
  const isotropic = type === 'iso' || type === 'generalized_iso' || type === 'plateau_iso';
  const sigmaX = uniformIn(rng, r.sigmaXRange[0], r.sigmaXRange[1]);
  let sigmaY = sigmaX;
  let theta = 0;
  if (!isotropic) {
    sigmaY = uniformIn(rng, r.sigmaYRange[0], r.sigmaYRange[1]);
    theta = uniformIn(rng, r.rotationRange[0], r.rotationRange[1]);
  }
  let params: KernelParams;
  if (type === 'iso' || type === 'aniso') {
    params = { type, size, sigmaX, sigmaY, theta };
  } else {
    // The original assumes beta_range[0] ≤ 1 ≤ beta_range[1] (its "TODO: this may be not proper").
    const range = type === 'generalized_iso' || type === 'generalized_aniso' ? r.betagRange : r.betapRange;
    const beta = rng.uniform() < 0.5 ? uniformIn(rng, range[0], 1) : uniformIn(rng, 1, range[1]);
    params = { type, size, sigmaX, sigmaY, theta, beta };
  }
  return { kernel: kernelFromParams(params), params };
}
