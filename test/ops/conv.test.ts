import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import type { ConvAttrs } from '../../src/ops/types.ts';
import { type InputSpec, checkForward, checkVjp } from './harness.ts';

type Case = [name: string, x: number[], w: number[], bias: boolean, attrs: Partial<ConvAttrs>];

// Each case: onnxruntime's Conv against the float64 reference, and the vjp (ConvTranspose
// for dX, a stride/dilation-swapped Conv for dW, Σg for dB) against finite differences.
const convCases: Case[] = [
  ['3x3, pad 1, bias', [2, 3, 7, 6], [4, 3, 3, 3], true, { pads: [1, 1, 1, 1] }],
  ['stride 2 on odd 13x11 (every row reached)', [1, 2, 13, 11], [3, 2, 3, 3], true, { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ['stride 2 on even 14x12 (last row unreached: output_padding)', [1, 2, 14, 12], [3, 2, 3, 3], true, { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ['stride 3, kernel 2, no pad (two rows unreached)', [1, 2, 13, 11], [2, 2, 2, 2], false, { strides: [3, 3] }],
  ['dilation 2, asymmetric pads', [2, 2, 9, 8], [3, 2, 3, 2], true, { dilations: [2, 2], pads: [1, 0, 2, 1] }],
  ['mixed strides and dilations per axis', [1, 2, 11, 10], [2, 2, 3, 3], true, { strides: [2, 1], dilations: [1, 2], pads: [0, 2, 1, 0] }],
  ['1x1, no bias', [2, 5, 4, 3], [3, 5, 1, 1], false, {}],
  ['groups 2, stride 2', [2, 4, 9, 7], [6, 2, 3, 3], true, { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }],
];

function specs(x: number[], w: number[], bias: boolean, biasLen: number): InputSpec[] {
  return [{ shape: x }, { shape: w }, ...(bias ? [{ shape: [biasLen] }] : [])];
}

for (const [name, x, w, bias, attrs] of convCases) {
  const f = (xt: Tensor, wt: Tensor, bt?: Tensor) => xt.conv2d(wt, bt ?? null, attrs);
  test(`Conv ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward(specs(x, w, bias, w[0]), f)}`); });
  test(`Conv ${name}: vjp matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp(specs(x, w, bias, w[0]), f)}`); });
}

type TCase = [name: string, x: number[], w: number[], bias: boolean, attrs: Partial<ConvAttrs> & { outputPadding?: number[] }];
const convTCases: TCase[] = [
  ['kernel 4, stride 2, pad 1 (2x upsampling)', [2, 3, 5, 4], [3, 2, 4, 4], true, { strides: [2, 2], pads: [1, 1, 1, 1] }],
  ['kernel 3, stride 2, output padding 1, asymmetric pads', [1, 2, 6, 5], [2, 3, 3, 3], true, { strides: [2, 2], pads: [1, 0, 0, 1], outputPadding: [1, 1] }],
  ['dilation 2, stride 2, output padding 1 (≥ dilation: weight-gradient trim)', [1, 2, 5, 6], [2, 2, 3, 2], false, { strides: [2, 2], dilations: [2, 1], outputPadding: [1, 1] }],
  ['dilation 3, stride 3, output padding 2, no pad', [1, 2, 4, 3], [2, 2, 2, 2], false, { strides: [3, 3], dilations: [3, 1], outputPadding: [2, 2] }],
  ['groups 2, stride 2', [2, 4, 4, 3], [4, 3, 3, 3], true, { group: 2, strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0] }],
];

for (const [name, x, w, bias, attrs] of convTCases) {
  const f = (xt: Tensor, wt: Tensor, bt?: Tensor) => xt.convTranspose2d(wt, bt ?? null, attrs);
  const o = w[1] * (attrs.group ?? 1);
  test(`ConvTranspose ${name}: onnxruntime matches the reference`, async (t) => { t.diagnostic(`rel err ${await checkForward(specs(x, w, bias, o), f)}`); });
  test(`ConvTranspose ${name}: vjp matches finite differences`, (t) => { t.diagnostic(`rel err ${checkVjp(specs(x, w, bias, o), f)}`); });
}

test('Conv: a hand-computed 3x3 box filter with stride 2 and padding (reference and onnxruntime)', async () => {
  // 1x1x4x4 ramp 0..15, all-ones 3x3 kernel, pad 1, stride 2: window sums centred at (0,0), (0,2), (2,0), (2,2).
  const ramp = [...Array(16).keys()];
  const g = new Graph();
  const xt = new Tensor(g, g.addInput('x', { dtype: 'float64', shape: [1, 1, 4, 4] }));
  const wt = new Tensor(g, g.addInput('w', { dtype: 'float64', shape: [1, 1, 3, 3] }));
  const y = xt.conv2d(wt, null, { strides: [2, 2], pads: [1, 1, 1, 1] });
  const env = evaluateRef(g, new Map([
    [xt.value, { dtype: 'float64', shape: [1, 1, 4, 4], data: Float64Array.from(ramp) }],
    [wt.value, { dtype: 'float64', shape: [1, 1, 3, 3], data: new Float64Array(9).fill(1) }],
  ]));
  // 0+1+4+5; 1+2+3+5+6+7; 4+5+8+9+12+13; 5+6+7+9+10+11+13+14+15
  assert.deepEqual([...env.get(y.value)!.data], [10, 24, 51, 90]);
  await checkForward([{ shape: [1, 1, 4, 4], values: ramp }, { shape: [1, 1, 3, 3], values: new Array(9).fill(1) }],
    (a, b) => a.conv2d(b, null, { strides: [2, 2], pads: [1, 1, 1, 1] }), 0);
});

test('Conv / ConvTranspose shape errors name the op and the shapes', () => {
  const g = new Graph();
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [1, 4, 8, 8] }));
  const w = new Tensor(g, g.addInput('w', { dtype: 'float32', shape: [6, 3, 3, 3] }));
  const w2 = new Tensor(g, g.addInput('w2', { dtype: 'float32', shape: [6, 2, 3, 3] }));
  const wt = new Tensor(g, g.addInput('wt', { dtype: 'float32', shape: [4, 3, 3, 3] }));
  const b = new Tensor(g, g.addInput('b', { dtype: 'float32', shape: [5] }));
  const is = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test(e.message);
  assert.throws(() => x.conv2d(w, null), is(/Conv: .*\[1,4,8,8\].*\[6,3,3,3\].*group 1/));
  assert.throws(() => x.conv2d(w2, b, { group: 2 }), is(/Conv: bias float32\[5\] must be \[6\]/));
  assert.throws(() => x.conv2d(w2, null, { group: 2, dilations: [5, 5] }), is(/Conv: kernel .* larger than X/));
  assert.throws(() => x.conv2d(w2, null, { group: 2, pads: [1, 1] }), is(/Conv: .*pads \[1,1\]/));
  assert.throws(() => x.convTranspose2d(wt, null, { strides: [2, 2], outputPadding: [2, 0] }), is(/ConvTranspose: outputPadding \[2,0\]/));
  assert.throws(() => x.convTranspose2d(w, null), is(/ConvTranspose: X float32\[1,4,8,8\] and W float32\[6,3,3,3\]/));
});
