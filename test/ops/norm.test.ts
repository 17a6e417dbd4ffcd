import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { type InputSpec, checkForward, checkVjp } from './harness.ts';

// Inputs away from zero mean and unit scale, so a wrong mean, variance or affine shows.
const x = (shape: number[]): InputSpec => ({ shape, range: [-2, 3] });
const affine = (c: number[]): InputSpec[] => [{ shape: c, range: [0.5, 1.5] }, { shape: c, range: [-0.5, 0.5] }];

const gnCases: [string, number[], number, number][] = [
  ['4-D, 3 groups of 2 channels', [2, 6, 5, 4], 3, 1e-5],
  ['3-D, 2 groups', [2, 4, 7], 2, 1e-6],
  ['5-D, one channel per group', [1, 4, 2, 3, 3], 4, 1e-5],
  ['4-D, 32 groups (the UNet/VAE setting)', [1, 64, 3, 3], 32, 1e-6],
];
for (const [name, shape, groups, eps] of gnCases) {
  const f = (a: Tensor, s: Tensor, b: Tensor) => a.groupNorm(groups, s, b, eps);
  const specs = [x(shape), ...affine([shape[1]])];
  test(`GroupNormalization ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward(specs, f)}`); });
  test(`GroupNormalization ${name}: vjp matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp(specs, f)}`); });
}

const lnCases: [string, number[], number, boolean][] = [
  ['last axis, with bias', [2, 3, 8], -1, true],
  ['last two axes, no bias', [2, 3, 4], 1, false],
  ['all axes', [3, 5], 0, true],
];
for (const [name, shape, axis, bias] of lnCases) {
  const norm = shape.slice(axis < 0 ? shape.length + axis : axis);
  const specs = [x(shape), ...affine(norm).slice(0, bias ? 2 : 1)];
  const f = (a: Tensor, s: Tensor, b?: Tensor) => a.layerNorm(s, b ?? null, axis, 1e-5);
  test(`LayerNormalization ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward(specs, f)}`); });
  test(`LayerNormalization ${name}: vjp matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp(specs, f)}`); });
}

test('GroupNorm and LayerNorm use the biased variance (torch): a hand-computed case', () => {
  // One group / row [1, 3, 5, 7]: mean 4, biased variance 5 → x̂ = (x − 4)/√(5 + ε).
  const g = new Graph();
  const inp = (name: string, shape: number[]) => new Tensor(g, g.addInput(name, { dtype: 'float64', shape }));
  const xs = inp('x', [1, 2, 1, 2]), s = inp('s', [2]), b = inp('b', [2]), s4 = inp('s4', [4]);
  const eps = 1e-5;
  const gn = xs.groupNorm(1, s, b, eps), ln = xs.reshape([1, 4]).layerNorm(s4, null, -1, eps);
  const feed = (t: Tensor, data: number[]) => [t.value, { dtype: 'float64' as const, shape: t.shape, data: Float64Array.from(data) }] as const;
  const env = evaluateRef(g, new Map([feed(xs, [1, 3, 5, 7]), feed(s, [2, 1]), feed(b, [0, 10]), feed(s4, [1, 1, 1, 1])]));
  const r = 1 / Math.sqrt(5 + eps);
  const close = (got: Float64Array, want: number[]) => want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-12, `${got[i]} vs ${w}`));
  close(env.get(gn.value)!.data, [-3 * r * 2, -1 * r * 2, 1 * r + 10, 3 * r + 10]);
  close(env.get(ln.value)!.data, [-3 * r, -1 * r, r, 3 * r]);
});

test('norm shape errors name the op and the shapes', () => {
  const g = new Graph();
  const inp = (name: string, shape: number[]) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape }));
  const xs = inp('x', [1, 6, 4, 4]), c6 = inp('c6', [6]), c4 = inp('c4', [4]);
  const is = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => xs.groupNorm(4, c6, c6), is(/GroupNormalization: 6 channels of float32\[1,6,4,4\] do not split into 4 groups/));
  assert.throws(() => xs.groupNorm(3, c4, c6), is(/GroupNormalization: scale and bias must be \[6\].*float32\[4\]/));
  assert.throws(() => xs.layerNorm(c6, null), is(/LayerNormalization: scale and bias must be \[4\].*float32\[6\]/));
});

test('GroupNormalization (via GroupNormalization-21: no float64 InstanceNormalization on CPU) and LayerNormalization keep float64 precision', async (t) => {
  const specs: InputSpec[] = [{ shape: [2, 4, 3, 3], dtype: 'float64', range: [-2, 3] }, { shape: [4], dtype: 'float64' }, { shape: [4], dtype: 'float64' }];
  t.diagnostic(`GroupNorm rel err ${await checkForward(specs, (a, s, b) => a.groupNorm(2, s, b), 1e-12)}`);
  const ln: InputSpec[] = [{ shape: [2, 4, 3], dtype: 'float64', range: [-2, 3] }, { shape: [3], dtype: 'float64' }, { shape: [3], dtype: 'float64' }];
  t.diagnostic(`LayerNorm rel err ${await checkForward(ln, (a, s, b) => a.layerNorm(s, b), 1e-12)}`);
});
