/**
 * What a `torch.save`d state dict means, on top of the restricted pickle interpreter: the
 * allowlisted globals, persistent storage ids and tensor rebuilds (PyTorch `torch/serialization.py`
 * `_save`/`_legacy_save`, `torch/_utils.py` `_rebuild_tensor_v2`), and the checks that turn
 * them into `TensorEntry`s pointing at bytes in the file. Shared by the zip and legacy readers.
 */
import { CheckpointError } from '../core/errors.ts';
import { type DType, dtypeSize } from '../core/dtype.ts';
import { fmtShape, numel } from '../core/shape.ts';
import type { TensorEntry } from './safetensors.ts';
import { type PyCallable, type PyValue, PyDict, PyGlobal, PyRef, PyTuple, describe, makeOrderedDict } from './pickle.ts';

/** `torch.<X>Storage` → dtype. Other storage types (ShortStorage, complex, quantized) are refused. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  'torch.FloatStorage': 'float32', 'torch.DoubleStorage': 'float64', 'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16', 'torch.LongStorage': 'int64', 'torch.IntStorage': 'int32',
  'torch.CharStorage': 'int8', 'torch.ByteStorage': 'uint8', 'torch.BoolStorage': 'bool',
};

/** A storage named by a persistent id: `('storage', StorageType, key, location, numel[, view])`. */
export class StorageRef extends PyRef {
  constructor(readonly key: string, readonly dtype: DType, readonly numel: number) {
    super();
  }
}

/** A tensor view of a storage, as `_rebuild_tensor_v2` would build it. */
export class TensorRef extends PyRef {
  constructor(readonly storage: StorageRef, readonly storageOffset: number, readonly shape: readonly number[], readonly stride: readonly number[]) {
    super();
  }
}

function fail(msg: string): never {
  throw new CheckpointError(msg);
}

function intTuple(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    fail(`${what} must be a tuple of non-negative integers, got ${describe(v)}`);
  return (v as PyTuple).items as number[];
}

function emptyHooks(v: PyValue | undefined): boolean {
  return v === undefined || v === null || (v instanceof PyDict && v.items.size === 0);
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
const rebuildTensor: PyCallable = (args) => {
  if (args.length < 6 || args.length > 7) fail(`expected 6 or 7 arguments, got ${args.length}`);
  const [storage, offset, size, stride, requiresGrad, hooks] = args;
  if (!(storage instanceof StorageRef)) fail(`storage argument is ${describe(storage)}, not a persistent storage`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`storage offset ${String(offset)} is not a non-negative integer`);
  const shape = intTuple(size, 'size');
  const strides = intTuple(stride, 'stride');
  if (strides.length !== shape.length) fail(`size ${fmtShape(shape)} and stride ${fmtShape(strides)} differ in rank`);
  if (typeof requiresGrad !== 'boolean') fail('requires_grad must be a bool');
  if (!emptyHooks(hooks)) fail('tensors with backward hooks are not supported');
  return new TensorRef(storage as StorageRef, offset as number, shape, strides);
};

/** `_rebuild_parameter(data, requires_grad, backward_hooks)`: a Parameter is its tensor here. */
const rebuildParameter: PyCallable = (args) => {
  if (args.length !== 3 || !(args[0] instanceof TensorRef) || typeof args[1] !== 'boolean' || !emptyHooks(args[2]))
    fail('expected (tensor, requires_grad, no backward hooks)');
  return args[0];
};

/** The allowlist: nothing else may appear in a checkpoint pickle. */
export const TORCH_GLOBALS: ReadonlyMap<string, PyCallable | null> = new Map<string, PyCallable | null>([
  ['collections.OrderedDict', makeOrderedDict],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ...Object.keys(TORCH_STORAGE_DTYPES).map((k) => [k, null] as [string, null]),
]);

/**
 * Persistent-id loader: validates the id and returns one StorageRef per key (the same key must
 * always name the same dtype and size). `legacy` expects the legacy format's 6th element,
 * which must be None (storage views are refused).
 */
export function storageLoader(legacy: boolean): { load: (pid: PyValue) => PyValue; storages: Map<string, StorageRef> } {
  const storages = new Map<string, StorageRef>();
  const load = (pid: PyValue): PyValue => {
    const items = pid instanceof PyTuple ? pid.items : [];
    if (items[0] !== 'storage' || items.length !== (legacy ? 6 : 5)) fail(`unsupported persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`);
    const [, type, key, location, count] = items;
    if (!(type instanceof PyGlobal) || !(type.qualname in TORCH_STORAGE_DTYPES)) fail(`storage type ${describe(type)} is not supported`);
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) fail(`storage key ${describe(key)} is not a plain name`);
    if (typeof location !== 'string') fail('storage location must be a string');
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`storage "${key}": element count ${String(count)} is invalid`);
    if (legacy && items[5] !== null) fail(`storage "${key}" is a view of another storage; re-save the checkpoint with a current PyTorch or as .safetensors`);
    const dtype = TORCH_STORAGE_DTYPES[(type as PyGlobal).qualname];
    const prev = storages.get(key as string);
    if (prev) {
      if (prev.dtype !== dtype || prev.numel !== count) fail(`storage "${key}" is declared twice with different types or sizes`);
      return prev;
    }
    const s = new StorageRef(key as string, dtype, count as number);
    storages.set(s.key, s);
    return s;
  };
  return { load, storages };
}

