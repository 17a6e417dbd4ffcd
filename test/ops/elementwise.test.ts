import { test } from 'node:test';
import { where } from '../../src/ops/tensor.ts';
import { type InputSpec, checkForward, checkVjp } from './harness.ts';
import type { Tensor } from '../../src/ops/tensor.ts';

const A: InputSpec = { shape: [2, 3, 4] };
const B: InputSpec = { shape: [3, 1] }; // broadcasts against A
const POS: InputSpec = { shape: [2, 3, 4], range: [0.2, 2] };

const binary: [string, (a: Tensor, b: Tensor) => Tensor, InputSpec, InputSpec][] = [
  ['Add', (a, b) => a.add(b), A, B],
  ['Sub', (a, b) => a.sub(b), A, B],
  ['Mul', (a, b) => a.mul(b), A, B],
  ['Div', (a, b) => a.div(b), A, { shape: [3, 1], range: [0.5, 2] }],
  ['Pow', (a, b) => a.pow(b), POS, { shape: [4], range: [-1.5, 2.5] }],
];
for (const [name, f, sa, sb] of binary) {
  test(`${name}: onnxruntime matches the reference, with broadcasting`, async () => { await checkForward([sa, sb], f); });
  test(`${name}: vjp matches finite differences (gradients summed to broadcast inputs)`, () => { checkVjp([sa, sb], f); });
}

const unary: [string, (x: Tensor) => Tensor, InputSpec][] = [
  ['Sqrt', (x) => x.sqrt(), POS],
  ['Exp', (x) => x.exp(), A],
  ['Log', (x) => x.log(), POS],
  ['Neg', (x) => x.neg(), A],
  ['Abs', (x) => x.abs(), A],
  ['Sin', (x) => x.sin(), A],
  ['Cos', (x) => x.cos(), A],
  ['Erf', (x) => x.erf(), { shape: [2, 3, 4], range: [-3, 3] }],
  ['Sigmoid', (x) => x.sigmoid(), { shape: [2, 3, 4], range: [-4, 4] }],
  ['Tanh', (x) => x.tanh(), A],
  ['Relu', (x) => x.relu(), A],
  ['LeakyRelu', (x) => x.leakyRelu(0.2), A],
  ['Clip', (x) => x.clip(-0.5, 0.3), A],
];
for (const [name, f, s] of unary) {
  test(`${name}: onnxruntime matches the reference`, async () => { await checkForward([s], f); });
  test(`${name}: vjp matches finite differences`, () => { checkVjp([s], f); });
}

test('Greater and Sign give exact results through onnxruntime', async () => {
  await checkForward([A, B], (a, b) => a.greater(b).cast('float32'), 0);
  await checkForward([A], (a) => a.sign(), 0);
});

test('Where: selects by a boolean condition, gradient flows to both branches', async () => {
  const f = (c: Tensor, a: Tensor, b: Tensor) => where(c.greater(0), a, b);
  await checkForward([{ shape: [3, 4] }, { shape: [2, 3, 4] }, { shape: [4] }], f);
  checkVjp([{ shape: [3, 4], noGrad: true }, { shape: [2, 3, 4] }, { shape: [4] }], f);
});

test('Cast: float → int64 truncates toward zero; float64 ↔ float32 is differentiable', async () => {
  await checkForward([{ shape: [8], range: [-5, 5] }], (x) => x.cast('int64').cast('float32'), 0);
  checkVjp([{ shape: [5] }], (x) => x.cast('float32').mul(2).cast('float64'));
});
