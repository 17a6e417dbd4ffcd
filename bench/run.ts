/**
 * `npm run bench [-- --threads N] [case-substring ...]`: named, reproducible benchmarks.
 * Never part of `npm test`. Prints a table and appends JSON lines to bench/results.jsonl.
 */
import { availableParallelism } from 'node:os';
import { convPeak, gemmPeak } from './foundation.ts';
import { type BenchResult, gflops, report } from './lib.ts';
import { pasdStep } from './sd15.ts';
import { trainStep } from './train.ts';

const args = process.argv.slice(2);
const ti = args.indexOf('--threads');
const threads = ti >= 0 ? Number(args.splice(ti, 2)[1]) : availableParallelism();
const filters = args;

const conv = await convPeak(threads);
const gemm = await gemmPeak(threads);
const peak = { conv: gflops(conv)!, gemm: gflops(gemm)! };
const results: BenchResult[] = [conv, gemm];
const cases: [string, () => Promise<BenchResult>][] = [
  ['sd15-step-b1', () => pasdStep(threads, 1)],
  ['sd15-step-b2', () => pasdStep(threads, 2)],
  ['train-tiny-b2', () => trainStep(threads, 'tiny')], ['train-mid-b2', () => trainStep(threads, 'mid')],
];
for (const [name, run] of cases) if (!filters.length || filters.some((f) => name.includes(f))) results.push(await run());
console.log(`threads: ${threads}`);
report(results, threads, peak);
