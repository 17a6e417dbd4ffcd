/**
 * Which lowering each provider gets (src/ops/types.ts `LoweringTarget`), measured against the
 * fixtures on each (docs/onnxruntime-webgpu-defects.md, bench/attention-memory.ts):
 * - cpu, cuda: the fused MultiHeadAttention (bounded memory, fastest on CPU) and the decomposed
 *   GroupNorm (1.6–3× faster than GroupNormalization-21 on CPU, bench/groupnorm.ts);
 * - webgpu: onnxruntime 1.30's WebGPU MultiHeadAttention is miscompiled for query lengths ≥ 32,
 *   so the attention core is MatMul/Softmax/MatMul, chunked over queries so that no chunk's
 *   scores exceed `WEBGPU_SCORE_BYTES` (under the 128 MiB maxStorageBufferBindingSize that
 *   browsers commonly give); GroupNorm as GroupNormalization-21 in fp32 (the decomposition's
 *   InstanceNormalization is less exact there), decomposed in fp16 (the WebGPU provider has
 *   no float16 GroupNormalization kernel).
 */
import type { Precision } from '../export/float16.ts';
import { DEFAULT_LOWERING, type LoweringTarget } from '../ops/types.ts';
import type { Provider } from '../runtime/session.ts';

/** Score bytes per query chunk of the chunked attention on WebGPU (64 MiB). */
export const WEBGPU_SCORE_BYTES = 64 * 2 ** 20;

export function loweringFor(provider: Provider = 'cpu', precision: Precision = 'fp32'): LoweringTarget {
  if (provider !== 'webgpu') return DEFAULT_LOWERING;
  return { attention: { kind: 'chunked', scoreBytes: WEBGPU_SCORE_BYTES }, groupNorm: precision === 'fp16' ? 'decomposed' : 'native' };
}

/** The target as text for the compile key; '' for the default, so keys from before targets stay valid. */
export function loweringKey(t: LoweringTarget): string {
  if (t.attention.kind === DEFAULT_LOWERING.attention.kind && t.groupNorm === DEFAULT_LOWERING.groupNorm) return '';
  const att = t.attention.kind === 'fused' ? 'fused' : `chunked:${t.attention.scoreBytes}`;
  return `\0lowering=attention:${att},groupNorm:${t.groupNorm}`;
}
