/**
 * `node --import tsx bench/groupnorm.ts [--threads N]`: onnxruntime's opset-21
 * GroupNormalization against the Reshape → InstanceNormalization → Reshape → Mul/Add
 * decomposition, at UNet- and VAE-decoder-like shapes with 32 groups. The faster one is
 * what src/ops/norm.ts lowers to (the numbers are recorded there).
 */
import { availableParallelism } from 'node:os';
import { encodeModel, onnxDataType, attr, valueInfo } from '../src/onnx/encode.ts';
import type { OnnxNode, OnnxTensor } from '../src/onnx/types.ts';
import { createSession } from '../src/runtime/node.ts';
import { type BenchResult, report, timeIt } from './lib.ts';

const ti = process.argv.indexOf('--threads');
const threads = ti >= 0 ? Number(process.argv[ti + 1]) : availableParallelism();
const GROUPS = 32, EPS = 1e-6;

function f32(name: string, dims: number[], values: (i: number) => number): OnnxTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, dims, dataType: onnxDataType('float32'), rawData: new Uint8Array(Float32Array.from({ length: n }, (_, i) => values(i)).buffer) };
}

function i64(name: string, values: number[]): OnnxTensor {
  return { name, dims: [values.length], dataType: onnxDataType('int64'), rawData: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) };
}

function model(shape: number[], decomposed: boolean): Uint8Array {
  const c = shape[1];
  const chan = decomposed ? [c, ...shape.slice(2).map(() => 1)] : [c]; // decomposed: [C,1,1] broadcasts
  const inits: OnnxTensor[] = [f32('scale', chan, (i) => 1 + 0.01 * i), f32('bias', chan, (i) => 0.001 * i)];
  const node = (opType: string, input: string[], output: string, attribute = [] as OnnxNode['attribute']): OnnxNode => ({ opType, input, output: [output], attribute });
  const nodes = decomposed
    ? [
      node('Reshape', ['x', 'grouped'], 'xg'), // [N, G, C/G·H·W]
      node('InstanceNormalization', ['xg', 'ones', 'zeros'], 'ng', [attr('epsilon', EPS, 'float')]),
      node('Reshape', ['ng', 'full'], 'n'),
      node('Mul', ['n', 'scale'], 's'),
      node('Add', ['s', 'bias'], 'y'),
    ]
    : [node('GroupNormalization', ['x', 'scale', 'bias'], 'y', [attr('epsilon', EPS, 'float'), attr('num_groups', GROUPS)])];
  if (decomposed) inits.push(f32('ones', [GROUPS], () => 1), f32('zeros', [GROUPS], () => 0), i64('grouped', [shape[0], GROUPS, -1]), i64('full', shape));
  return encodeModel({ name: 'gn', node: nodes, initializer: inits, input: [valueInfo('x', 'float32', shape)], output: [valueInfo('y', 'float32', shape)] });
}

const results: BenchResult[] = [];
for (const shape of [[2, 320, 64, 64], [1, 128, 512, 512], [1, 512, 128, 128]]) {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = 1;
  const x = { dtype: 'float32' as const, shape, data: Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 1) };
  const want = firstGroupFloat64(x.data, n / shape[0] / GROUPS, shape[2] * shape[3]);
  for (const decomposed of [false, true]) {
    const session = await createSession({ bytes: model(shape, decomposed), externalFolder: null }, { threads });
    let y: Float32Array = new Float32Array(0);
    const timing = await timeIt(async () => { y = (await session.run({ x })).y.data as Float32Array; }, { warmup: 1, iters: 7 });
    await session.release();
    // Both variants must compute the same thing for the timing to mean anything.
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(y[i] - want[i]));
    results.push({ name: `${decomposed ? 'InstanceNorm decomposition' : 'GroupNormalization-21'} [${shape}]`, timing, extra: { 'max err, group 0': err.toExponential(1) } });
  }
}
console.log(`threads: ${threads}`);
report(results, threads);

/** The float64 result of the first group of the first sample (m values, hw per channel). */
function firstGroupFloat64(x: Float32Array, m: number, hw: number): Float64Array {
  let mean = 0, sq = 0;
  for (let i = 0; i < m; i++) mean += x[i];
  mean /= m;
  for (let i = 0; i < m; i++) sq += (x[i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(sq / m + EPS);
  return Float64Array.from({ length: m }, (_, i) => {
    const c = Math.floor(i / hw);
    return (x[i] - mean) * rstd * (1 + 0.01 * c) + 0.001 * c;
  });
}
