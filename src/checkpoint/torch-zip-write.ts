/**
 * Minimal writer of `torch.save(state_dict)` zip checkpoints, for tests and for handing weights
 * to PyTorch users. The pickle follows what CPython's protocol-2 pickler emits for a
 * `model.state_dict()` (torch `_save`; `Tensor.__reduce_ex__` → `_rebuild_tensor_v2(storage,
 * offset, size, stride, requires_grad, OrderedDict())`; persistent ids
 * `('storage', torch.<X>Storage, key, 'cpu', numel)`; items in SETITEMS batches of 1000, then
 * BUILD with `{'_metadata': OrderedDict({'': {'version': 1}})}`). Records: `data.pkl`,
 * `byteorder`, `data/<i>` (one storage per tensor, 64-byte aligned), `version`.
 */
import { dtypeSize } from '../core/dtype.ts';
import { numel } from '../core/shape.ts';
import { type TensorToWrite, checkTensorsToWrite } from './safetensors-write.ts';
import { PickleWriter } from './pickle-write.ts';
import { TORCH_STORAGE_DTYPES } from './torch-pickle.ts';
import { type ZipRecord, writeStoredZip } from './zip.ts';

const STORAGE_OF = Object.fromEntries(Object.entries(TORCH_STORAGE_DTYPES).map(([k, d]) => [d, k.slice('torch.'.length)]));

/** CPython-like memo: each distinct string / global is written once, then fetched. */
class MemoPickler {
  readonly w = new PickleWriter().proto(2);
  private next = 0;
  private readonly memo = new Map<string, number>();

  /** BINPUT of the value just written. */
  put(): number {
    this.w.put(this.next);
    return this.next++;
  }

  private cached(key: string, write: () => void): void {
    const i = this.memo.get(key);
    if (i !== undefined) this.w.get(i);
    else {
      write();
      this.memo.set(key, this.put());
    }
  }

  str(s: string): void { this.cached(`s:${s}`, () => this.w.str(s)); }
  global(module: string, name: string): void { this.cached(`g:${module}.${name}`, () => this.w.global(module, name)); }

  /** A tuple of ints, as `save_tuple` writes it (EMPTY_TUPLE unmemoized, TUPLE1..3, MARK…TUPLE). */
  intTuple(v: readonly number[]): void {
    if (v.length === 0) {
      this.w.emptyTuple();
      return;
    }
    if (v.length > 3) this.w.mark();
    for (const x of v) this.w.int(x);
    if (v.length > 3) this.w.tuple();
    else this.w.tupleN(v.length as 1 | 2 | 3);
    this.put();
  }

  emptyOrderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.w.emptyTuple().reduce();
    this.put();
  }
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** The `data.pkl` bytes of a state dict whose tensor i lives in storage record `data/<i>`. */
export function stateDictPickle(tensors: readonly TensorToWrite[]): Buffer {
  const p = new MemoPickler();
  p.emptyOrderedDict();
  const tensor = (t: TensorToWrite, i: number): void => {
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.w.mark();
    p.w.mark();
    p.str('storage');
    p.global('torch', STORAGE_OF[t.dtype]);
    p.str(String(i));
    p.str('cpu');
    p.w.int(numel(t.shape));
    p.w.tuple();
    p.put();
    p.w.persid();
    p.w.int(0);
    p.intTuple(t.shape);
    p.intTuple(rowMajorStrides(t.shape));
    p.w.bool(false);
    p.emptyOrderedDict();
    p.w.tuple();
    p.put();
    p.w.reduce();
    p.put();
  };
  // pickle `_batch_setitems`: batches of 1000, a lone item as SETITEM
  for (let b = 0; b < tensors.length; b += 1000) {
    const batch = tensors.slice(b, b + 1000);
    if (batch.length > 1) p.w.mark();
    batch.forEach((t, j) => tensor(t, b + j));
    if (batch.length > 1) p.w.setitems();
    else p.w.setitem();
  }
  // state: {'_metadata': OrderedDict({'': {'version': 1}})}
  p.w.emptyDict();
  p.put();
  p.str('_metadata');
  p.emptyOrderedDict();
  p.str('');
  p.w.emptyDict();
  p.put();
  p.str('version');
  p.w.int(1).setitem().setitem().setitem().build().stop();
  return p.w.bytes();
}

/** Writes `tensors` as a PyTorch zip checkpoint (atomically); `archive` is the folder inside the zip. */
export function writeTorchZip(path: string, tensors: readonly TensorToWrite[], archive = 'archive'): void {
  checkTensorsToWrite(tensors, 'writeTorchZip');
  const records: ZipRecord[] = [
    { name: `${archive}/data.pkl`, data: stateDictPickle(tensors) },
    { name: `${archive}/byteorder`, data: Buffer.from('little') },
    ...tensors.map((t, i) => ({ name: `${archive}/data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, numel(t.shape) * dtypeSize(t.dtype)) })),
    { name: `${archive}/version`, data: Buffer.from('3\n') },
  ];
  writeStoredZip(path, records);
}
