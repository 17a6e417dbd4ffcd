/**
 * Peak figures of this machine through our own export + onnxruntime: a 3x3 conv (320 ch,
 * 64x64, the SD1.5 UNet's first level) and a 2048² GEMM. Later benchmarks report their
 * throughput as a ratio to these same-run numbers.
 */
import { Graph } from '../src/ir/graph.ts';
import { Tensor, apply1 } from '../src/ops/tensor.ts';
import { compileGraph } from '../src/engine/compile.ts';
import { type BenchResult, timeIt } from './lib.ts';

function randomF32(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5);
}

async function runGraph(name: string, g: Graph, feeds: Record<string, { shape: number[]; data: Float32Array }>, flops: number, threads: number): Promise<BenchResult> {
  const s = await compileGraph(g, { threads, cache: false });
  const f = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { dtype: 'float32' as const, ...v }]));
  const timing = await timeIt(() => s.run(f), { warmup: 2, iters: 7 });
  await s.release();
  return { name, timing, flops };
}

export async function convPeak(threads: number): Promise<BenchResult> {
  const [n, c, h, w] = [1, 320, 64, 64];
  const g = new Graph('conv3x3');
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [n, c, h, w] }));
  const wt = new Tensor(g, g.addParam('weight', { dtype: 'float32', shape: [c, c, 3, 3] }, { kind: 'host', dtype: 'float32', data: randomF32(c * c * 9, 1) }));
  const b = new Tensor(g, g.addParam('bias', { dtype: 'float32', shape: [c] }, { kind: 'host', dtype: 'float32', data: randomF32(c, 2) }));
  g.setOutputs({ y: apply1('Conv', [x, wt, b], { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 }).value });
  return runGraph('conv3x3 320ch 64x64', g, { x: { shape: [n, c, h, w], data: randomF32(n * c * h * w, 3) } }, 2 * n * c * c * 9 * h * w, threads);
}

export async function gemmPeak(threads: number): Promise<BenchResult> {
  const m = 2048;
  const g = new Graph('gemm');
  const a = new Tensor(g, g.addInput('a', { dtype: 'float32', shape: [m, m] }));
  const bw = new Tensor(g, g.addParam('b', { dtype: 'float32', shape: [m, m] }, { kind: 'host', dtype: 'float32', data: randomF32(m * m, 4) }));
  g.setOutputs({ y: a.matmul(bw).value });
  return runGraph('gemm 2048²', g, { a: { shape: [m, m], data: randomF32(m * m, 5) } }, 2 * m ** 3, threads);
}
