/**
 * One entry point for weight files: `openCheckpoint` looks at the content (not the extension)
 * and opens safetensors, PyTorch zip (`torch.save` ≥ 1.6) or legacy PyTorch files, all giving
 * the same view: tensors located by absolute file offset, readable as host arrays.
 */
import { CheckpointError } from '../core/errors.ts';
import type { HostArray } from '../core/dtype.ts';
import { type TensorEntry, openSafetensors } from './safetensors.ts';
import { openTorchZip } from './torch-zip.ts';
import { isLegacyTorch, openTorchLegacy } from './torch-legacy.ts';
import { readAt } from './zip.ts';
import { withFile } from './file.ts';

export type CheckpointFormat = 'safetensors' | 'torch-zip' | 'torch-legacy';

export interface CheckpointFile {
  readonly path: string;
  readonly format: CheckpointFormat;
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** Reads one tensor into a fresh host array (float16/bfloat16 as raw Uint16 bits). */
  read(name: string): HostArray;
  /** Reads one tensor converted to float32. */
  readF32(name: string): Float32Array;
}

/** Which reader `path` needs, from its first bytes. */
export function detectFormat(path: string): CheckpointFormat {
  const head = withFile(path, (f) => {
    return readAt(f, f.size, 0, Math.min(8, f.size), path, 'file start');
  });
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'torch-zip';
  if (isLegacyTorch(head)) return 'torch-legacy';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) throw new CheckpointError(`${path}: is gzip-compressed; decompress it first`);
  return 'safetensors';
}

export function openCheckpoint(path: string): CheckpointFile {
  const format = detectFormat(path);
  if (format === 'torch-zip') return openTorchZip(path);
  if (format === 'torch-legacy') return openTorchLegacy(path);
  const st = openSafetensors(path);
  return { path, format, tensors: st.tensors, read: st.read, readF32: st.readF32 };
}
