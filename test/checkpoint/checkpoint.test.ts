import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { sampleTensors, tempDir } from './helpers.ts';

test('openCheckpoint dispatches on content, not on the file name', () => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors = sampleTensors();
    // deliberately misleading extensions
    const st = join(dir, 'weights.bin');
    const zip = join(dir, 'weights.safetensors');
    writeSafetensors(st, tensors);
    writeTorchZip(zip, tensors);
    const a = openCheckpoint(st);
    const b = openCheckpoint(zip);
    assert.equal(a.format, 'safetensors');
    assert.equal(b.format, 'torch-zip');
    for (const t of tensors) {
      assert.deepEqual(a.read(t.name), t.data);
      assert.deepEqual(b.read(t.name), t.data);
      assert.deepEqual(a.tensors.get(t.name)!.shape, b.tensors.get(t.name)!.shape);
      assert.deepEqual(a.readF32(t.name), b.readF32(t.name));
    }
    const gz = join(dir, 'x.ckpt');
    writeFileSync(gz, gzipSync(Buffer.from('hello')));
    assert.throws(() => openCheckpoint(gz), /gzip-compressed/);
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'not a checkpoint at all');
    assert.throws(() => openCheckpoint(junk), CheckpointError);
    assert.throws(() => openCheckpoint(join(dir, 'missing')), /cannot open/);
  } finally {
    cleanup();
  }
});
