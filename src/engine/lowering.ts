/**
 * Which lowering each provider gets (src/ops/types.ts `LoweringTarget`), measured against the
 * fixtures on each (docs/onnxruntime-webgpu-defects.md, bench/attention-memory.ts):
 * - cpu, cuda: the fused MultiHeadAttention (bounded memory, fastest on CPU) and the decomposed
 *   GroupNorm (1.6–3× faster than GroupNormalization-21 on CPU, bench/groupnorm.ts);
 * - webgpu: onnxruntime 1.30's WebGPU MultiHeadAttention computes wrong numbers for query
 *   lengths ≥ 32 on some adapters (Mesa's lavapipe, Chromium's SwiftShader) and right ones on
 *   others (NVIDIA H200, Vulkan driver 580): `fusedAttentionWorks` checks the adapter once per
 *   process with a one-node graph against the float64 reference. Where it is right the fused op
 *   is used (measured on the H200: SD1.5 step 359 vs 414 ms fp32, 252 vs 303 ms fp16); else
 *   the attention core is MatMul/Softmax/MatMul, chunked over queries so that no chunk's scores
 *   exceed `WEBGPU_SCORE_BYTES` (under the 128 MiB maxStorageBufferBindingSize that browsers
 *   commonly give; unchunked it is 4× slower on the H200). GroupNorm is GroupNormalization-21 in
 *   fp32 (the decomposition's InstanceNormalization is less exact there), decomposed in fp16
 *   (the WebGPU provider has no float16 GroupNormalization kernel).
 */
import { Graph } from '../ir/graph.ts';
import type { Precision } from '../export/float16.ts';
import { evaluateRef } from '../ops/evaluate.ts';
import { Tensor, apply1 } from '../ops/tensor.ts';
import { DEFAULT_LOWERING, type LoweringTarget } from '../ops/types.ts';
import type { Provider } from '../runtime/session.ts';

/** Score bytes per query chunk of the chunked attention on WebGPU (64 MiB). */
export const WEBGPU_SCORE_BYTES = 64 * 2 ** 20;

/** The lowering for `provider` and `precision`; `fusedAttentionOk`: the adapter computes MultiHeadAttention right. */
export function loweringFor(provider: Provider = 'cpu', precision: Precision = 'fp32', fusedAttentionOk = false): LoweringTarget {
  if (provider !== 'webgpu') return DEFAULT_LOWERING;
  return {
    attention: fusedAttentionOk ? { kind: 'fused' } : { kind: 'chunked', scoreBytes: WEBGPU_SCORE_BYTES },
    groupNorm: precision === 'fp16' ? 'decomposed' : 'native',
  };
}

/** The target as text for the compile key; '' for the default, so keys from before targets stay valid. */
export function loweringKey(t: LoweringTarget): string {
  if (t.attention.kind === DEFAULT_LOWERING.attention.kind && t.groupNorm === DEFAULT_LOWERING.groupNorm) return '';
  const att = t.attention.kind === 'fused' ? 'fused' : `chunked:${t.attention.scoreBytes}`;
  return `\0lowering=attention:${att},groupNorm:${t.groupNorm}`;
}

/** A one-node MultiHeadAttention graph past the defect's threshold (64 queries, 77 keys, 2 heads of 32) and its inputs. */
export function attentionCheckGraph(): { graph: Graph; feeds: Record<string, Float32Array> } {
  const g = new Graph('attention_check');
  const shapes: Record<string, number[]> = { q: [1, 64, 64], k: [1, 77, 64], v: [1, 77, 64] };
  const [q, k, v] = Object.entries(shapes).map(([name, shape]) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape })));
  g.setOutputs({ out: apply1('MultiHeadAttention', [q, k, v], { heads: 2, scale: 32 ** -0.5 }).value });
  let s = 7;
  const feeds = Object.fromEntries(Object.entries(shapes).map(([name, shape]) =>
    [name, Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1)]));
  return { graph: g, feeds };
}

/** Max |fused MultiHeadAttention on `run` − float64 reference| for `attentionCheckGraph`. */
export async function attentionCheckError(run: (g: Graph, feeds: Record<string, Float32Array>) => Promise<ArrayLike<number>>): Promise<number> {
  const { graph, feeds } = attentionCheckGraph();
  const got = await run(graph, feeds);
  const ref = evaluateRef(graph, new Map(graph.inputs.map((v) => [v, { dtype: 'float32', shape: v.type.shape, data: Float64Array.from(feeds[v.name!]) }])));
  const want = ref.get(graph.outputs[0])!.data;
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) || (Number.isNaN(got[i]) ? Infinity : 0));
  return e;
}
