/**
 * `node --import tsx bench/attention-memory.ts [--provider webgpu] [--tokens 4096] [--batch 2] [--heads 8] [--head-size 40]`:
 * one attention core of a 64×64-latent SD1.5 self-attention (or PACA) under each lowering, each
 * in its own process, same run: peak RSS (on a software adapter such as lavapipe the "GPU"
 * buffers are host memory, so RSS is the device memory too) and ms per run.
 * - fused: com.microsoft MultiHeadAttention (the CPU lowering; wrong numbers on onnxruntime
 *   1.30's WebGPU, docs/onnxruntime-webgpu-defects.md, but its memory is what a fixed one would use);
 * - unchunked: MatMul/Softmax/MatMul over all queries at once (scores [B, h, N, M] in one buffer);
 * - chunked: the WebGPU lowering (src/engine/lowering.ts), ≤ WEBGPU_SCORE_BYTES of scores per chunk.
 */
import { spawnSync } from 'node:child_process';
import { runtimeChoiceOf } from '../src/cli/args.ts';
import { compileGraph } from '../src/engine/compile.ts';
import { WEBGPU_SCORE_BYTES } from '../src/engine/lowering.ts';
import { Graph } from '../src/ir/graph.ts';
import { Tensor, apply1 } from '../src/ops/tensor.ts';
import type { LoweringTarget } from '../src/ops/types.ts';
import { report, timeIt } from './lib.ts';

const args = process.argv.slice(2);
const text = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const num = (name: string, def: number) => Number(text(name) ?? def);
const [n, b, h, d] = [num('--tokens', 4096), num('--batch', 2), num('--heads', 8), num('--head-size', 40)];
const runtime = runtimeChoiceOf({ provider: text('--provider') ?? 'webgpu', precision: text('--precision') });

const LOWERINGS: Record<string, LoweringTarget> = {
  fused: { attention: { kind: 'fused' }, groupNorm: 'native' },
  unchunked: { attention: { kind: 'chunked', scoreBytes: Number.MAX_SAFE_INTEGER }, groupNorm: 'native' },
  chunked: { attention: { kind: 'chunked', scoreBytes: WEBGPU_SCORE_BYTES }, groupNorm: 'native' },
};

const only = text('--case');
if (only) {
  // Child: one lowering, printed as one JSON line.
  const g = new Graph('attention');
  const [q, k, v] = ['q', 'k', 'v'].map((name) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape: [b, n, h * d] })));
  g.setOutputs({ out: apply1('MultiHeadAttention', [q, k, v], { heads: h, scale: d ** -0.5 }).value });
  const s = await compileGraph(g, { ...runtime, lowering: LOWERINGS[only], cache: false });
  const x = { dtype: 'float32' as const, shape: [b, n, h * d], data: Float32Array.from({ length: b * n * h * d }, (_, i) => Math.sin(i * 0.37)) };
  const timing = await timeIt(() => s.run({ q: x, k: x, v: x }), { warmup: 1, iters: 3 });
  console.log(JSON.stringify({ timing, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  await s.release();
} else {
  const rows = Object.keys(LOWERINGS).map((name) => {
    const r = spawnSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, ...args, '--case', name], { encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) throw new Error(`${name}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
    const { timing, maxRssMiB } = JSON.parse(line);
    return { name: `attention ${only ?? name} B${b} N=M=${n} h${h} d${d} ${runtime.provider ?? 'cpu'}`, timing, extra: { 'peak RSS MiB': maxRssMiB.toFixed(0), scores: `${((b * h * n * n * 4) / 2 ** 20).toFixed(0)} MiB whole` } };
  });
  report(rows, 0);
}
