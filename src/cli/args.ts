/** Small helpers over node:util parseArgs: typed numeric options and input file discovery. */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
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
