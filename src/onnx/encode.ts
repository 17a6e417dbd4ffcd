import { type DType } from '../core/dtype.ts';
import { UnsupportedError } from '../core/errors.ts';
import { type Shape } from '../core/shape.ts';
import { ModelProto, ONNX_IR_VERSION, ONNX_OPSET, OnnxAttrType, OnnxDataType } from './schema.ts';
import type { OnnxAttribute, OnnxGraph, OnnxValueInfo } from './types.ts';

export function onnxDataType(d: DType): number {
  switch (d) {
    case 'float32': return OnnxDataType.FLOAT;
    case 'float64': return OnnxDataType.DOUBLE;
    case 'float16': return OnnxDataType.FLOAT16;
    case 'bfloat16': return OnnxDataType.BFLOAT16;
    case 'int64': return OnnxDataType.INT64;
    case 'int32': return OnnxDataType.INT32;
    case 'int8': return OnnxDataType.INT8;
    case 'uint8': return OnnxDataType.UINT8;
    case 'bool': return OnnxDataType.BOOL;
  }
}

export function valueInfo(name: string, dtype: DType, shape: Shape): OnnxValueInfo {
  return { name, type: { tensorType: { elemType: onnxDataType(dtype), shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

/** Builds an AttributeProto from a JS value: number (int if integral and `ints` not forced), number[], string. */
export function attr(name: string, v: number | readonly number[] | string, kind: 'int' | 'float' = 'int'): OnnxAttribute {
  if (typeof v === 'string') return { name, type: OnnxAttrType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return kind === 'float' ? { name, type: OnnxAttrType.FLOAT, f: v } : { name, type: OnnxAttrType.INT, i: v };
  if (kind === 'float') return { name, type: OnnxAttrType.FLOATS, floats: [...v] };
  for (const x of v) if (!Number.isInteger(x)) throw new UnsupportedError(`attribute ${name}: ints expected, got ${x}`);
  return { name, type: OnnxAttrType.INTS, ints: [...v] };
}

export interface ModelMeta {
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
  /** Contrib operator sets used by the graph (imported at version 1). */
  domains?: readonly string[];
}

/** Serialises a graph as an ONNX ModelProto (IR version 10, default-domain opset 21). */
export function encodeModel(graph: OnnxGraph, meta: ModelMeta = {}): Uint8Array {
  const msg = ModelProto.fromObject({
    irVersion: ONNX_IR_VERSION,
    producerName: 'pasd',
    producerVersion: meta.producerVersion ?? '0',
    docString: meta.docString ?? '',
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(meta.domains ?? []).map((domain) => ({ domain, version: 1 }))],
    metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph,
  });
  return ModelProto.encode(msg).finish();
}

/** Decodes a model (used by tests to inspect what was written). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
