/** Elementwise ops: binary arithmetic with numpy broadcasting, unary math, Clip, Where, Cast. */
import { ShapeError } from '../core/errors.ts';
import { broadcastShapes } from '../core/shape.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { onnxDataType } from '../onnx/encode.ts';
import { broadcastMap, erf, ref, roundTo, unaryMap } from './ref-util.ts';
import { scalar, where } from './tensor.ts';
import type { Empty, OpAttrs, OpDef } from './types.ts';

function sameDtype(op: string, ts: readonly TensorType[]): void {
  for (const t of ts) if (t.dtype !== ts[0].dtype) throw new ShapeError(`${op}: dtypes differ (${ts.map(fmtType).join(', ')})`);
}

function binaryInfer(op: string) {
  return (ins: readonly TensorType[]): TensorType[] => {
    sameDtype(op, ins);
    return [{ dtype: ins[0].dtype, shape: broadcastShapes(ins.map((t) => t.shape), op) }];
  };
}

function simple(onnxOp: string) {
  return (ctx: Parameters<OpDef<unknown>['lower']>[0], ins: readonly string[], outs: readonly string[]) => {
    ctx.node(onnxOp, ins, [], outs);
  };
}

function binary(op: string, fn: (a: number, b: number) => number, vjp: OpDef<Empty>['vjp']): OpDef<Empty> {
  return {
    infer: binaryInfer(op),
    lower: simple(op),
    vjp,
    ref: (ins) => [broadcastMap(ins, ins[0].dtype, (a, b) => roundTo(ins[0].dtype, fn(a, b)))],
  };
}

function unary(op: string, fn: (x: number) => number, vjp: OpDef<Empty>['vjp']): OpDef<Empty> {
  return {
    infer: (ins) => [ins[0]],
    lower: simple(op),
    vjp,
    ref: (ins) => [unaryMap(ins[0], fn)],
  };
}

type ElementwiseOps = Pick<OpAttrs, 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow' | 'Greater' | 'Sqrt' | 'Exp' | 'Log' | 'Neg' | 'Abs' |
  'Sign' | 'Sin' | 'Cos' | 'Erf' | 'Sigmoid' | 'Tanh' | 'Relu' | 'LeakyRelu' | 'Clip' | 'Where' | 'Cast'>;

