/**
 * Where a traced graph becomes something to run: print → key (graph text + weight-file
 * identity) → cached or freshly exported ONNX bytes → onnxruntime session.
 */
import type { Graph } from '../ir/graph.ts';
import { liveNodes, liveParams } from '../ir/passes.ts';
import { printGraph } from '../ir/print.ts';
import { exportGraph } from '../export/export.ts';
import { commonFolder } from '../export/external.ts';
import { cachedBytes, graphKey } from '../runtime/cache.ts';
import { createNodeSession } from '../runtime/node.ts';
import type { Session, SessionOptions } from '../runtime/session.ts';

export interface CompileOptions extends SessionOptions {
  /** Use the compiled-graph cache (default true). */
  cache?: boolean;
  /** Cache folder (default: PASD_CACHE_DIR or the user cache). */
  cacheDir?: string;
}

export interface CompiledGraph extends Session {
  readonly key: string;
  readonly cacheHit: boolean;
}

/** Weight files the graph's live parameters read. */
export function weightFilesOf(g: Graph): string[] {
  const params = liveParams(g, liveNodes(g));
  return [...new Set(params.flatMap((p) => (p.source?.kind === 'file' ? [p.source.path] : [])))];
}

export async function compileGraph(g: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
  const files = weightFilesOf(g);
  const key = graphKey(printGraph(g), files);
  const build = () => exportGraph(g).bytes;
  const { bytes, hit } = opts.cache === false ? { bytes: build(), hit: false } : cachedBytes(key, build, opts.cacheDir);
  const session = await createNodeSession({ bytes, externalFolder: files.length ? commonFolder(files) : null }, opts);
  return Object.assign(session, { key, cacheHit: hit });
}
