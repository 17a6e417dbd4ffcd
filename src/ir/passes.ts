/** Graph passes. */
import type { Graph, Node, Value } from './graph.ts';

/** The nodes the outputs depend on, in their original (topological) order. */
export function liveNodes(g: Graph): Node[] {
  const live = new Set<Value>(g.outputs);
  const keep = new Set<Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => live.has(o))) {
      keep.add(n);
      for (const v of n.inputs) live.add(v);
    }
  }
  return g.nodes.filter((n) => keep.has(n));
}

/** Parameters some live node reads. */
export function liveParams(g: Graph, nodes: readonly Node[]): Value[] {
  const used = new Set<Value>(g.outputs);
  for (const n of nodes) for (const v of n.inputs) used.add(v);
  return g.params.filter((p) => used.has(p));
}
