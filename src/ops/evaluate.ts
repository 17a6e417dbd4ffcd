/**
 * Float64 reference evaluation of a whole graph with each op's `ref`. Used by tests to check
 * lowerings (against onnxruntime) and vjps (against finite differences); small graphs only.
 */
import { ShapeError } from '../core/errors.ts';
import { shapeEq } from '../core/shape.ts';
import type { Graph, Value } from '../ir/graph.ts';
import { opOf } from './registry.ts';
import type { RefTensor } from './types.ts';

export function evaluateRef(g: Graph, feeds: ReadonlyMap<Value, RefTensor>): Map<Value, RefTensor> {
  const env = new Map<Value, RefTensor>(feeds);
  for (const v of [...g.inputs, ...g.params])
    if (!env.has(v)) throw new ShapeError(`evaluateRef: no value fed for ${v.kind} "${v.name}"`);
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => {
      const t = env.get(v);
      if (!t) throw new ShapeError(`evaluateRef: ${n.op} input ${v.id} has no value`);
      return t;
    });
    const outs = opOf(n).ref(ins, n.attrs);
    n.outputs.forEach((v, i) => {
      if (!shapeEq(outs[i].shape, v.shape)) throw new ShapeError(`evaluateRef: ${n.op} reference gave [${outs[i].shape}] but the shape rule says [${v.shape}]`);
      env.set(v, outs[i]);
    });
  }
  return env;
}
