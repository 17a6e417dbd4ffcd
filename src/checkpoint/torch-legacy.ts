/**
 * Reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format (`torch/serialization.py`
 * `_legacy_save`), e.g. the LPIPS v0.1 heads: five pickles in a row — magic number, protocol
 * version 1001, sys_info, the object, the list of storage keys — then, per key in that order,
 * an int64 element count and the storage's raw little-endian bytes.
 */
import { CheckpointError } from '../core/errors.ts';
import { dtypeSize } from '../core/dtype.ts';
import { entryReaders } from './safetensors.ts';
import type { CheckpointFile } from './checkpoint.ts';
import { readAt } from './zip.ts';
import { withFile } from './file.ts';
import { PyDict, unpickle } from './pickle.ts';
import { TORCH_GLOBALS, stateDictTensors, storageLoader, tensorEntries } from './torch-pickle.ts';

/** `torch.serialization.MAGIC_NUMBER`, the first pickle of a legacy file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** The pickles sit at the start of the file; only this much of it is read to parse them. */
const MAX_LEGACY_PICKLE_BYTES = 256 * 1024 * 1024;

/** Opening bytes of a legacy file: PROTO 2, LONG1 of 10 bytes (the magic number). */
export function isLegacyTorch(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a;
}

export function openTorchLegacy(path: string): CheckpointFile {
  const tensors = withFile(path, (f) => {
    const fileSize = f.size;
    const head = readAt(f, fileSize, 0, Math.min(fileSize, MAX_LEGACY_PICKLE_BYTES), path, 'legacy pickles');
    const plain = { what: path, globals: new Map() };
    const magic = unpickle(head, plain);
    if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(`${path}: not a torch.save file (bad magic number)`);
    const proto = unpickle(head, plain, magic.end);
    if (proto.value !== LEGACY_PROTOCOL) throw new CheckpointError(`${path}: legacy protocol ${String(proto.value)} is not supported (only ${LEGACY_PROTOCOL})`);
    const info = unpickle(head, plain, proto.end);
    if (!(info.value instanceof PyDict) || info.value.items.get('little_endian') !== true)
      throw new CheckpointError(`${path}: only little-endian legacy checkpoints are supported`);
    const { load, storages } = storageLoader(true);
    const main = unpickle(head, { what: path, globals: TORCH_GLOBALS, persistentLoad: load }, info.end);
    const refs = stateDictTensors(main.value, path);
    const keys = unpickle(head, plain, main.end);
    if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string' && storages.has(k)) || keys.value.length !== storages.size)
      throw new CheckpointError(`${path}: the storage key list does not match the storages the tensors use`);
    const start = new Map<string, number>();
    let pos = keys.end;
    for (const key of keys.value as string[]) {
      if (start.has(key)) throw new CheckpointError(`${path}: storage "${key}" is listed twice`);
      const s = storages.get(key)!;
      const count = readAt(f, fileSize, pos, 8, path, `size of storage "${key}"`).readBigInt64LE(0);
      if (count !== BigInt(s.numel)) throw new CheckpointError(`${path}: storage "${key}" holds ${count} elements but its id declares ${s.numel}`);
      start.set(key, pos + 8);
      pos += 8 + s.numel * dtypeSize(s.dtype);
      if (pos > fileSize) throw new CheckpointError(`${path}: storage "${key}" runs past the end of the file; the file is truncated`);
    }
    return tensorEntries(refs, (s) => start.get(s.key) as number, path);
  });
  return { path, format: 'torch-legacy', tensors, ...entryReaders(path, tensors) };
}
