/**
 * Op checks: (1) forward — the graph exported to ONNX and run by onnxruntime (float32)
 * against the float64 reference evaluator; (2) vjp — autodiff's gradient of
 * Σ wᵢ·outᵢ (random w), evaluated with the float64 reference, against central finite
 * differences of the same reference.
 */
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.ts';
import { numel, type Shape } from '../../src/core/shape.ts';
import { grad } from '../../src/autodiff/grad.ts';
import { exportGraph } from '../../src/export/export.ts';
import { Graph, type Value } from '../../src/ir/graph.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import { Tensor, constOf } from '../../src/ops/tensor.ts';
import type { RefTensor } from '../../src/ops/types.ts';
import { createSession } from '../../src/runtime/node.ts';

/** Small deterministic PRNG for test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InputSpec {
  shape: Shape;
  dtype?: DType;
  /** Uniform range of the random values (default [-1, 1]); ints: [lo, hi). */
  range?: [number, number];
  /** Fixed values instead of random ones. */
  values?: readonly number[];
  /** Excluded from the vjp check (indices, conditions). */
  noGrad?: boolean;
}

type Build = (...xs: Tensor[]) => Tensor | Tensor[];

function makeData(spec: InputSpec, r: () => number): number[] {
  if (spec.values) return [...spec.values];
  const [lo, hi] = spec.range ?? [-1, 1];
  const dt = spec.dtype ?? 'float32';
  return Array.from({ length: numel(spec.shape) }, () => {
    const v = lo + (hi - lo) * r();
    return dt === 'int64' || dt === 'int32' ? Math.floor(v) : dt === 'bool' ? (v > 0.5 ? 1 : 0) : dt === 'float32' ? Math.fround(v) : v;
  });
}

function hostArray(values: number[], dtype: DType) {
  switch (dtype) {
    case 'float32': return Float32Array.from(values);
    case 'float64': return Float64Array.from(values);
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32': return Int32Array.from(values);
    case 'bool': case 'uint8': return Uint8Array.from(values);
    default: throw new Error(`test data of ${dtype}`);
  }
}

function trace(specs: readonly InputSpec[], build: Build, dtypeOverride?: DType) {
  const g = new Graph('test');
  const xs = specs.map((s, i) => {
    const dt = s.dtype && s.dtype !== 'float32' ? s.dtype : dtypeOverride ?? 'float32';
    return new Tensor(g, g.addInput(`x${i}`, { dtype: dt, shape: s.shape }));
  });
  const out = build(...xs);
  const outs = Array.isArray(out) ? out : [out];
  return { g, xs, outs };
}

/** Max |a−b| / max(1, max|b|) over all elements. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, s = 1;
  for (let i = 0; i < b.length; i++) s = Math.max(s, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) || (Number.isNaN(a[i]) !== Number.isNaN(b[i]) ? Infinity : 0));
  return m / s;
}

export async function checkForward(specs: readonly InputSpec[], build: Build, tol = 2e-5, seed = 1): Promise<number> {
  const r = rng(seed);
  const data = specs.map((s) => makeData(s, r));
  const { g, xs, outs } = trace(specs, build);
  g.setOutputs(Object.fromEntries(outs.map((t, i) => [`y${i}`, t.value])));
  const model = exportGraph(g);
  const session = await createSession(model, { threads: 1 });
  const feeds = Object.fromEntries(xs.map((x, i) => [`x${i}`, { dtype: x.dtype, shape: x.shape, data: hostArray(data[i], x.dtype) }]));
  const got = await session.run(feeds);
  await session.release();
  const env = evaluateRef(g, new Map(xs.map((x, i) => [x.value, { dtype: x.dtype, shape: x.shape, data: Float64Array.from(data[i]) }])));
  let worst = 0;
  outs.forEach((t, i) => {
    const y = got[`y${i}`];
    assert.deepEqual([...y.shape], [...t.shape], `output y${i} shape`);
    const want = env.get(t.value)!.data;
    const have = Array.from(y.data as ArrayLike<number | bigint>, Number);
    const e = relErr(have, want);
    worst = Math.max(worst, e);
    assert.ok(e <= tol, `output y${i}: onnxruntime vs float64 reference rel err ${e} > ${tol}`);
  });
  return worst;
}

export function checkVjp(specs: readonly InputSpec[], build: Build, tol = 1e-6, seed = 2, maxProbes = 24): number {
  const r = rng(seed);
  const data = specs.map((s) => makeData({ ...s, dtype: s.dtype ?? 'float64' }, r));
  const { g, xs, outs } = trace(specs, build, 'float64');
  let loss: Tensor | null = null;
  for (const o of outs) {
    if (o.dtype !== 'float64') continue;
    const w = constOf(g, Array.from({ length: numel(o.shape) }, () => r() * 2 - 1), 'float64', o.shape);
    const term = o.rank ? o.mul(w).sum([...o.shape.keys()]) : o.mul(w);
    loss = loss ? loss.add(term) : term;
  }
  assert.ok(loss, 'no float output to differentiate');
  const wrt = xs.filter((_, i) => !specs[i].noGrad);
  const grads = grad(g, loss.value, wrt.map((x) => x.value));
  const feeds = (override?: [number, number, number]) =>
    new Map<Value, RefTensor>(xs.map((x, i) => {
      const d = Float64Array.from(data[i]);
      if (override && override[0] === i) d[override[1]] += override[2];
      return [x.value, { dtype: x.dtype, shape: x.shape, data: d }];
    }));
  const env = evaluateRef(g, feeds());
  const lossAt = (o: [number, number, number]) => evaluateRef(g, feeds(o)).get(loss!.value)!.data[0];
  let worst = 0;
  wrt.forEach((x, k) => {
    const i = xs.indexOf(x);
    const analytic = env.get(grads[k].value)!.data;
    const n = numel(x.shape);
    const idxs = n <= maxProbes ? [...Array(n).keys()] : Array.from({ length: maxProbes }, () => Math.floor(r() * n));
    for (const j of idxs) {
      const h = 1e-6 * Math.max(1, Math.abs(data[i][j]));
      const numeric = (lossAt([i, j, h]) - lossAt([i, j, -h])) / (2 * h);
      const e = Math.abs(analytic[j] - numeric) / Math.max(1, Math.abs(numeric));
      worst = Math.max(worst, e);
      assert.ok(e <= tol, `input x${i}[${j}]: vjp ${analytic[j]} vs finite difference ${numeric} (err ${e})`);
    }
  });
  return worst;
}
