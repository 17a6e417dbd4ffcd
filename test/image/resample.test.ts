// Parity with Pillow 9.4 Image.resize and torchvision 0.14 Resize on PIL images (fixture
// `pil_resize`, group helpers): every output of the manifest entry must match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resize, torchvisionResize, torchvisionResizeSize } from '../../src/image/resample.ts';
import { makeImage } from '../../src/image/image.ts';
import { ConfigError, ShapeError } from '../../src/core/errors.ts';
import { fixtureCase, maxAbsDiff, u8Image } from './fixture.ts';

const { spec, file } = fixtureCase('pil_resize');

const outputs = spec.tensors.filter((t) => t.name.startsWith('output.'));

test('pil_resize fixture has outputs to check', () => {
  assert.ok(outputs.length >= 10, `only ${outputs.length} outputs`);
});

for (const t of outputs) {
  test(`pil_resize ${t.name} is exact`, () => {
    // output.image<K>_<variant>_u8, with variant = <filter>_<tag> or tv_resize_<size>_<max|None>
    const m = /^output\.(image\d+)_(.+)_u8$/.exec(t.name);
    assert.ok(m, `unexpected tensor name ${t.name}`);
    const input = u8Image(file, `input.${m[1]}_u8`);
    const expected = u8Image(file, t.name);
    const variant = m[2];
    let got;
    const tv = /^tv_resize_(\d+)_(\d+|None)$/.exec(variant);
    if (tv) {
      const maxSize = tv[2] === 'None' ? undefined : Number(tv[2]);
      got = torchvisionResize(input, Number(tv[1]), { maxSize });
    } else {
      const filter = variant.split('_')[0];
      assert.ok(['bicubic', 'bilinear', 'default'].includes(filter), `unknown variant ${variant}`);
      got = filter === 'default'
        ? resize(input, expected.width, expected.height)
        : resize(input, expected.width, expected.height, filter as 'bicubic' | 'bilinear');
    }
    assert.deepEqual([got.width, got.height, got.channels], [expected.width, expected.height, 3]);
    const d = maxAbsDiff(got.data, expected.data);
    assert.equal(d.max, 0, `max |diff| ${d.max} at flat index ${d.at}`);
  });
}

test('torchvision size rule: short side to size, long side truncated, max_size cap', () => {
  assert.deepEqual(torchvisionResizeSize(40, 32, 64), [80, 64]);
  assert.deepEqual(torchvisionResizeSize(32, 40, 64), [64, 80]);
  assert.deepEqual(torchvisionResizeSize(100, 30, 64, 128), [128, 38]); // int(128*64/213) = 38
  assert.deepEqual(torchvisionResizeSize(37, 23, 50), [80, 50]); // int(50*37/23) = int(80.43)
  assert.throws(() => torchvisionResizeSize(40, 32, 64, 64), ConfigError);
});

test('resize rejects non-positive sizes and keeps grayscale single-channel', () => {
  const img = makeImage(5, 4, 1, Uint8Array.from({ length: 20 }, (_, i) => i * 12));
  assert.throws(() => resize(img, 0, 4), ShapeError);
  const up = resize(img, 10, 8, 'bilinear');
  assert.equal(up.channels, 1);
  // A constant image stays constant under any normalised filter.
  const flat = resize(makeImage(7, 3, 3, new Uint8Array(63).fill(77)), 3, 11);
  assert.ok(flat.data.every((v) => v === 77));
});
