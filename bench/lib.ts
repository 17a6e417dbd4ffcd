/**
 * Benchmark helpers: warm-up + repeated timing (min / median), a printed table, and one JSON
 * line per case appended to bench/results.jsonl (not committed) with git sha, machine and
 * threads, so runs can be compared.
 */
import { execSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';

export interface Timing {
  minMs: number;
  medianMs: number;
  iters: number;
}

export async function timeIt(fn: () => Promise<unknown>, { warmup = 2, iters = 5 } = {}): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { minMs: ts[0], medianMs: ts[Math.floor(ts.length / 2)], iters };
}

export interface BenchResult {
  name: string;
  timing: Timing;
  /** Floating-point operations of one run (multiply and add counted separately). */
  flops?: number;
  extra?: Record<string, unknown>;
}

export function gflops(r: BenchResult): number | null {
  return r.flops ? r.flops / (r.timing.minMs * 1e6) : null;
}

function gitSha(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

export function report(results: readonly BenchResult[], threads: number, peak?: { conv: number; gemm: number }): void {
  const rows = results.map((r) => {
    const gf = gflops(r);
    return {
      case: r.name,
      'min ms': r.timing.minMs.toFixed(2),
      'median ms': r.timing.medianMs.toFixed(2),
      'GFLOP/s': gf?.toFixed(1) ?? '',
      ...(peak && gf ? { 'vs conv peak': (gf / peak.conv).toFixed(2), 'vs GEMM peak': (gf / peak.gemm).toFixed(2) } : {}),
      ...(r.extra ?? {}),
    };
  });
  console.table(rows);
  const meta = { sha: gitSha(), machine: `${hostname()} ${cpus()[0]?.model ?? ''} x${cpus().length}`, threads, date: new Date().toISOString() };
  for (const r of results) appendFileSync(new URL('./results.jsonl', import.meta.url), JSON.stringify({ ...meta, ...r, gflops: gflops(r) }) + '\n');
}
