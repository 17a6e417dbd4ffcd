/**
 * Where a traced graph becomes something to run: print → key (graph text + weight-file
 * identity + precision + the provider's lowering, lowering.ts) → cached or freshly exported
 * ONNX bytes → onnxruntime session on the chosen provider.
 */
import { ProviderError } from '../core/errors.ts';
import { Graph } from '../ir/graph.ts';
import { liveNodes, liveParams } from '../ir/passes.ts';
import { printGraph } from '../ir/print.ts';
import { exportGraph } from '../export/export.ts';
import { commonFolder } from '../export/external.ts';
import type { Precision } from '../export/float16.ts';
import { cachedBytes, graphKey } from '../runtime/cache.ts';
import { createSession } from '#runtime';
import { DEFAULT_LOWERING, type LoweringTarget } from '../ops/types.ts';
import { attentionCheckError, loweringFor, loweringKey } from './lowering.ts';
import type { Provider, Session, SessionOptions } from '../runtime/session.ts';

export type { Precision } from '../export/float16.ts';

export interface CompileOptions extends SessionOptions {
  /** Use the compiled-graph cache (default true). */
  cache?: boolean;
  /** Cache folder (default: PASD_CACHE_DIR or the user cache). */
  cacheDir?: string;
  /** Compute precision (default fp32); fp16 needs a GPU provider (float16.ts). */
  precision?: Precision;
  /** Lowering choices (default: the provider's, lowering.ts); benches set it to compare. */
  lowering?: LoweringTarget;
}

/** Where and how graphs run: what the CLI, server, parity runner and bench pass down. */
export type RuntimeChoice = Pick<CompileOptions, 'provider' | 'precision' | 'threads'>;

export interface CompiledGraph extends Session {
  readonly key: string;
  readonly cacheHit: boolean;
}

/**
 * Refuses fp16 on the CPU provider: onnxruntime's x86-64 CPU kernels are float32 for most
 * ops (Conv, MatMul, normalisations), so session creation would fail op by op.
 */
export function checkPrecision(provider: Provider = 'cpu', precision: Precision = 'fp32'): void {
  if (precision === 'fp16' && provider === 'cpu')
    throw new ProviderError('cpu', 'precision fp16 needs a GPU provider (onnxruntime\'s CPU kernels are float32): use --provider webgpu or cuda, or --precision fp32');
}

/** Weight files the graph's live parameters read. */
export function weightFilesOf(g: Graph): string[] {
  const params = liveParams(g, liveNodes(g));
  return [...new Set(params.flatMap((p) => (p.source?.kind === 'file' ? [p.source.path] : [])))];
}

/**
 * Cache key of `g` exported at `precision` with the lowering `target`; fp32 keys with the
 * default (CPU) lowering are those from before precisions and targets existed, so old entries stay valid.
 */
export function compileKey(g: Graph, precision: Precision = 'fp32', target: LoweringTarget = DEFAULT_LOWERING): string {
  const text = printGraph(g) + loweringKey(target);
  return graphKey(precision === 'fp32' ? text : `${text}\0precision=${precision}`, weightFilesOf(g));
}

export async function compileGraph(g: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
  const precision = opts.precision ?? 'fp32';
  checkPrecision(opts.provider, precision);
  const target = opts.lowering ?? loweringFor(opts.provider, precision, opts.provider === 'webgpu' && await fusedAttentionWorks());
  const files = weightFilesOf(g);
  const key = compileKey(g, precision, target);
  const build = () => exportGraph(g, { precision, target }).bytes;
  const { bytes, hit } = opts.cache === false ? { bytes: build(), hit: false } : cachedBytes(key, build, opts.cacheDir);
  const session = await createSession({ bytes, externalFolder: files.length ? commonFolder(files) : null, externalFiles: files }, opts);
  return Object.assign(session, { key, cacheHit: hit });
}

/**
 * Starts the chosen provider on a one-node graph, so that a missing GPU or library is
 * reported (as a ProviderError) before any model is loaded or traced.
 */
export async function probeProvider(choice: RuntimeChoice): Promise<void> {
  const g = new Graph('provider_probe');
  const x = g.addInput('x', { dtype: 'float32', shape: [1] });
  g.setOutputs({ y: g.addNode('Add', [x, x], [{ dtype: 'float32', shape: [1] }], {}).outputs[0] });
  const s = await compileGraph(g, { ...choice, cache: false });
  await s.release();
}

/** Largest error of the fused attention on the adapter that still counts as right (float32 rounding is ~1e-7). */
const FUSED_ATTENTION_TOLERANCE = 1e-5;
let fusedCheck: Promise<number> | null = null;

/**
 * Whether this process's WebGPU adapter computes onnxruntime's fused MultiHeadAttention right
 * (lowering.ts): checked once, on a one-node graph against the float64 reference.
 */
export async function fusedAttentionWorks(): Promise<boolean> {
  return (await fusedAttentionError()) <= FUSED_ATTENTION_TOLERANCE;
}

/** The largest error of the fused MultiHeadAttention on this process's WebGPU adapter (the check above; measured once). */
export function fusedAttentionError(): Promise<number> {
  fusedCheck ??= attentionCheckError(async (g, feeds) => {
    const s = await compileGraph(g, { provider: 'webgpu', lowering: { attention: { kind: 'fused' }, groupNorm: 'native' }, cache: false });
    try {
      const out = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, data]) => [k, { dtype: 'float32' as const, shape: g.inputs.find((v) => v.name === k)!.type.shape, data }])));
      return out.out.data as Float32Array;
    } finally {
      await s.release();
    }
  });
  return fusedCheck;
}
