import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTorchZip } from '../../src/checkpoint/torch-zip.ts';
import { stateDictPickle, writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { PickleWriter } from '../../src/checkpoint/pickle-write.ts';
import { type ZipRecord, writeStoredZip } from '../../src/checkpoint/zip.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { prng, sampleTensors, tempDir } from './helpers.ts';

/**
 * data.pkl written by CPython 3.11's protocol-2 pickler for an OrderedDict state dict
 * {a.weight: f32[2,3], b: f16[], c.bias: f32[1,2,3,4]} with `_metadata`, through stand-ins for
 * torch's reduce (`_rebuild_tensor_v2`, persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)).
 */
const CPYTHON_STATE_DICT = Buffer.from('800263636f6c6c656374696f6e730a4f726465726564446963740a710029527101285808000000612e776569676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71032828580700000073746f72616765710463746f7263680a466c6f617453746f726167650a71055801000000307106580300000063707571074b06747108514b004b024b038671094b034b0186710a8968002952710b74710c52710d580100000062710e68032828680463746f7263680a48616c6653746f726167650a710f580100000031711068074b01747111514b002929896800295271127471135271145806000000632e6269617371156803282868046805580100000032711668074b18747117514b00284b014b024b034b04747118284b184b0c4b044b017471198968002952711a74711b52711c757d711d58090000005f6d65746164617461711e68002952711f580000000071207d7121580700000076657273696f6e71224b01737373622e', 'hex');

function withTemp(fn: (dir: string) => void): void {
  const { dir, cleanup } = tempDir();
  try {
    fn(dir);
  } finally {
    cleanup();
  }
}

test('stateDictPickle emits what CPython pickles, and the reader reads it', () => {
  const t = [
    { name: 'a.weight', dtype: 'float32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dtype: 'float16' as const, shape: [], data: Uint16Array.from([0x3c00]) },
    { name: 'c.bias', dtype: 'float32' as const, shape: [1, 2, 3, 4], data: Float32Array.from({ length: 24 }, (_, i) => i) },
  ];
  assert.ok(stateDictPickle(t).equals(CPYTHON_STATE_DICT));
  withTemp((dir) => {
    const p = join(dir, 'cpython.bin');
    writeStoredZip(p, [
      { name: 'm/data.pkl', data: CPYTHON_STATE_DICT },
      ...t.map((x, i) => ({ name: `m/data/${i}`, data: new Uint8Array(x.data.buffer) })),
      { name: 'm/version', data: Buffer.from('3\n') },
    ]);
    const c = openTorchZip(p);
    assert.deepEqual([...c.tensors.keys()], ['a.weight', 'b', 'c.bias']);
    assert.deepEqual(c.tensors.get('c.bias')!.shape, [1, 2, 3, 4]);
    assert.deepEqual(c.readF32('b'), Float32Array.from([1]));
    assert.deepEqual(c.read('c.bias'), t[2].data);
  });
});

test('writeTorchZip round-trips every dtype; entries are 64-byte aligned and point at the data', () => {
  withTemp((dir) => {
    const p = join(dir, 'all.pt');
    const tensors = sampleTensors();
    writeTorchZip(p, tensors, 'my_model');
    const c = openTorchZip(p);
    assert.equal(c.format, 'torch-zip');
    const file = readFileSync(p);
    for (const t of tensors) {
      const e = c.tensors.get(t.name)!;
      assert.equal(e.dtype, t.dtype);
      assert.deepEqual(e.shape, t.shape);
      assert.equal(e.offset % 64, 0);
      assert.ok(file.subarray(e.offset, e.offset + e.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)));
      assert.deepEqual(c.read(t.name), t.data);
    }
  });
});

/** A zip checkpoint with a hand-made pickle and one float32 storage "0" of `numel` elements. */
function craftZip(dir: string, pkl: Buffer, numel = 6, extra: ZipRecord[] = []): string {
  const p = join(dir, 'crafted.pt');
  writeStoredZip(p, [
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/data/0', data: new Uint8Array(Float32Array.from({ length: numel }, (_, i) => i).buffer) },
    ...extra,
  ]);
  return p;
}

/** Pickle of {name: tensor} for tensors on storage "0" (float32, `declared` elements). */
function tensorsPickle(specs: { name: string; offset: number; shape: number[]; stride: number[] }[], declared = 6, wrap?: 'state_dict' | 'parameter'): Buffer {
  const w = new PickleWriter().proto(2);
  if (wrap === 'state_dict') w.emptyDict().str('epoch').int(3).setitem().str('state_dict');
  w.emptyDict();
  for (const s of specs) {
    w.str(s.name);
    if (wrap === 'parameter') w.global('torch._utils', '_rebuild_parameter');
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(declared).tuple().persid();
    w.int(s.offset).mark();
    s.shape.forEach((d) => w.int(d));
    w.tuple().mark();
    s.stride.forEach((d) => w.int(d));
    w.tuple().bool(false).none().tuple().reduce();
    if (wrap === 'parameter') w.bool(true).none().tupleN(3).reduce();
    w.setitem();
  }
  if (wrap === 'state_dict') w.setitem();
  return w.stop().bytes();
}

test('views into one storage, Lightning-style wrappers and Parameters', () => {
  withTemp((dir) => {
    const views = [
      { name: 'whole', offset: 0, shape: [2, 3], stride: [3, 1] },
      { name: 'row1', offset: 3, shape: [3], stride: [1] },
      { name: 'col', offset: 2, shape: [2, 1], stride: [1, 1] },
    ];
    const c = openTorchZip(craftZip(dir, tensorsPickle(views)));
    assert.deepEqual(c.readF32('row1'), Float32Array.from([3, 4, 5]));
    assert.deepEqual(c.readF32('col'), Float32Array.from([2, 3]));
    assert.equal(c.tensors.get('row1')!.offset - c.tensors.get('whole')!.offset, 12);
    const lightning = openTorchZip(craftZip(dir, tensorsPickle(views.slice(0, 1), 6, 'state_dict')));
    assert.deepEqual([...lightning.tensors.keys()], ['whole']);
    const params = openTorchZip(craftZip(dir, tensorsPickle(views.slice(1), 6, 'parameter')));
    assert.deepEqual(params.readF32('row1'), Float32Array.from([3, 4, 5]));
  });
});

test('storage bounds, sizes and layout are checked before any read', () => {
  withTemp((dir) => {
    const cases: [Buffer, number, RegExp][] = [
      [tensorsPickle([{ name: 'w', offset: 0, shape: [10], stride: [1] }]), 6, /tensor "w" \[10\] at storage offset 0 reaches element 9 of storage "0", which holds 6/],
      [tensorsPickle([{ name: 'w', offset: 5, shape: [2], stride: [1] }]), 6, /reaches element 6/],
      [tensorsPickle([{ name: 'w', offset: 0, shape: [2, 3], stride: [4, 1] }]), 6, /reaches element 6/],
      [tensorsPickle([{ name: 'w', offset: 0, shape: [2], stride: [1] }], 100), 6, /storage "0" declares 100 float32 elements \(400 bytes\) but its record holds 24 bytes/],
      [tensorsPickle([{ name: 'w', offset: 0, shape: [2, 3], stride: [1, 2] }]), 6, /tensor "w" is not contiguous .*tensor\.contiguous\(\)/],
      [tensorsPickle([{ name: 'w', offset: 0, shape: [2, 3], stride: [3] }]), 6, /differ in rank/],
    ];
    for (const [pkl, numel, msg] of cases)
      assert.throws(() => openTorchZip(craftZip(dir, pkl, numel)), (e: unknown) => e instanceof CheckpointError && msg.test(e.message), String(msg));
    // storage key without its record
    const p = join(dir, 'norecord.pt');
    writeStoredZip(p, [{ name: 'archive/data.pkl', data: tensorsPickle([{ name: 'w', offset: 0, shape: [1], stride: [1] }]) }]);
    assert.throws(() => openTorchZip(p), /storage "0" has no record archive\/data\/0/);
  });
});

test('zip-level refusals: compressed entries, big-endian, not a torch archive, bad CRC', () => {
  withTemp((dir) => {
    const good = craftZip(dir, tensorsPickle([{ name: 'w', offset: 0, shape: [6], stride: [1] }]));
    const bytes = readFileSync(good);
    // Mark the storage record as deflated in its central directory entry (name at +46).
    const cd = bytes.lastIndexOf(Buffer.from('archive/data/0')) - 46;
    const deflated = Buffer.from(bytes);
    deflated.writeUInt16LE(8, cd + 10);
    writeFileSync(good, deflated);
    assert.throws(() => openTorchZip(good), /zip entry "archive\/data\/0" is compressed \(method 8\).*convert the checkpoint to \.safetensors/);
    const corrupt = Buffer.from(bytes);
    corrupt[bytes.indexOf(Buffer.from('storage')) + 2] ^= 1;
    writeFileSync(good, corrupt);
    assert.throws(() => openTorchZip(good), /fails its CRC-32 check/);
    const big = craftZip(dir, tensorsPickle([{ name: 'w', offset: 0, shape: [6], stride: [1] }]), 6, [{ name: 'archive/byteorder', data: Buffer.from('big') }]);
    assert.throws(() => openTorchZip(big), /byte order "big" is not supported/);
    const p = join(dir, 'other.zip');
    writeStoredZip(p, [{ name: 'docs/readme.txt', data: Buffer.from('hi') }]);
    assert.throws(() => openTorchZip(p), /no docs\/data\.pkl; not a torch\.save checkpoint/);
    writeStoredZip(p, [{ name: 'flat.txt', data: Buffer.from('hi') }]);
    assert.throws(() => openTorchZip(p), /not inside an archive folder/);
  });
});

test('fuzz: flipped bytes, truncations and mutated pickles give only CheckpointError', () => {
  withTemp((dir) => {
    const src = join(dir, 'src.pt');
    writeTorchZip(src, sampleTensors());
    const valid = readFileSync(src);
    const pkl = stateDictPickle(sampleTensors());
    const rand = prng(7);
    const p = join(dir, 'fuzz.pt');
    let refused = 0;
    for (let iter = 0; iter < 300; iter++) {
      const kind = iter % 3;
      if (kind === 0) writeFileSync(p, valid.subarray(0, Math.floor(rand() * valid.length)));
      else if (kind === 1) {
        const b = Buffer.from(valid);
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
        writeFileSync(p, b);
      } else {
        // A mutated pickle inside a well-formed zip (valid CRC) exercises the interpreter itself.
        const b = Buffer.from(pkl);
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        const records = sampleTensors().map((t, i) => ({ name: `archive/data/${i}`, data: new Uint8Array(t.data.buffer) }));
        writeStoredZip(p, [{ name: 'archive/data.pkl', data: b }, ...records]);
      }
      try {
        const c = openTorchZip(p);
        for (const name of c.tensors.keys()) c.read(name);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`iteration ${iter}: ${String(e)}`, { cause: e });
        refused++;
      }
    }
    assert.ok(refused > 150, `most mutations are refused (${refused})`);
  });
});
