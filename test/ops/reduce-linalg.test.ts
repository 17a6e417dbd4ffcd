import { test } from 'node:test';
import { apply1 } from '../../src/ops/tensor.ts';
import type { Tensor } from '../../src/ops/tensor.ts';
import { checkForward, checkVjp } from './harness.ts';

const X = { shape: [2, 3, 4] };

test('ReduceSum / ReduceMean over several axes, with and without keepdims', async () => {
  const f = (x: Tensor) => [x.sum([0, 2]), x.mean([1], true), x.mean([0, 1, 2])];
  await checkForward([X], f);
  checkVjp([X], f);
});

test('Softmax over the last and a middle axis', async () => {
  const f = (x: Tensor) => [x.softmax(-1), x.softmax(1)];
  await checkForward([{ shape: [2, 3, 4], range: [-3, 3] }], f);
  checkVjp([{ shape: [2, 3, 4], range: [-3, 3] }], f);
});

test('MatMul with batch broadcasting', async () => {
  const f = (a: Tensor, b: Tensor) => a.matmul(b);
  await checkForward([{ shape: [2, 1, 3, 5] }, { shape: [4, 5, 2] }], f);
  checkVjp([{ shape: [2, 1, 3, 5] }, { shape: [4, 5, 2] }], f);
});

test('Gemm with transposes, alpha, beta and a broadcast C', async () => {
  const f = (a: Tensor, b: Tensor, c: Tensor) => apply1('Gemm', [a, b, c], { transA: true, transB: true, alpha: 0.7, beta: 1.3 });
  const specs = [{ shape: [5, 3] }, { shape: [4, 5] }, { shape: [4] }];
  await checkForward(specs, f);
  checkVjp(specs, f);
});

test('MultiHeadAttention (com.microsoft, fused): forward against the reference, vjp against finite differences', async () => {
  const f = (q: Tensor, k: Tensor, v: Tensor) => apply1('MultiHeadAttention', [q, k, v], { heads: 2, scale: 0.4 });
  const specs = [{ shape: [2, 5, 6] }, { shape: [2, 7, 6] }, { shape: [2, 7, 4] }];
  await checkForward(specs, f);
  checkVjp(specs, f);
});

test('MultiHeadAttention vjp in query chunks (bounded memory) equals finite differences too', () => {
  const f = (q: Tensor, k: Tensor, v: Tensor) => apply1('MultiHeadAttention', [q, k, v], { heads: 2, scale: 0.4, backwardChunk: 2 });
  checkVjp([{ shape: [2, 5, 6] }, { shape: [2, 7, 6] }, { shape: [2, 7, 4] }], f);
});
