/** Checkpoint tensors → the in-place weight references modules bind to (no bytes are read). */
import type { CheckpointFile } from '../checkpoint/checkpoint.ts';
import type { TensorEntry } from '../checkpoint/safetensors.ts';
import type { StoredTensor } from '../nn/module.ts';

export function storedTensor(path: string, e: TensorEntry): StoredTensor {
  return { shape: e.shape, origin: path, source: { kind: 'file', path, offset: e.offset, byteLength: e.byteLength, dtype: e.dtype } };
}

/** Every tensor of one or more checkpoint files (later files win on duplicate keys). */
export function storedTensors(...files: readonly CheckpointFile[]): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const f of files) for (const [k, e] of f.tensors) out.set(k, storedTensor(f.path, e));
  return out;
}
