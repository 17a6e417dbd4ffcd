// filter2D and F.interpolate parity with the original (fixture `degradations`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { type ImageBatch, imageBatch } from '../../src/degrade/batch.ts';
import { filter2D, separableFactors } from '../../src/degrade/filter.ts';
import { bivariateGaussian, type Kernel } from '../../src/degrade/kernels.ts';
import { RESIZE_MODES, interpolate } from '../../src/degrade/resize.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, fixtureCase, maxAbsDiff } from './fixture.ts';

const fx = fixtureCase('degradations');
const fixtures = FixtureSet.open(FIXTURES);
const image = fx.batch('input.image');

test('filter2D with one kernel and with one kernel per item matches the original (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradations')!, { only: (o) => /^output\.filter2D_/.test(o) });
  assert.ok(rows.length >= 2, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

/** Plain reflect-pad + cross-correlation, the definition, for checking the fast paths. */
function naiveFilter(img: ImageBatch, k: Kernel): Float32Array {
  const { h, w } = img;
  const p = k.size >> 1;
  const rf = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const out = new Float32Array(img.data.length);
  for (let pl = 0; pl < img.n * img.c; pl++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let i = 0; i < k.size; i++)
          for (let j = 0; j < k.size; j++) s += k.data[i * k.size + j] * img.data[pl * h * w + rf(y + i - p, h) * w + rf(x + j - p, w)];
        out[pl * h * w + y * w + x] = s;
      }
  return out;
}

test('the separable path is taken for outer-product kernels only and agrees with the definition', () => {
  const iso = { size: 11, data: Float32Array.from(bivariateGaussian(11, 1.4, 1.4, 0, true).data) };
  const aniso = { size: 11, data: Float32Array.from(bivariateGaussian(11, 2, 0.7, 0.4, false).data) };
  assert.notEqual(separableFactors(iso), null);
  assert.equal(separableFactors(aniso), null);
  // Odd width (not a multiple of the 4-wide inner block) exercises the tail loop too.
  const small = imageBatch(image.data.slice(0, 2 * 3 * 37 * 23), 2, 3, 37, 23);
  for (const k of [iso, aniso]) assert.ok(maxAbsDiff(filter2D(small, k).data, naiveFilter(small, k)).max < 1e-6);
});

test('filter2D rejects kernels that do not fit, as torch would', () => {
  const k21 = { size: 21, data: new Float32Array(441) };
  const tiny = imageBatch(new Float32Array(3 * 10 * 40), 1, 3, 10, 40);
  assert.throws(() => filter2D(tiny, k21), (e: unknown) => e instanceof ShapeError && /reflect padding 10/.test(e.message));
  assert.throws(() => filter2D(image, [k21, k21, k21]), ShapeError);
  assert.throws(() => filter2D(image, { size: 4, data: new Float32Array(16) }), ShapeError);
});

test('every F.interpolate output (mode and scale_factor or size read from its meaning) matches the original (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradations')!, { only: (o) => /^output\.interp_/.test(o) });
  assert.ok(rows.length >= 9, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('interpolate at scale 1 is the identity and bad sizes throw', () => {
  for (const mode of RESIZE_MODES) assert.deepEqual(interpolate(image, { mode, scaleFactor: 1 }).data, image.data);
  assert.throws(() => interpolate(image, { mode: 'area' }), ShapeError);
  assert.throws(() => interpolate(image, { mode: 'area', scaleFactor: 0.001 }), ShapeError);
  assert.throws(() => interpolate(image, { mode: 'bilinear', size: [0, 3] }), ShapeError);
});
