/**
 * Compiled graphs of one model, specialised per input shape (tiling keeps the shapes few):
 * traced and compiled on first use, reused afterwards, released together.
 */
import { compileGraph, type CompileOptions, type CompiledGraph } from '../engine/compile.ts';
import type { Graph } from '../ir/graph.ts';

export class GraphCache {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  constructor(private readonly options: CompileOptions) {}

  /** The compiled graph for `key`, tracing it with `trace` the first time. */
  get(key: string, trace: () => Graph): Promise<CompiledGraph> {
    let g = this.graphs.get(key);
    if (!g) {
      g = compileGraph(trace(), this.options);
      this.graphs.set(key, g);
      g.catch(() => this.graphs.delete(key));
    }
    return g;
  }

  async release(): Promise<void> {
    const all = [...this.graphs.values()];
    this.graphs.clear();
    for (const g of all) await (await g).release();
  }
}
