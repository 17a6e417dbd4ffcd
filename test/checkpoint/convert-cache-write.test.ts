/** The streaming float32 writer used for merged weights writes the same bytes as `writeSafetensors`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeF32SafetensorsStreaming } from '../../src/checkpoint/safetensors-stream.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { tempDir } from './helpers.ts';

test('streamed float32 safetensors are byte-identical to writeSafetensors, tensors computed one at a time', () => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors: TensorToWrite[] = ['b.weight', 'a.10', 'a.9', 'é', 'A'].map((name, i) => ({ name, dtype: 'float32', shape: [i + 1, 2], data: Float32Array.from({ length: 2 * i + 2 }, (_, j) => i - j / 3) }));
    const meta = { format: 'pasd-personalized-weights' };
    writeSafetensors(join(dir, 'ref.safetensors'), tensors, meta);
    const computed: string[] = [];
    writeF32SafetensorsStreaming(join(dir, 'streamed.safetensors'), tensors.map(({ name, shape }) => ({ name, shape })), (name) => {
      computed.push(name);
      return tensors.find((t) => t.name === name)!.data as Float32Array;
    }, meta);
    assert.deepEqual(readFileSync(join(dir, 'streamed.safetensors')), readFileSync(join(dir, 'ref.safetensors')));
    assert.deepEqual(computed, ['A', 'a.10', 'a.9', 'b.weight', 'é']);
    assert.throws(() => writeF32SafetensorsStreaming(join(dir, 'x.safetensors'), [{ name: 'a', shape: [2] }], () => new Float32Array(3)), CheckpointError);
  } finally {
    cleanup();
  }
});
