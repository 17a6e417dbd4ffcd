import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import { graphFlops } from '../../src/ops/flops.ts';
import { Tensor, apply1 } from '../../src/ops/tensor.ts';

test('FLOP count: conv, matmul and elementwise, dead branches excluded', () => {
  const g = new Graph();
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [2, 8, 10, 10] }));
  const w = new Tensor(g, g.addInput('w', { dtype: 'float32', shape: [16, 4, 3, 3] }));
  const y = apply1('Conv', [x, w], { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], group: 2 }); // [2,16,10,10]
  const a = new Tensor(g, g.addInput('a', { dtype: 'float32', shape: [3, 5, 7] }));
  const b = new Tensor(g, g.addInput('b', { dtype: 'float32', shape: [7, 4] }));
  x.exp(); // dead
  g.setOutputs({ y: y.relu().value, m: a.matmul(b).value });
  assert.equal(graphFlops(g), 2 * 2 * 16 * 100 * 4 * 9 + 2 * 16 * 100 + 2 * 3 * 5 * 4 * 7);
});

test('FLOP count of fused attention: q·kᵀ and p·v over all heads', () => {
  const g = new Graph();
  const q = new Tensor(g, g.addInput('q', { dtype: 'float32', shape: [2, 10, 8] }));
  const kv = new Tensor(g, g.addInput('kv', { dtype: 'float32', shape: [2, 6, 8] }));
  g.setOutputs({ y: apply1('MultiHeadAttention', [q, kv, kv], { heads: 2, scale: 0.5 }).value });
  assert.equal(graphFlops(g), 2 * 2 * 10 * 6 * (8 + 8));
});
