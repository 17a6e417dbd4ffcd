/**
 * `npm run bench [-- --threads N] [--provider cpu|webgpu|cuda] [--precision fp32|fp16] [--attention fused|chunked] [case-substring ...]`:
 * named, reproducible benchmarks. Never part of `npm test`. Prints a table and appends JSON
 * lines to bench/results.jsonl. Provider and precision apply to the SD1.5 step cases; the
 * peaks and training cases stay on CPU (float32). `--attention` traces the step's attention
 * as that lowering instead of the provider's (src/engine/lowering.ts), to compare them.
 */
import { availableParallelism } from 'node:os';
import { UsageError, runtimeChoiceOf } from '../src/cli/args.ts';
import { probeProvider } from '../src/engine/compile.ts';
import { WEBGPU_SCORE_BYTES, loweringFor } from '../src/engine/lowering.ts';
import { convPeak, gemmPeak } from './foundation.ts';
import { type BenchResult, gflops, report } from './lib.ts';
import { pasdStep, sd15Text, sd15Vae } from './sd15.ts';
import { trainStep } from './train.ts';

const args = process.argv.slice(2);
const ti = args.indexOf('--threads');
const threads = ti >= 0 ? Number(args.splice(ti, 2)[1]) : availableParallelism();
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const { provider, precision } = runtimeChoiceOf({ provider: flag('provider'), precision: flag('precision') });
const attention = flag('attention');
if (attention !== undefined && attention !== 'fused' && attention !== 'chunked') throw new UsageError(`--attention: "${attention}" is not one of fused, chunked`);
const lowering = attention === undefined ? undefined : { ...loweringFor(provider, precision), attention: attention === 'fused' ? { kind: 'fused' as const } : { kind: 'chunked' as const, scoreBytes: WEBGPU_SCORE_BYTES } };
const step = { provider, precision, lowering };
const filters = args;
// A GPU provider that cannot start fails here, before SD1.5-size weights are written and traced.
if (provider && provider !== 'cpu') await probeProvider(step);

const conv = await convPeak(threads);
const gemm = await gemmPeak(threads);
const peak = { conv: gflops(conv)!, gemm: gflops(gemm)! };
const results: BenchResult[] = [conv, gemm];
const one = (r: Promise<BenchResult>) => r.then((x) => [x]);
const cases: [string, () => Promise<BenchResult[]>][] = [
  ['sd15-step-b1', () => one(pasdStep(threads, 1, 64, step))],
  ['sd15-step-b2', () => one(pasdStep(threads, 2, 64, step))],
  ['sd15-light-step-b1', () => one(pasdStep(threads, 1, 64, step, true))],
  ['sd15-light-step-b2', () => one(pasdStep(threads, 2, 64, step, true))],
  ['sd15-vae-untiled', () => sd15Vae(threads, false)], ['sd15-vae-tiled', () => sd15Vae(threads, true)],
  ['sd15-text', () => one(sd15Text(threads))],
  ['train-tiny-b2', () => one(trainStep(threads, 'tiny'))], ['train-mid-b2', () => one(trainStep(threads, 'mid'))],
];
for (const [name, run] of cases) if (!filters.length || filters.some((f) => name.includes(f))) results.push(...await run());
console.log(`threads: ${threads}, step provider: ${provider ?? 'cpu'} ${precision ?? 'fp32'}`);
report(results, threads, peak);