export const elementwiseOps: { [K in keyof ElementwiseOps]: OpDef<ElementwiseOps[K]> } = {
  Add: binary('Add', (a, b) => a + b, ({ grads: [g] }) => [g, g]),
  Sub: binary('Sub', (a, b) => a - b, ({ grads: [g] }) => [g, g && g.neg()]),
  Mul: binary('Mul', (a, b) => a * b, ({ inputs: [a, b], grads: [g] }) => [g && g.mul(b), g && g.mul(a)]),
  Div: binary('Div', (a, b) => a / b, ({ inputs: [, b], outputs: [y], grads: [g] }) => {
    if (!g) return [null, null];
    const ga = g.div(b);
    return [ga, ga.mul(y).neg()];
  }),
  Pow: binary('Pow', (a, b) => a ** b, ({ inputs: [a, b], outputs: [y], grads: [g] }) => {
    if (!g) return [null, null];
    return [g.mul(b).mul(a.pow(b.sub(1))), g.mul(y).mul(a.log())];
  }),
  Greater: {
    infer: (ins) => {
      sameDtype('Greater', ins);
      return [{ dtype: 'bool', shape: broadcastShapes(ins.map((t) => t.shape), 'Greater') }];
    },
    lower: simple('Greater'),
    vjp: 'nondifferentiable',
    ref: (ins) => [broadcastMap(ins, 'bool', (a, b) => (a > b ? 1 : 0))],
  },
  Sqrt: unary('Sqrt', Math.sqrt, ({ outputs: [y], grads: [g] }) => [g && g.div(y.mul(2))]),
  Exp: unary('Exp', Math.exp, ({ outputs: [y], grads: [g] }) => [g && g.mul(y)]),
  Log: unary('Log', Math.log, ({ inputs: [x], grads: [g] }) => [g && g.div(x)]),
  Neg: unary('Neg', (x) => -x, ({ grads: [g] }) => [g && g.neg()]),
  Abs: unary('Abs', Math.abs, ({ inputs: [x], grads: [g] }) => [g && g.mul(x.sign())]),
  Sign: unary('Sign', Math.sign, 'nondifferentiable'),
  Sin: unary('Sin', Math.sin, ({ inputs: [x], grads: [g] }) => [g && g.mul(x.cos())]),
  Cos: unary('Cos', Math.cos, ({ inputs: [x], grads: [g] }) => [g && g.mul(x.sin()).neg()]),
  Erf: unary('Erf', erf, ({ inputs: [x], grads: [g] }) => [g && g.mul(x.mul(x).neg().exp().mul(2 / Math.sqrt(Math.PI)))]),
  Sigmoid: unary('Sigmoid', (x) => 1 / (1 + Math.exp(-x)), ({ outputs: [y], grads: [g] }) => [g && g.mul(y).mul(y.neg().add(1))]),
  Tanh: unary('Tanh', Math.tanh, ({ outputs: [y], grads: [g] }) => [g && g.mul(y.mul(y).neg().add(1))]),
  Relu: unary('Relu', (x) => Math.max(x, 0), ({ inputs: [x], grads: [g] }) => [g && where(x.greater(0), g, scalar(g.graph, 0, g.dtype))]),
  LeakyRelu: {
    infer: (ins) => [ins[0]],
    lower: (ctx, ins, outs, a) => { ctx.node('LeakyRelu', ins, [attr('alpha', a.alpha, 'float')], outs); },
    vjp: ({ inputs: [x], grads: [g], attrs }) => [g && where(x.greater(0), g, g.mul(attrs.alpha))],
    ref: ([x], a) => [unaryMap(x, (v) => (v > 0 ? v : a.alpha * v))],
  },
  Clip: {
    infer: (ins) => [ins[0]],
    lower: (ctx, ins, outs, a, [t]) => {
      ctx.node('Clip', [ins[0], ctx.constFloat([a.min], t.dtype, []), ctx.constFloat([a.max], t.dtype, [])], [], outs);
    },
    vjp: ({ inputs: [x], grads: [g], attrs }) => {
      if (!g) return [null];
      const zero = scalar(g.graph, 0, g.dtype);
      // Gradient passes where min <= x <= max (torch.clamp's convention at the bounds).
      return [where(x.greater(attrs.max), zero, where(scalar(g.graph, attrs.min, x.dtype).greater(x), zero, g))];
    },
    ref: ([x], a) => [unaryMap(x, (v) => Math.min(Math.max(v, a.min), a.max))],
  },
  Where: {
    infer: (ins) => {
      if (ins[0].dtype !== 'bool') throw new ShapeError(`Where: condition must be bool, got ${fmtType(ins[0])}`);
      sameDtype('Where', ins.slice(1));
      return [{ dtype: ins[1].dtype, shape: broadcastShapes(ins.map((t) => t.shape), 'Where') }];
    },
    lower: simple('Where'),
    vjp: ({ inputs: [c], grads: [g] }) => {
      if (!g) return [null, null, null];
      const zero = scalar(g.graph, 0, g.dtype);
      return [null, where(c, g, zero), where(c, zero, g)];
    },
    ref: (ins) => [broadcastMap(ins, ins[1].dtype, (c, a, b) => (c ? a : b))],
  },
  Cast: {
    infer: ([t], a) => [{ dtype: a.to, shape: t.shape }],
    lower: (ctx, ins, outs, a) => { ctx.node('Cast', ins, [attr('to', onnxDataType(a.to))], outs); },
    vjp: ({ inputs: [x], grads: [g] }) => [g && g.cast(x.dtype)],
    ref: ([x], a) => [ref(a.to, x.shape, x.data.map((v) => roundTo(a.to, v)))],
  },
};
