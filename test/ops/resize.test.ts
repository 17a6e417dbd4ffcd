import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import type { PadMode, ResizeMode } from '../../src/ops/types.ts';
import { checkForward, checkVjp } from './harness.ts';

const resizeCases: [string, number[], number[]][] = [
  ['2x up', [1, 2, 5, 4], [10, 8]],
  ['non-integer up (7/5, 9/4)', [2, 1, 5, 4], [7, 9]],
  ['non-integer down (13→6, 11→4)', [1, 2, 13, 11], [6, 4]],
  ['down to a single row, one axis unchanged', [1, 1, 6, 5], [1, 5]],
  ['up on one axis, down on the other, 3-D', [2, 7, 3], [5, 2]],
];
for (const mode of ['nearest', 'linear'] as ResizeMode[])
  for (const [name, shape, hw] of resizeCases) {
    const sizes = [...shape.slice(0, -2), ...hw];
    const f = (x: Tensor) => x.resize(sizes, mode);
    test(`Resize ${mode} ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward([{ shape }], f)}`); });
    test(`Resize ${mode} ${name}: vjp (constant interpolation matrices) matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp([{ shape }], f)}`); });
  }

test('Resize nearest: onnxruntime picks the same source pixel as torch for every size 1..27 from 13 and 1..20 from 6', async () => {
  // torch: src = min(floor(dst · float32(in/out)), in − 1); exact, so tolerance 0.
  const sizes: [number, number][] = Array.from({ length: 27 }, (_, i) => [i + 1, (i % 20) + 1]);
  await checkForward([{ shape: [1, 1, 13, 6] }], (x) => sizes.map(([h, w]) => x.resize([1, 1, h, w], 'nearest')), 0);
});

/** Evaluates x.resize(sizes, mode) with the float64 reference on fixed data. */
function refResize(data: number[], shape: number[], sizes: number[], mode: ResizeMode): number[] {
  const g = new Graph();
  const x = new Tensor(g, g.addInput('x', { dtype: 'float64', shape }));
  const y = x.resize(sizes, mode);
  return [...evaluateRef(g, new Map([[x.value, { dtype: 'float64', shape, data: Float64Array.from(data) }]])).get(y.value)!.data];
}

test('Resize follows torch F.interpolate: hand-computed bilinear (align_corners=False) and nearest cases', async () => {
  const close = (got: number[], want: number[]) => want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-6, `[${got}] vs [${want}]`));
  // [0, 1] → 5: src = 0.4·(dst + ½) − ½ = −0.3 (clamped to 0), 0.1, 0.5, 0.9, 1.3 (upper neighbour clamped).
  close(refResize([0, 1], [1, 1, 1, 2], [1, 1, 1, 5], 'linear'), [0, 0.1, 0.5, 0.9, 1]);
  // [0, 1, 2, 3] → 3: src = 1/6, 1.5, 17/6; → 1: src = 1.5 (half_pixel; pytorch_half_pixel would give 0).
  close(refResize([0, 1, 2, 3], [1, 1, 1, 4], [1, 1, 1, 3], 'linear'), [1 / 6, 1.5, 17 / 6]);
  close(refResize([0, 1, 2, 3], [1, 1, 1, 4], [1, 1, 1, 1], 'linear'), [1.5]);
  // nearest, src = floor(dst · in/out): 7 → 3 picks 0, 2, 4; 3 → 7 picks 0, 0, 0, 1, 1, 2, 2.
  close(refResize([0, 1, 2, 3, 4, 5, 6], [1, 1, 1, 7], [1, 1, 1, 3], 'nearest'), [0, 2, 4]);
  close(refResize([0, 1, 2], [1, 1, 1, 3], [1, 1, 1, 7], 'nearest'), [0, 0, 0, 1, 1, 2, 2]);
  // onnxruntime agrees on these exact cases.
  await checkForward([{ shape: [1, 1, 1, 2], values: [0, 1] }], (x) => x.resize([1, 1, 1, 5], 'linear'), 1e-6);
  await checkForward([{ shape: [1, 1, 1, 4], values: [0, 1, 2, 3] }], (x) => [x.resize([1, 1, 1, 3], 'linear'), x.resize([1, 1, 1, 1], 'linear')], 1e-6);
});

const padCases: [string, number[], number[]][] = [
  ['asymmetric on H and W', [1, 2, 5, 4], [0, 0, 1, 3, 0, 0, 2, 1]],
  ['on a leading axis, maximal for reflect', [3, 4], [2, 3, 1, 0]],
];
for (const mode of ['constant', 'reflect', 'edge'] as PadMode[])
  for (const [name, shape, pads] of padCases) {
    const f = (x: Tensor) => x.pad(pads, mode, 0.5);
    test(`Pad ${mode} ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward([{ shape }], f, 0)}`); });
    test(`Pad ${mode} ${name}: vjp matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp([{ shape }], f)}`); });
  }

test('Pad reference: constant value, reflect without repeating the edge, edge replication', () => {
  const g = new Graph();
  const x = new Tensor(g, g.addInput('x', { dtype: 'float64', shape: [3] }));
  const ys = [x.pad([2, 1], 'constant', 9), x.pad([2, 2], 'reflect'), x.pad([1, 2], 'edge')];
  const env = evaluateRef(g, new Map([[x.value, { dtype: 'float64', shape: [3], data: Float64Array.from([1, 2, 3]) }]]));
  assert.deepEqual(ys.map((y) => [...env.get(y.value)!.data]), [[9, 9, 1, 2, 3, 9], [3, 2, 1, 2, 3, 2, 1], [1, 1, 2, 3, 3, 3]]);
});

test('Resize / Pad shape errors name the op and the shapes', () => {
  const g = new Graph();
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [1, 2, 4, 4] }));
  const is = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => x.resize([1, 3, 8, 8], 'linear'), is(/Resize: sizes \[1,3,8,8\] .*float32\[1,2,4,4\]/));
  assert.throws(() => x.resize([8, 8], 'nearest'), is(/Resize: sizes \[8,8\]/));
  assert.throws(() => x.pad([0, 0, 4, 0, 0, 0, 0, 0], 'reflect'), is(/Pad: reflect padding of 4 on axis 2 of float32\[1,2,4,4\]/));
  assert.throws(() => x.pad([0, 0, -1, 0, 0, 0, 0, 0]), is(/Pad: pads \[0,0,-1,0,0,0,0,0\] must be 8 non-negative ints/));
});
