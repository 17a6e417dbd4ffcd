/**
 * Reader for checkpoints written by `torch.save` in its zip format (PyTorch ≥ 1.6; `.bin`,
 * `.pt`, `.pth`, `.ckpt`): `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>`
 * (one stored record per storage, raw little-endian), `<archive>/version`, and in newer files
 * `<archive>/byteorder`. The archive folder is the first entry's directory, as PyTorch's own
 * reader takes it (`caffe2/serialize/inline_container.cc`). Tensors are located by absolute
 * file offset inside their stored records, like safetensors entries.
 */
import { CheckpointError } from '../core/errors.ts';
import { dtypeSize } from '../core/dtype.ts';
import { entryReaders } from './safetensors.ts';
import type { CheckpointFile } from './checkpoint.ts';
import { readStoredEntry, readZipDirectory, requireStored } from './zip.ts';
import { withFile } from './file.ts';
import { unpickle } from './pickle.ts';
import { TORCH_GLOBALS, stateDictTensors, storageLoader, tensorEntries } from './torch-pickle.ts';

/** Largest `data.pkl` accepted (a Stable Diffusion checkpoint's is well under 1 MB). */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** Entries are in state-dict order; tensors sharing a storage may overlap. */
export function openTorchZip(path: string): CheckpointFile {
  const tensors = withFile(path, (f) => {
    const entries = readZipDirectory(f, path);
    if (entries.length === 0) throw new CheckpointError(`${path}: the zip archive is empty`);
    const slash = entries[0].name.indexOf('/');
    if (slash <= 0) throw new CheckpointError(`${path}: zip entry "${entries[0].name}" is not inside an archive folder; not a torch.save checkpoint`);
    const prefix = entries[0].name.slice(0, slash + 1);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const pkl = byName.get(`${prefix}data.pkl`);
    if (!pkl) throw new CheckpointError(`${path}: no ${prefix}data.pkl; not a torch.save checkpoint (TorchScript archives are not supported)`);
    const order = byName.get(`${prefix}byteorder`);
    if (order) {
      const v = readStoredEntry(f, order, path, 16).toString('latin1');
      if (v !== 'little') throw new CheckpointError(`${path}: byte order "${v}" is not supported (only little-endian checkpoints)`);
    }
    const what = `${path}: ${pkl.name}`;
    const { load, storages } = storageLoader(false);
    const { value } = unpickle(readStoredEntry(f, pkl, path, MAX_PICKLE_BYTES), { what, globals: TORCH_GLOBALS, persistentLoad: load });
    const refs = stateDictTensors(value, what);
    // Every storage record must be stored and hold exactly numel × element size bytes.
    const start = new Map<string, number>();
    for (const s of storages.values()) {
      const e = byName.get(`${prefix}data/${s.key}`);
      if (!e) throw new CheckpointError(`${path}: storage "${s.key}" has no record ${prefix}data/${s.key}`);
      requireStored(e, path);
      if (e.size !== s.numel * dtypeSize(s.dtype))
        throw new CheckpointError(`${path}: storage "${s.key}" declares ${s.numel} ${s.dtype} elements (${s.numel * dtypeSize(s.dtype)} bytes) but its record holds ${e.size} bytes`);
      start.set(s.key, e.dataOffset);
    }
    return tensorEntries(refs, (s) => start.get(s.key) as number, what);
  });
  return { path, format: 'torch-zip', tensors, ...entryReaders(path, tensors) };
}
