/** Small helpers over node:util parseArgs: typed numeric options and input file discovery. */
import { mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { InputError, ProviderError } from '../core/errors.ts';
import { type RuntimeChoice, checkPrecision, probeProvider } from '../engine/compile.ts';
import { PRECISIONS } from '../export/float16.ts';
import { PROVIDERS } from '../runtime/session.ts';

/** A usage error: bad or missing arguments (exit code 2). */
export class UsageError extends InputError {}

export function num(v: string | undefined, name: string, o: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (o.int && !Number.isInteger(x)) || (o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max)) {
    const range = o.min !== undefined || o.max !== undefined ? ` in [${o.min ?? '-∞'}, ${o.max ?? '∞'}]` : '';
    throw new UsageError(`--${name}: expected ${o.int ? 'an integer' : 'a number'}${range}, got "${v}"`);
  }
  return x;
}

export function choice<T extends string>(v: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** `--provider` / `--precision` for parseArgs, shared by the commands that run models. */
export const RUNTIME_ARGS = { provider: { type: 'string' }, precision: { type: 'string' } } as const;

/** Usage lines for RUNTIME_ARGS, descriptions starting at `column` as in the command's own list. */
export function runtimeUsage(column: number): string {
  const line = (flag: string, ...text: string[]) => text.map((t, i) => (i ? ' '.repeat(column) : `  ${flag}`.padEnd(column)) + t).join('\n');
  return [
    line('--provider NAME', `${PROVIDERS.join(' | ')} (default ${PROVIDERS[0]}): webgpu runs on the GPU through onnxruntime's bundled`,
      'WebGPU provider (Vulkan on Linux); cuda needs onnxruntime-node\'s CUDA binaries'),
    line('--precision P', `${PRECISIONS.join(' | ')} (default ${PRECISIONS[0]}); fp16 computes in half precision, with --provider webgpu or cuda`),
  ].join('\n');
}

/** Provider, precision and threads from the parsed options; fp16 on CPU is a usage error. */
export function runtimeChoiceOf(v: { provider?: string; precision?: string }, threads?: number): RuntimeChoice {
  const provider = choice(v.provider, 'provider', PROVIDERS);
  const precision = choice(v.precision, 'precision', PRECISIONS);
  try {
    checkPrecision(provider, precision);
  } catch (e) {
    if (e instanceof ProviderError) throw new UsageError(`--precision fp16 needs --provider webgpu or cuda (onnxruntime's CPU kernels are float32)`);
    throw e;
  }
  const out: RuntimeChoice = {};
  if (provider) out.provider = provider;
  if (precision) out.precision = precision;
  if (threads !== undefined) out.threads = threads;
  return out;
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif']);

/** Threads beyond this are refused: onnxruntime would try to start them all (100000 hung at 5 GB). */
export const MAX_THREADS = 256;
/** `num` ranges of --threads and --seed (a seed must be a safe integer for the random generator; 1e30 is refused here, not per image). */
export const THREADS_RANGE = { int: true, min: 1, max: MAX_THREADS } as const;
export const SEED_RANGE = { int: true, min: 0, max: Number.MAX_SAFE_INTEGER } as const;

/**
 * Outputs `<dir>/<input base name><suffix>` for each input, checked before any work: the
 * folder is created (an existing file there is a usage error), and two inputs that would
 * write one output (`img.gif` and `img.webp`, `a/x.png` and `b/x.png`) or an output that is
 * one of the inputs (`-o .` beside them) are refused, naming the files. Nothing is overwritten
 * but earlier outputs of the same names.
 */
export function outputPaths(files: readonly string[], dir: string, suffix: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch {
    st = null;
  }
  if (st && !st.isDirectory()) throw new UsageError(`-o ${dir}: exists and is not a folder; give a folder for the outputs`);
  const canonical = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const inputs = new Map(files.map((f) => [canonical(f), f]));
  const seen = new Map<string, string>();
  const outs = files.map((f) => {
    const out = join(dir, `${basename(f, extname(f))}${suffix}`);
    const key = canonical(out);
    const input = inputs.get(key);
    if (input !== undefined) throw new UsageError(`${out} would overwrite the input ${input}; choose another output folder (-o)`);
    const first = seen.get(key);
    if (first !== undefined) throw new UsageError(`${first} and ${f} would both be written to ${out}; rename one, or run them into different output folders (-o)`);
    seen.set(key, f);
    return out;
  });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`-o ${dir}: cannot create the output folder (${(e as Error).message})`);
  }
  return outs;
}

/**
 * A GPU provider that cannot start fails here, once, before models load: the ProviderError is
 * printed as `command: …` and the exit code (3) returned; null when the provider started (or is cpu).
 */
export async function probeGpuOrExit(runtime: RuntimeChoice, command: string): Promise<number | null> {
  if (!runtime.provider || runtime.provider === 'cpu') return null;
  try {
    await probeProvider(runtime);
    return null;
  } catch (e) {
    if (!(e instanceof ProviderError)) throw e;
    process.stderr.write(`${command}: ${e.message}\n`);
    return 3;
  }
}

/** Files as given plus the images of given folders (sorted, not recursive), in order. */
export function inputFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const imgs = readdirSync(p).filter((n) => IMAGE_EXT.has(extname(n).toLowerCase())).sort().map((n) => join(p, n));
      if (!imgs.length) throw new UsageError(`${p}: folder holds no images (${[...IMAGE_EXT].join(', ')})`);
      out.push(...imgs);
    } else out.push(p);
  }
  return out;
}
