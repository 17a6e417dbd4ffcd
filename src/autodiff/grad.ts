/**
 * Reverse-mode differentiation over an IR graph. Walks the nodes backwards from one scalar
 * (or seeded) output, composes each op's vjp (which appends backward nodes to the same graph),
 * sums gradients of reused values, and reduces broadcast gradients to the input's shape in
 * one place (`sumToShape`). Only values on a path from `wrt` to the output get gradients.
 */
import { ShapeError, UnsupportedError } from '../core/errors.ts';
import { shapeEq } from '../core/shape.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import { opOf } from '../ops/registry.ts';
import { Tensor, scalar } from '../ops/tensor.ts';
import type { VjpArgs } from '../ops/types.ts';

/** Sums a broadcast gradient back to `shape` (numpy broadcasting rules). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapeEq(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? g.sum(axes, true) : g;
  return s.reshape([...shape]);
}

/** Values that depend on any of `wrt` (forward reachability). */
function dependents(g: Graph, wrt: readonly Value[]): Set<Value> {
  const dep = new Set<Value>(wrt);
  for (const n of g.nodes) if (n.inputs.some((v) => dep.has(v))) for (const o of n.outputs) dep.add(o);
  return dep;
}

/**
 * Gradients of `output` w.r.t. each value of `wrt`, as tensors of the same graph.
 * `seed` is the incoming gradient of `output` (default: ones for a scalar output).
 * A value of `wrt` that does not reach `output` gets a zero gradient.
 */
export function grad(g: Graph, output: Value, wrt: readonly Value[], seed?: Tensor): Tensor[] {
  return gradOrNull(g, output, wrt, seed).map((t, i) => t ?? scalar(g, 0, wrt[i].dtype).expand([...wrt[i].shape]));
}

/**
 * As `grad`, but null for a value of `wrt` that does not reach `output` — torch's `grad is
 * None`, which training must tell from a zero gradient (no clipping term, no weight decay).
 */
export function gradOrNull(g: Graph, output: Value, wrt: readonly Value[], seed?: Tensor): (Tensor | null)[] {
  const dep = dependents(g, wrt);
  if (!seed && output.shape.length !== 0 && output.shape.some((d) => d !== 1))
    throw new ShapeError(`grad: output has shape [${output.shape}]; pass a seed gradient for non-scalar outputs`);
  const grads = new Map<Value, Tensor>();
  grads.set(output, seed ?? scalar(g, 1, output.dtype).reshape([...output.shape]));
  const forward = g.nodes.slice();
  for (let i = forward.length - 1; i >= 0; i--) {
    const n: Node = forward[i];
    const outGrads = n.outputs.map((v) => grads.get(v) ?? null);
    if (outGrads.every((x) => x === null)) continue;
    if (!n.inputs.some((v) => dep.has(v))) continue;
    const vjp = opOf(n).vjp;
    if (vjp === 'nondifferentiable') {
      throw new UnsupportedError(`grad: ${n.op} at "${n.scope || '<root>'}" is not differentiable but lies between the parameters and the loss`);
    }
    const args: VjpArgs<unknown> = {
      inputs: n.inputs.map((v) => new Tensor(g, v)),
      outputs: n.outputs.map((v) => new Tensor(g, v)),
      grads: outGrads,
      attrs: n.attrs,
    };
    const inGrads = g.withScope(`${n.scope ? n.scope + '.' : ''}grad_${n.op}`, () => vjp(args));
    n.inputs.forEach((v, j) => {
      const gi = inGrads[j];
      if (!gi || !dep.has(v)) return;
      const reduced = sumToShape(gi, v.shape);
      const prev = grads.get(v);
      grads.set(v, prev ? prev.add(reduced) : reduced);
    });
  }
  return wrt.map((v) => grads.get(v) ?? null);
}
