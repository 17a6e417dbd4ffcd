// Image ↔ tensor conversions: ToTensor, and the two quantizations (diffusers' rounding checked
// against the pipeline fixtures' float output and its PIL version).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromTensor, makeImage, toTensor } from '../../src/image/image.ts';
import { ShapeError } from '../../src/core/errors.ts';
import { fixtureCase, maxAbsDiff, u8Image } from './fixture.ts';

for (const name of ['pipeline_128x128_4steps', 'pipeline_tiled_192x320_2steps', 'pipeline_colorization']) {
  test(`${name}: output.image → image_u8 is numpy_to_pil rounding, exactly`, () => {
    const { file } = fixtureCase(name);
    const e = file.tensors.get('output.image');
    assert.ok(e);
    const [, c, h, w] = e.shape;
    const got = fromTensor({ shape: [1, c, h, w], data: file.readF32('output.image') }, 'round');
    assert.equal(maxAbsDiff(got.data, u8Image(file, 'output.image_u8').data).max, 0);
  });
}

test('toTensor is HWC→CHW /255; truncate and round differ as ToPILImage and numpy_to_pil do', () => {
  const img = makeImage(2, 1, 3, Uint8Array.from([0, 128, 255, 1, 2, 3]));
  const t = toTensor(img);
  assert.deepEqual(t.shape, [1, 3, 1, 2]);
  assert.deepEqual([...t.data], [0, 1, 128, 2, 255, 3].map((v) => Math.fround(v / 255)));
  assert.deepEqual(fromTensor(t, 'truncate').data, img.data);
  const f = { shape: [1, 1, 1, 4] as const, data: Float32Array.from([0.999 / 255, 2.5 / 255, 3.5 / 255, 1.5]) };
  assert.deepEqual([...fromTensor(f, 'truncate').data], [0, 2, 3, 255]);
  assert.deepEqual([...fromTensor(f, 'round').data], [1, 2, 4, 255]); // half to even
  assert.throws(() => makeImage(2, 2, 3, new Uint8Array(5)), ShapeError);
});