/**
 * The tensors of a loaded checkpoint object: a state dict (`{name: tensor}`), or a wrapper whose
 * `state_dict` entry is one (PyTorch Lightning / original Stable Diffusion `.ckpt`). Other values
 * (step counters, `_metadata`) are not tensors and are left out.
 */
export function stateDictTensors(root: PyValue, what: string): Map<string, TensorRef> {
  if (!(root instanceof PyDict)) fail(`${what}: the checkpoint holds ${describe(root)}, not a state dict`);
  let dict = root as PyDict;
  const inner = dict.items.get('state_dict');
  if (inner instanceof PyDict && ![...dict.items.values()].some((v) => v instanceof TensorRef)) dict = inner;
  const out = new Map<string, TensorRef>();
  for (const [k, v] of dict.items) {
    if (!(v instanceof TensorRef)) continue;
    if (typeof k !== 'string') fail(`${what}: state dict key ${String(k)} is not a string`);
    out.set(k as string, v);
  }
  if (out.size === 0) fail(`${what}: the checkpoint contains no tensors`);
  return out;
}

/**
 * TensorEntries for `refs`, given where each storage's bytes start in the file. Checks that the
 * farthest element a tensor can reach (offset + Σ (size-1)·stride) lies inside its storage, and
 * refuses non-contiguous tensors: they have no single byte range to point ONNX external data at
 * (re-save with `.contiguous()` or convert to safetensors).
 */
export function tensorEntries(refs: ReadonlyMap<string, TensorRef>, storageStart: (s: StorageRef) => number, what: string): Map<string, TensorEntry> {
  const out = new Map<string, TensorEntry>();
  for (const [name, t] of refs) {
    const n = numel(t.shape);
    const elem = dtypeSize(t.storage.dtype);
    if (n > 0) {
      let last = t.storageOffset;
      for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
      if (!Number.isSafeInteger(last) || last >= t.storage.numel)
        fail(`${what}: tensor "${name}" ${fmtShape(t.shape)} at storage offset ${t.storageOffset} reaches element ${last} of storage "${t.storage.key}", which holds ${t.storage.numel}`);
      let expect = 1;
      for (let i = t.shape.length - 1; i >= 0; i--) {
        if (t.shape[i] !== 1 && t.stride[i] !== expect)
          fail(`${what}: tensor "${name}" is not contiguous (size ${fmtShape(t.shape)}, stride ${fmtShape(t.stride)}) and cannot be read in place; ` +
            're-save it with tensor.contiguous() or convert the checkpoint to .safetensors');
        expect *= t.shape[i];
      }
    }
    out.set(name, { name, dtype: t.storage.dtype, shape: t.shape.slice(), offset: storageStart(t.storage) + t.storageOffset * elem, byteLength: n * elem });
  }
  return out;
}
