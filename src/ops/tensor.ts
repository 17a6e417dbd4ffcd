/**
 * The symbolic Tensor: a typed value of a graph under construction. Every method appends a
 * node through `apply`, which runs the op's shape rule first, so shape errors surface at
 * trace time with the module path.
 */
import { type DType, type HostArray } from '../core/dtype.ts';
import { ShapeError } from '../core/errors.ts';
import { type Shape, normAxis, numel } from '../core/shape.ts';
import { type Graph, type TensorType, type Value, fmtType } from '../ir/graph.ts';
import { OPS } from './registry.ts';
import type { ConvAttrs, OpAttrs, OpName, PadMode, ResizeMode } from './types.ts';

export class Tensor {
  constructor(readonly graph: Graph, readonly value: Value) {}

  get shape(): Shape { return this.value.type.shape; }
  get dtype(): DType { return this.value.type.dtype; }
  get rank(): number { return this.shape.length; }
  get type(): TensorType { return this.value.type; }

  add(o: Tensor | number): Tensor { return apply1('Add', [this, this.lift(o)], {}); }
  sub(o: Tensor | number): Tensor { return apply1('Sub', [this, this.lift(o)], {}); }
  mul(o: Tensor | number): Tensor { return apply1('Mul', [this, this.lift(o)], {}); }
  div(o: Tensor | number): Tensor { return apply1('Div', [this, this.lift(o)], {}); }
  pow(o: Tensor | number): Tensor { return apply1('Pow', [this, this.lift(o)], {}); }
  greater(o: Tensor | number): Tensor { return apply1('Greater', [this, this.lift(o)], {}); }
  neg(): Tensor { return apply1('Neg', [this], {}); }
  exp(): Tensor { return apply1('Exp', [this], {}); }
  log(): Tensor { return apply1('Log', [this], {}); }
  sqrt(): Tensor { return apply1('Sqrt', [this], {}); }
  abs(): Tensor { return apply1('Abs', [this], {}); }
  sign(): Tensor { return apply1('Sign', [this], {}); }
  sin(): Tensor { return apply1('Sin', [this], {}); }
  cos(): Tensor { return apply1('Cos', [this], {}); }
  erf(): Tensor { return apply1('Erf', [this], {}); }
  sigmoid(): Tensor { return apply1('Sigmoid', [this], {}); }
  tanh(): Tensor { return apply1('Tanh', [this], {}); }
  relu(): Tensor { return apply1('Relu', [this], {}); }
  leakyRelu(alpha: number): Tensor { return apply1('LeakyRelu', [this], { alpha }); }
  clip(min: number, max: number): Tensor { return apply1('Clip', [this], { min, max }); }
  /** x·sigmoid(x) */
  silu(): Tensor { return this.mul(this.sigmoid()); }
  softmax(axis: number): Tensor { return apply1('Softmax', [this], { axis: normAxis(axis, this.rank, 'Softmax') }); }
  matmul(o: Tensor): Tensor { return apply1('MatMul', [this, o], {}); }

  sum(axes: readonly number[], keepdims = false): Tensor {
    return apply1('ReduceSum', [this], { axes: axes.map((a) => normAxis(a, this.rank, 'ReduceSum')), keepdims });
  }
  mean(axes: readonly number[], keepdims = false): Tensor {
    return apply1('ReduceMean', [this], { axes: axes.map((a) => normAxis(a, this.rank, 'ReduceMean')), keepdims });
  }

