import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { CheckpointError, ShapeError } from '../../src/core/errors.ts';
import { FIXTURES, sampleTensors, tempDir } from './helpers.ts';

// Files written by the Python safetensors library: re-writing what we read must give the same bytes
// (same dtype/name order, same JSON, same padding).
const LIBRARY_WRITTEN = [
  'models/vae_gn32/diffusion_pytorch_model.safetensors', // F16 + __metadata__
  'cases/convert_ldm_single_file.safetensors', // I64 + F16
  'models/lpips_alex/backbone.safetensors', // F32 + I8, no metadata
  'models/text_encoder/model.safetensors', // F32
];

for (const rel of LIBRARY_WRITTEN) {
  test(`writeSafetensors reproduces ${rel} byte for byte`, () => {
    const src = join(FIXTURES, rel);
    const st = openSafetensors(src);
    const tensors: TensorToWrite[] = [...st.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, data: st.read(e.name) }));
    const { dir, cleanup } = tempDir();
    try {
      const out = join(dir, 'out.safetensors');
      writeSafetensors(out, tensors, Object.keys(st.metadata).length ? st.metadata : undefined);
      assert.ok(readFileSync(out).equals(readFileSync(src)));
    } finally {
      cleanup();
    }
  });
}

test('writeSafetensors round-trips every dtype, aligned and padded', () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, 'all.safetensors');
    const tensors = sampleTensors();
    writeSafetensors(out, tensors, { format: 'pt', '0': 'integer-like key' });
    const st = openSafetensors(out);
    assert.deepEqual(st.metadata, { format: 'pt', '0': 'integer-like key' });
    const headerLen = Number(readFileSync(out).readBigUInt64LE(0));
    assert.equal(headerLen % 8, 0);
    assert.equal(readFileSync(out).toString('utf8', 8, 8 + 16), '{"__metadata__":');
    // data order: I64, F64, F32 (by name), I32, BF16, F16, I8, U8
    assert.deepEqual([...st.tensors.keys()], ['i64', 'f64', 'empty', 'f32', 'i32', 'bf16', 'f16', 'i8', 'u8']);
    for (const t of tensors) {
      const e = st.tensors.get(t.name)!;
      assert.equal(e.dtype, t.dtype);
      assert.deepEqual(e.shape, t.shape);
      assert.equal(e.offset % Math.max(1, t.data.BYTES_PER_ELEMENT), 0, `${t.name} aligned`);
      assert.deepEqual(st.read(t.name), t.data);
    }
    assert.deepEqual(st.readF32('f16'), Float32Array.from([1, -2, 65504]));
    assert.deepEqual(st.readF32('bf16'), Float32Array.from([1, -5]));
    assert.deepEqual(readdirSync(dir), ['all.safetensors'], 'no temporary file left behind');
  } finally {
    cleanup();
  }
});

test('writeSafetensors rejects bad input and leaves the old file intact', () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, 'x.safetensors');
    writeFileSync(out, 'previous');
    const f32 = (name: string, shape: number[], n: number): TensorToWrite => ({ name, dtype: 'float32', shape, data: new Float32Array(n) });
    assert.throws(() => writeSafetensors(out, [f32('a', [2, 2], 3)]), ShapeError);
    assert.throws(() => writeSafetensors(out, [{ name: 'a', dtype: 'float16', shape: [2], data: new Float32Array(2) }]), /must be a Uint16Array/);
    assert.throws(() => writeSafetensors(out, [f32('a', [1], 1), f32('a', [1], 1)]), /duplicate tensor name "a"/);
    assert.throws(() => writeSafetensors(out, [f32('__metadata__', [1], 1)]), CheckpointError);
    assert.throws(() => writeSafetensors(join(dir, 'missing-dir', 'y.safetensors'), [f32('a', [1], 1)]), CheckpointError);
    assert.equal(readFileSync(out, 'utf8'), 'previous');
    assert.deepEqual(readdirSync(dir).sort(), ['x.safetensors']);
  } finally {
    cleanup();
  }
});
