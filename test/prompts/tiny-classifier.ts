/**
 * Writes a small ONNX "classifier" with our own IR and exporter: the channel means of the
 * [1, C, S, S] input (ReduceMean over H, W) → Gemm with chosen weights → logits [1, K].
 * With weights picking one channel per class, a red image is "tomato", a blue one "sky".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportGraph } from '../../src/export/export.ts';
import { Graph } from '../../src/ir/graph.ts';
import { ModelProto } from '../../src/onnx/schema.ts';
import { Tensor, apply1 } from '../../src/ops/tensor.ts';

export interface TinyClassifier {
  /** Input shape; default [1, 3, size, size]. */
  inputShape: readonly number[];
  /** Row-major [K, C]. */
  weight: readonly number[];
  bias: readonly number[];
  /** labels.txt content; default the labels joined by newlines. */
  labels?: readonly string[];
  labelsText?: string;
  preprocess?: unknown;
  /** The graph input's name (default `image`; transformers.js folders: `pixel_values`). */
  inputName?: string;
}

/**
 * The same model with symbolic dimensions, as torch.onnx.export writes `dynamic_axes`:
 * `dims` maps input/output name → dimension index → dim_param name.
 */
export function withSymbolicDims(bytes: Uint8Array, dims: Record<string, Record<number, string>>): Uint8Array {
  type Dim = { dimValue?: unknown; dimParam?: string };
  type Info = { name: string; type: { tensorType: { shape: { dim: Dim[] } } } };
  const m = ModelProto.decode(bytes) as unknown as { graph: { input: Info[]; output: Info[] } };
  for (const v of [...m.graph.input, ...m.graph.output])
    for (const [i, name] of Object.entries(dims[v.name] ?? {})) v.type.tensorType.shape.dim[Number(i)] = { dimParam: name };
  return ModelProto.encode(ModelProto.fromObject(m)).finish();
}

export function classifierBytes(o: TinyClassifier): Uint8Array {
  const g = new Graph('tiny_classifier');
  const c = o.inputShape[1], k = o.bias.length;
  const x = new Tensor(g, g.addInput(o.inputName ?? 'image', { dtype: 'float32', shape: [...o.inputShape] }));
  const param = (name: string, shape: number[], v: readonly number[]) =>
    new Tensor(g, g.addParam(name, { dtype: 'float32', shape }, { kind: 'host', dtype: 'float32', data: Float32Array.from(v) }));
  const pooled = o.inputShape.length === 4 ? x.mean([2, 3]) : x; // [1, C]
  const logits = apply1('Gemm', [pooled, param('fc.weight', [k, c], o.weight), param('fc.bias', [k], o.bias)], { transA: false, transB: true, alpha: 1, beta: 1 });
  g.setOutputs({ logits: logits.value });
  return exportGraph(g).bytes;
}

/** Writes model.onnx, labels.txt and (when given) preprocess.json into `dir`. */
export function writeClassifier(dir: string, o: TinyClassifier): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), classifierBytes(o));
  writeFileSync(join(dir, 'labels.txt'), o.labelsText ?? `${(o.labels ?? []).join('\n')}\n`);
  if (o.preprocess !== undefined) writeFileSync(join(dir, 'preprocess.json'), JSON.stringify(o.preprocess));
  return dir;
}
