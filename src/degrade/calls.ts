/**
 * Kernels from BasicSR call notation, e.g. `bivariate_Gaussian(21, sig=1.7, isotropic=True)` or
 * `circular_lowpass_kernel(cutoff=2.1, 7, pad_to=False)`: the way the fixture manifest describes
 * its kernel cases (so the parity runner can rebuild kernels whose parameters differ per fixture
 * set) and a compact way to name a kernel on a command line.
 *
 * The notation is read leniently, as the manifest writes it: keyword arguments bind first and
 * positional ones fill the remaining parameters in signature order; `sig` stands for sig_x (the
 * isotropic kernels use only sig_x); `pad_to=False` means no padding.
 */
import { ConfigError } from '../core/errors.ts';
import { type Kernel, bivariateGaussian, bivariateGeneralizedGaussian, bivariatePlateau, circularLowpassKernel } from './kernels.ts';

type Value = number | boolean | null;

const SIGNATURES: Readonly<Record<string, readonly string[]>> = {
  bivariate_Gaussian: ['kernel_size', 'sig_x', 'sig_y', 'theta', 'grid', 'isotropic'],
  bivariate_generalized_Gaussian: ['kernel_size', 'sig_x', 'sig_y', 'theta', 'beta', 'grid', 'isotropic'],
  bivariate_plateau: ['kernel_size', 'sig_x', 'sig_y', 'theta', 'beta', 'grid', 'isotropic'],
  circular_lowpass_kernel: ['cutoff', 'kernel_size', 'pad_to'],
};

const ALIASES: Readonly<Record<string, string>> = { sig: 'sig_x' };

function parseValue(s: string, text: string): Value {
  if (s === 'True' || s === 'False') return s === 'True';
  if (s === 'None') return null;
  const v = Number(s);
  if (s === '' || !Number.isFinite(v)) throw new ConfigError(`kernel call ${JSON.stringify(text)}: cannot read argument value ${JSON.stringify(s)}`);
  return v;
}

/** The function name and its arguments bound to parameter names. */
export function parseKernelCall(text: string): { fn: string; args: Record<string, Value> } {
  const m = /^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$/.exec(text);
  if (!m) throw new ConfigError(`kernel call ${JSON.stringify(text)}: expected name(arg, key=value, ...)`);
  const [, fn, inner] = m;
  const params = SIGNATURES[fn];
  if (params === undefined) throw new ConfigError(`kernel call ${JSON.stringify(text)}: unknown kernel function ${fn} (known: ${Object.keys(SIGNATURES).join(', ')})`);
  const args: Record<string, Value> = {};
  const positional: Value[] = [];
  for (const part of inner.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const kv = /^([A-Za-z_]\w*)\s*=\s*(.+)$/.exec(part);
    if (!kv) {
      positional.push(parseValue(part, text));
      continue;
    }
    const key = ALIASES[kv[1]] ?? kv[1];
    if (!params.includes(key)) throw new ConfigError(`kernel call ${JSON.stringify(text)}: ${fn} has no parameter ${kv[1]}`);
    if (key in args) throw new ConfigError(`kernel call ${JSON.stringify(text)}: ${key} given twice`);
    args[key] = parseValue(kv[2].trim(), text);
  }
  const free = params.filter((p) => !(p in args));
  if (positional.length > free.length) throw new ConfigError(`kernel call ${JSON.stringify(text)}: too many arguments for ${fn}`);
  positional.forEach((v, i) => { args[free[i]] = v; });
  return { fn, args };
}

function num(args: Record<string, Value>, key: string, text: string, fallback?: number): number {
  const v = args[key] ?? fallback;
  if (typeof v !== 'number') throw new ConfigError(`kernel call ${JSON.stringify(text)}: ${key} must be a number`);
  return v;
}

/** Builds the kernel a BasicSR call describes (isotropic defaults to True, as in BasicSR). */
export function kernelFromCall(text: string): Kernel {
  const { fn, args } = parseKernelCall(text);
  if (fn === 'circular_lowpass_kernel') {
    const pad = args.pad_to;
    return circularLowpassKernel(num(args, 'cutoff', text), num(args, 'kernel_size', text), typeof pad === 'number' ? pad : 0);
  }
  const isotropic = args.isotropic ?? true;
  if (typeof isotropic !== 'boolean') throw new ConfigError(`kernel call ${JSON.stringify(text)}: isotropic must be True or False`);
  const size = num(args, 'kernel_size', text);
  const sigX = num(args, 'sig_x', text);
  // Isotropic kernels ignore sig_y and theta (BasicSR), so they may be omitted there.
  const sigY = num(args, 'sig_y', text, isotropic ? sigX : undefined);
  const theta = num(args, 'theta', text, isotropic ? 0 : undefined);
  if (fn === 'bivariate_Gaussian') return bivariateGaussian(size, sigX, sigY, theta, isotropic);
  const beta = num(args, 'beta', text);
  return fn === 'bivariate_plateau'
    ? bivariatePlateau(size, sigX, sigY, theta, beta, isotropic)
    : bivariateGeneralizedGaussian(size, sigX, sigY, theta, beta, isotropic);
}
