// Parity with Pillow 9.4 Image.resize and torchvision 0.14 Resize on PIL images (fixture
// `pil_resize`, group helpers): every output of the manifest entry must match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resize, torchvisionResizeSize } from '../../src/image/resample.ts';
import { makeImage } from '../../src/image/image.ts';
import { ConfigError, ShapeError } from '../../src/core/errors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES } from './fixture.ts';

const fixtures = FixtureSet.open(FIXTURES);

test('pil_resize: every output exact (procedure in src/parity/groups/helpers.ts)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'pil_resize')!);
  assert.ok(rows.length >= 10, `only ${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  // Pillow resizes are integer arithmetic: exact, whatever the ±1 allowance of other _u8 outputs.
  assert.ok(rows.every((r) => r.maxAbsDiff === 0), 'every resize is bit-exact');
  t.diagnostic(describeWorst(rows));
});

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
