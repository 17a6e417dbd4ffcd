import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { Tensor, concat } from '../../src/ops/tensor.ts';
import { checkForward, checkVjp } from './harness.ts';

const X = { shape: [2, 3, 4] };

test('Reshape with -1, and its vjp', async () => {
  await checkForward([X], (x) => x.reshape([4, -1]).mul(1));
  checkVjp([X], (x) => x.reshape([6, 4]).mul(x.reshape([6, 4])));
});

test('Transpose and its vjp', async () => {
  await checkForward([X], (x) => x.transpose([2, 0, 1]));
  checkVjp([X], (x) => x.transpose([1, 2, 0]).mul(x.transpose([1, 2, 0])));
});

test('Concat along a middle axis, and its vjp', async () => {
  const f = (a: Tensor, b: Tensor) => concat([a, b, a], 1);
  await checkForward([X, { shape: [2, 5, 4] }], f);
  checkVjp([X, { shape: [2, 5, 4] }], f);
});

test('Slice with negative, clamped and strided bounds, and its vjp', async () => {
  const f = (x: Tensor) => x.slice(2, 1, 100).slice(1, -2, 3).slice(0, 0, 2, 2);
  await checkForward([{ shape: [5, 4, 7] }], f);
  checkVjp([{ shape: [5, 4, 7] }], f);
  const g = (x: Tensor) => x.slice(2, 1, 7, 3);
  await checkForward([{ shape: [2, 2, 8] }], g);
  checkVjp([{ shape: [2, 2, 8] }], g);
});

test('Split / chunk, vjp with an unused part', async () => {
  await checkForward([X], (x) => x.split(2, [1, 3]));
  checkVjp([X], (x) => x.chunk(3, 1)[2].mul(2));
});

test('Gather along axes 0 and 1 (embedding lookup), vjp w.r.t. the data', async () => {
  const idx = { shape: [2, 3], dtype: 'int64' as const, values: [0, 2, 2, 1, 0, 4], noGrad: true };
  await checkForward([{ shape: [5, 3] }, idx], (d, i) => d.gather(i, 0));
  checkVjp([{ shape: [5, 3] }, idx], (d, i) => d.gather(i, 0));
  const idx1 = { shape: [3], dtype: 'int64' as const, values: [1, 1, 0], noGrad: true };
  checkVjp([{ shape: [2, 3, 2] }, idx1], (d, i) => d.gather(i, 1));
});

test('Expand and its vjp (summed over the expanded axes)', async () => {
  await checkForward([{ shape: [3, 1] }], (x) => x.expand([2, 3, 4]));
  checkVjp([{ shape: [3, 1] }], (x) => x.expand([2, 3, 4]));
});

test('shape errors name the op, the module path and both shapes', () => {
  const g = new Graph();
  const a = new Tensor(g, g.addInput('a', { dtype: 'float32', shape: [2, 3] }));
  const b = new Tensor(g, g.addInput('b', { dtype: 'float32', shape: [4, 3] }));
  assert.throws(() => g.withScope('down_blocks.0', () => g.withScope('down_blocks.0.resnets.1', () => a.add(b))),
    (e: unknown) => e instanceof ShapeError && /down_blocks\.0\.resnets\.1/.test(e.message) && /Add/.test(e.message) && /\[2,3\]/.test(e.message) && /\[4,3\]/.test(e.message));
  assert.throws(() => a.matmul(b), ShapeError);
  assert.throws(() => a.reshape([5, -1]), ShapeError);
});