  /** Reshape; one dimension may be -1. */
  reshape(shape: readonly number[]): Tensor {
    return apply1('Reshape', [this], { shape: resolveReshape(this.shape, shape) });
  }
  transpose(perm: readonly number[]): Tensor { return apply1('Transpose', [this], { perm }); }
  /** Swaps the last two axes. */
  mT(): Tensor {
    const p = [...this.shape.keys()];
    [p[p.length - 2], p[p.length - 1]] = [p[p.length - 1], p[p.length - 2]];
    return this.transpose(p);
  }
  /** Slice of one axis, [start, end) with step. */
  slice(axis: number, start: number, end: number, step = 1): Tensor {
    return apply1('Slice', [this], { starts: [start], ends: [end], axes: [normAxis(axis, this.rank, 'Slice')], steps: [step] });
  }
  split(axis: number, split: readonly number[]): Tensor[] {
    return apply('Split', [this], { axis: normAxis(axis, this.rank, 'Split'), split });
  }
  /** Splits into `n` equal chunks (torch.chunk with divisible sizes). */
  chunk(n: number, axis: number): Tensor[] {
    const d = this.shape[normAxis(axis, this.rank, 'chunk')];
    if (d % n !== 0) throw new ShapeError(`chunk: dimension ${d} of ${fmtType(this.type)} is not divisible by ${n}`);
    return this.split(axis, new Array<number>(n).fill(d / n));
  }
  gather(indices: Tensor, axis = 0): Tensor { return apply1('Gather', [this, indices], { axis: normAxis(axis, this.rank, 'Gather') }); }
  expand(shape: readonly number[]): Tensor { return apply1('Expand', [this], { shape }); }
  cast(to: DType): Tensor { return to === this.dtype ? this : apply1('Cast', [this], { to }); }
  resize(sizes: readonly number[], mode: ResizeMode): Tensor { return apply1('Resize', [this], { mode, sizes }); }
  /** ONNX-order pads: all begins, then all ends. */
  pad(pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor { return apply1('Pad', [this], { pads, mode, value }); }

  /** 2-D convolution of NCHW input with W [O, C/group, kh, kw]; pads [top, left, bottom, right]. */
  conv2d(w: Tensor, b: Tensor | null, o: Partial<ConvAttrs> = {}): Tensor {
    return apply1('Conv', b ? [this, w, b] : [this, w], convAttrs(o));
  }
  /** 2-D transposed convolution with W [C, O/group, kh, kw] (torch.nn.ConvTranspose2d layout). */
  convTranspose2d(w: Tensor, b: Tensor | null, o: Partial<OpAttrs['ConvTranspose']> = {}): Tensor {
    return apply1('ConvTranspose', b ? [this, w, b] : [this, w], { ...convAttrs(o), outputPadding: o.outputPadding ?? [0, 0] });
  }
  /** torch.nn.GroupNorm: statistics per (sample, group of channels), then a per-channel affine. */
  groupNorm(numGroups: number, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
    return apply1('GroupNormalization', [this, scale, bias], { numGroups, epsilon });
  }
  /** torch.nn.LayerNorm over the axes [axis, rank); scale (and bias) have those axes' shape. */
  layerNorm(scale: Tensor, bias: Tensor | null, axis = -1, epsilon = 1e-5): Tensor {
    return apply1('LayerNormalization', bias ? [this, scale, bias] : [this, scale], { axis: normAxis(axis, this.rank, 'LayerNormalization'), epsilon });
  }

  /** A scalar or tensor operand in this tensor's graph and dtype. */
  private lift(o: Tensor | number): Tensor {
    return typeof o === 'number' ? scalar(this.graph, o, this.dtype) : o;
  }
}

/** Appends a node for `op` and returns its outputs as tensors. */
export function apply<K extends OpName>(op: K, inputs: readonly Tensor[], attrs: OpAttrs[K]): Tensor[] {
  const g = inputs.length ? inputs[0].graph : null;
  if (!g) throw new ShapeError(`${op}: no input tensor to take the graph from`);
  for (const t of inputs) if (t.graph !== g) throw new ShapeError(`${op}: inputs belong to different graphs`);
  let types: TensorType[];
  try {
    types = OPS[op].infer(inputs.map((t) => t.type), attrs);
  } catch (e) {
    if (e instanceof ShapeError && g.scope) throw new ShapeError(`${g.scope}: ${e.message}`, { cause: e });
    throw e;
  }
  const node = g.addNode(op, inputs.map((t) => t.value), types, attrs as Record<string, unknown>);
  return node.outputs.map((v) => new Tensor(g, v));
}

export function apply1<K extends OpName>(op: K, inputs: readonly Tensor[], attrs: OpAttrs[K]): Tensor {
  return apply(op, inputs, attrs)[0];
}

export function scalar(g: Graph, v: number, dtype: DType): Tensor {
  return constOf(g, [v], dtype, []);
}

/** A constant tensor from plain numbers. */
export function constOf(g: Graph, values: readonly number[], dtype: DType, shape: Shape): Tensor {
  return makeConst(g, hostArrayOf(values, dtype), dtype, shape);
}

export function makeConst(g: Graph, data: HostArray, dtype: DType, shape: Shape): Tensor {
  const node = g.addNode('Constant', [], OPS.Constant.infer([], { data, dtype, shape }), { data, dtype, shape });
  return new Tensor(g, node.outputs[0]);
}

export function hostArrayOf(values: readonly number[], dtype: DType): HostArray {
  switch (dtype) {
    case 'float32': return Float32Array.from(values);
    case 'float64': return Float64Array.from(values);
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32': return Int32Array.from(values);
    case 'int8': return Int8Array.from(values);
    case 'uint8': case 'bool': return Uint8Array.from(values);
    default: throw new ShapeError(`constant of dtype ${dtype} is not supported`);
  }
}

export function zerosLike(t: Tensor): Tensor {
  return scalar(t.graph, 0, t.dtype).expand([...t.shape]);
}

export function concat(ts: readonly Tensor[], axis: number): Tensor {
  if (ts.length === 1) return ts[0];
  return apply1('Concat', ts, { axis: normAxis(axis, ts[0].rank, 'Concat') });
}

export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor { return apply1('Where', [cond, a, b], {}); }

function convAttrs(o: Partial<ConvAttrs>): ConvAttrs {
  return { strides: o.strides ?? [1, 1], pads: o.pads ?? [0, 0, 0, 0], dilations: o.dilations ?? [1, 1], group: o.group ?? 1 };
}

function resolveReshape(from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  const out = [...to];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(out.filter((_, i) => i !== neg));
    if (rest === 0 || n % rest !== 0) throw new ShapeError(`Reshape: cannot reshape [${from.join(',')}] to [${to.join(',')}]`);
    out[neg] = n / rest;
  }
  if (numel(out) !== n) throw new ShapeError(`Reshape: cannot reshape [${from.join(',')}] (${n} elements) to [${to.join(',')}]`);
  return out;
}
