/**
 * IR graph → ONNX model. Inputs and parameters keep their names (parameters: the state-dict
 * key); parameters stored in weight files become external data pointing into those files
 * (no copy, no conversion); a parameter stored in another dtype than the graph uses (F16
 * checkpoints run in F32) is cast once right after the initializer.
 */
import { type DType, type HostArray, dtypeSize } from '../core/dtype.ts';
import { type Shape, numel } from '../core/shape.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { liveNodes, liveParams } from '../ir/passes.ts';
import { attr, encodeModel, onnxDataType, valueInfo } from '../onnx/encode.ts';
import type { OnnxNode, OnnxTensor } from '../onnx/types.ts';
import { opOf } from '../ops/registry.ts';
import { DEFAULT_LOWERING, type LowerCtx, type LoweringTarget } from '../ops/types.ts';
import { commonFolder, externalLocation } from './external.ts';
import { type Precision, toFloat16 } from './float16.ts';

export interface ExportedModel {
  readonly bytes: Uint8Array;
  /** Folder that external-data locations are relative to, or null when everything is inline. */
  readonly externalFolder: string | null;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

function rawBytes(data: HostArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

/**
 * `precision: 'fp16'` emits the model computing in float16 with float32 inputs and outputs
 * (float16.ts); `target` picks the provider-dependent lowerings (default: the CPU's).
 */
export function exportGraph(g: Graph, meta: { docString?: string; precision?: Precision; target?: LoweringTarget } = {}): ExportedModel {
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const names = new Map<Value, string>();
  const constCache = new Map<string, string>();
  const domains = new Set<string>();
  let tmp = 0;
  const fresh = (hint: string) => `${hint}_${tmp++}`;

  // Only what the outputs need: unused branches (e.g. the ControlNet's to-RGB heads at
  // inference) are neither exported nor mapped.
  const nodesLive = liveNodes(g);
  const params = liveParams(g, nodesLive);
  const fileParams = params.filter((p) => p.source!.kind === 'file');
  const folder = fileParams.length ? commonFolder(fileParams.map((p) => (p.source as { path: string }).path)) : null;

  for (const v of g.inputs) names.set(v, v.name!);
  for (const p of params) {
    const s = p.source!;
    const name = p.name!;
    if (s.kind === 'file') {
      inits.push({
        name, dims: [...p.shape], dataType: onnxDataType(s.dtype), dataLocation: 1,
        externalData: [
          { key: 'location', value: externalLocation(folder!, s.path, s.offset, s.byteLength, name) },
          { key: 'offset', value: String(s.offset) },
          { key: 'length', value: String(s.byteLength) },
        ],
      });
    } else {
      inits.push({ name, dims: [...p.shape], dataType: onnxDataType(s.dtype), rawData: rawBytes(s.data) });
    }
    if (s.dtype !== p.dtype) {
      const cast = `${name}::${p.dtype}`;
      nodes.push({ opType: 'Cast', input: [name], output: [cast], attribute: [attr('to', onnxDataType(p.dtype))] });
      names.set(p, cast);
    } else names.set(p, name);
  }

  const constTensor = (key: string, make: () => OnnxTensor): string => {
    let n = constCache.get(key);
    if (!n) {
      const t = make();
      inits.push(t);
      constCache.set(key, (n = t.name));
    }
    return n;
  };
  const ctx: LowerCtx = {
    target: meta.target ?? DEFAULT_LOWERING,
    node(opType, inputs, attrs = [], outputs, domain) {
      const outs = outputs ? [...outputs] : [fresh(opType)];
      nodes.push({ opType, input: [...inputs], output: outs, attribute: attrs, ...(domain ? { domain } : {}) });
      if (domain) domains.add(domain);
      return outs;
    },
    constI64(values, shape = [values.length]) {
      return constTensor(`i64:${shape}:${values}`, () => ({
        name: fresh('const_i64'), dims: [...shape], dataType: onnxDataType('int64'), rawData: rawBytes(BigInt64Array.from(values, (v) => BigInt(v))),
      }));
    },
    constFloat(values, dtype, shape = [values.length]) {
      const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
      if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`constFloat: ${dtype} constants are not supported`);
      return constTensor(`${dtype}:${shape}:${values}`, () => ({ name: fresh('const_f'), dims: [...shape], dataType: onnxDataType(dtype), rawData: rawBytes(data) }));
    },
    constData(data, dtype, shape) {
      checkLength(data, dtype, shape);
      return constTensor(`data:${fresh('c')}`, () => ({ name: fresh('const'), dims: [...shape], dataType: onnxDataType(dtype), rawData: rawBytes(data) }));
    },
  };

  const outputName = new Map<Value, string>();
  g.outputs.forEach((v, i) => { if (v.kind === 'node' && !outputName.has(v)) outputName.set(v, g.outputNames[i]); });
  for (const n of nodesLive) {
    const outs = n.outputs.map((v) => {
      const s = outputName.get(v) ?? `v${v.id}`;
      names.set(v, s);
      return s;
    });
    opOf(n).lower(ctx, n.inputs.map((v) => names.get(v)!), outs, n.attrs, n.inputs.map((v) => v.type));
  }
  // Outputs that are not node outputs of their own name (an input, a param, a repeated value).
  g.outputs.forEach((v, i) => {
    const want = g.outputNames[i];
    if (names.get(v) !== want) nodes.push({ opType: 'Identity', input: [names.get(v)!], output: [want], attribute: [] });
  });

  const graph = {
    name: g.name,
    node: nodes,
    initializer: inits,
    input: g.inputs.map((v) => valueInfo(v.name!, v.dtype, v.shape)),
    output: g.outputs.map((v, i) => valueInfo(g.outputNames[i], v.dtype, v.shape)),
  };
  const bytes = encodeModel(meta.precision === 'fp16' ? toFloat16(graph) : graph, { docString: meta.docString, domains: [...domains] });
  return { bytes, externalFolder: folder, inputNames: g.inputs.map((v) => v.name!), outputNames: [...g.outputNames] };
}

function checkLength(data: HostArray, dtype: DType, shape: Shape): void {
  if (data.byteLength !== numel(shape) * dtypeSize(dtype)) throw new Error(`constant: ${data.byteLength} bytes for ${dtype}[${shape}]`);
}
