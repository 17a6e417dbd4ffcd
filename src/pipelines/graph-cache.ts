/**
 * Compiled graphs of one model, specialised per input shape (tiling keeps the shapes few):
 * traced and compiled on first use, reused afterwards, released together. At most
 * `maxEntries` are kept: the least recently used one is released when a new shape arrives,
 * so a long-running process (the server) seeing many image sizes stays bounded.
 */
import { compileGraph, type CompileOptions, type CompiledGraph } from '../engine/compile.ts';
import type { Graph } from '../ir/graph.ts';

export class GraphCache {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  constructor(private readonly options: CompileOptions, private readonly maxEntries = 4) {}

  /** The compiled graph for `key`, tracing it with `trace` the first time. */
  get(key: string, trace: () => Graph): Promise<CompiledGraph> {
    let g = this.graphs.get(key);
    if (g) {
      this.graphs.delete(key); // most recently used goes last
      this.graphs.set(key, g);
      return g;
    }
    g = compileGraph(trace(), this.options);
    this.graphs.set(key, g);
    g.catch(() => this.graphs.delete(key));
    while (this.graphs.size > this.maxEntries) {
      const [oldKey, old] = this.graphs.entries().next().value!;
      this.graphs.delete(oldKey);
      old.then((s) => s.release(), () => {});
    }
    return g;
  }

  get size(): number {
    return this.graphs.size;
  }

  async release(): Promise<void> {
    const all = [...this.graphs.values()];
    this.graphs.clear();
    for (const g of all) await (await g).release();
  }
}
