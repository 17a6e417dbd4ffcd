/**
 * What an op is: one object per op with its shape rule, ONNX lowering, vjp and float64
 * reference. `OpAttrs` lists every op with its attribute type; `OpRegistry` maps each name
 * to an `OpDef`, so an op without one of the four parts does not compile.
 */
import type { DType, HostArray } from '../core/dtype.ts';
import type { Shape } from '../core/shape.ts';
import type { TensorType } from '../ir/graph.ts';
import type { OnnxAttribute } from '../onnx/types.ts';
import type { Tensor } from './tensor.ts';

/** A float64 reference tensor (integers and booleans are stored as exact doubles). */
export interface RefTensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: Float64Array;
}

/**
 * Lowering choices that depend on where the model runs (src/engine/lowering.ts picks them per
 * provider and precision); they change the emitted ONNX, so they are part of the compile key.
 */
export interface LoweringTarget {
  /**
   * 'fused': onnxruntime's com.microsoft MultiHeadAttention (never materialises the scores);
   * 'chunked': MatMul → Softmax → MatMul per chunk of queries, each chunk's scores
   * [B, h, chunk, M] at most `scoreBytes` (onnxruntime 1.30's WebGPU MultiHeadAttention is
   * miscompiled: docs/onnxruntime-webgpu-defects.md).
   */
  readonly attention: { readonly kind: 'fused' } | { readonly kind: 'chunked'; readonly scoreBytes: number };
  /** 'decomposed': InstanceNormalization + per-channel Mul/Add (faster on CPU); 'native': GroupNormalization-21. */
  readonly groupNorm: 'decomposed' | 'native';
}

/** The CPU choices, and what an export without a target gets. */
export const DEFAULT_LOWERING: LoweringTarget = Object.freeze({ attention: Object.freeze({ kind: 'fused' as const }), groupNorm: 'decomposed' as const });

export interface LowerCtx {
  /** Provider-dependent lowering choices. */
  readonly target: LoweringTarget;
  /**
   * Emits one ONNX node; returns its output names (fresh unless `outputs` is given).
   * `domain` names a contrib operator set (`com.microsoft`), imported at version 1.
   */
  node(opType: string, inputs: readonly string[], attrs?: OnnxAttribute[], outputs?: readonly string[], domain?: string): string[];
  /** An int64 initializer (shapes, axes, pads …) and its name. */
  constI64(values: readonly number[], shape?: Shape): string;
  /** A scalar or small float initializer of `dtype` and its name. */
  constFloat(values: readonly number[], dtype: DType, shape?: Shape): string;
  /** A constant of arbitrary host data. */
  constData(data: HostArray, dtype: DType, shape: Shape): string;
}

export interface VjpArgs<A> {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** Gradient of the loss w.r.t. each output, null where no gradient flows. */
  readonly grads: readonly (Tensor | null)[];
  readonly attrs: A;
}

/**
 * Returns the gradient w.r.t. each input (null for none). A gradient may have the
 * broadcast output shape: autodiff sums it to the input's shape in one place.
 */
export type Vjp<A> = (args: VjpArgs<A>) => (Tensor | null)[];

export interface OpDef<A> {
  /** Output types; throws ShapeError naming the op and both shapes. */
  infer(inputs: readonly TensorType[], attrs: A): TensorType[];
  /** Writes the ONNX nodes computing `outputs` from `inputs` (value names). */
  lower(ctx: LowerCtx, inputs: readonly string[], outputs: readonly string[], attrs: A, types: readonly TensorType[]): void;
  vjp: Vjp<A> | 'nondifferentiable';
  /** Float64 reference semantics, used to check the lowering and the vjp. */
  ref(inputs: readonly RefTensor[], attrs: A): RefTensor[];
}

export type Empty = Record<string, never>;
export type ConvAttrs = { strides: readonly number[]; pads: readonly number[]; dilations: readonly number[]; group: number };
export type ResizeMode = 'nearest' | 'linear';
export type PadMode = 'constant' | 'reflect' | 'edge';

export interface OpAttrs {
  Conv: ConvAttrs;
  ConvTranspose: ConvAttrs & { outputPadding: readonly number[] };
  MatMul: Empty;
  Gemm: { transA: boolean; transB: boolean; alpha: number; beta: number };
  Add: Empty; Sub: Empty; Mul: Empty; Div: Empty; Pow: Empty;
  Greater: Empty;
  Sqrt: Empty; Exp: Empty; Log: Empty; Neg: Empty; Abs: Empty; Sign: Empty;
  Sin: Empty; Cos: Empty; Erf: Empty; Sigmoid: Empty; Tanh: Empty; Relu: Empty;
  LeakyRelu: { alpha: number };
  Clip: { min: number; max: number };
  Softmax: { axis: number };
  /** `native`: lower to onnxruntime's GroupNormalization-21 instead of the faster decomposition (norm.ts). */
  GroupNormalization: { numGroups: number; epsilon: number; native?: boolean };
  LayerNormalization: { axis: number; epsilon: number };
  ReduceMean: { axes: readonly number[]; keepdims: boolean };
  ReduceSum: { axes: readonly number[]; keepdims: boolean };
  Reshape: { shape: readonly number[] };
  Transpose: { perm: readonly number[] };
  Concat: { axis: number };
  Slice: { starts: readonly number[]; ends: readonly number[]; axes: readonly number[]; steps: readonly number[] };
  Split: { axis: number; split: readonly number[] };
  Gather: { axis: number };
  Expand: { shape: readonly number[] };
  Where: Empty;
  Cast: { to: DType };
  Resize: { mode: ResizeMode; sizes: readonly number[] };
  Pad: { pads: readonly number[]; mode: PadMode; value: number };
  Constant: { data: HostArray; dtype: DType; shape: Shape };
  /** `backwardChunk`: queries per chunk in the vjp (default: sized so each chunk's scores stay ≤ 64 MiB). */
  MultiHeadAttention: { heads: number; scale: number; backwardChunk?: number };
}

export type OpName = keyof OpAttrs;
export type OpRegistry = { readonly [K in OpName]: OpDef<OpAttrs[K]> };
