import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { SHARED_DATA, prng, tempDir } from './helpers.ts';

// The LPIPS v0.1 heads as released (legacy torch.save, Python 2 pickles), next to a safetensors
// copy of the same float32 values.
const LPIPS = join(SHARED_DATA, 'misc/lpips/weights_v0.1');

for (const net of ['alex', 'vgg', 'squeeze']) {
  test(`legacy ${net}.pth reads the same tensors as ${net}.safetensors`, () => {
    const pth = openCheckpoint(join(LPIPS, `${net}.pth`));
    const st = openSafetensors(join(LPIPS, `${net}.safetensors`));
    assert.equal(pth.format, 'torch-legacy');
    assert.deepEqual([...pth.tensors.keys()].sort(), [...st.tensors.keys()].sort());
    const file = readFileSync(join(LPIPS, `${net}.pth`));
    for (const [name, e] of pth.tensors) {
      assert.deepEqual(e.shape, st.tensors.get(name)!.shape);
      assert.equal(e.dtype, 'float32');
      assert.deepEqual(pth.readF32(name), st.readF32(name));
      // the entry's absolute offset is where the raw floats are
      assert.equal(file.readFloatLE(e.offset), pth.readF32(name)[0]);
    }
  });
}

test('fuzz: truncated or flipped legacy files give only CheckpointError', () => {
  const { dir, cleanup } = tempDir();
  try {
    const valid = readFileSync(join(LPIPS, 'alex.pth'));
    const rand = prng(11);
    const p = join(dir, 'fuzz.pth');
    let refused = 0;
    for (let iter = 0; iter < 200; iter++) {
      let b = Buffer.from(valid);
      if (iter % 2 === 0) b = b.subarray(0, Math.floor(rand() * b.length));
      // the pickles are the first 1361 bytes; flip there
      else for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * 1361)] ^= 1 << Math.floor(rand() * 8);
      writeFileSync(p, b);
      try {
        const c = openCheckpoint(p);
        for (const name of c.tensors.keys()) c.read(name);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`iteration ${iter}: ${String(e)}`, { cause: e });
        refused++;
      }
    }
    assert.ok(refused > 100, `most mutations are refused (${refused})`);
  } finally {
    cleanup();
  }
});
