// DiffJPEG(differentiable=False) parity (fixture `degradations`), our quality-100 rule, and the
// real-codec option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors.ts';
import { imageBatch } from '../../src/degrade/batch.ts';
import { diffJpeg, qualityToFactor } from '../../src/degrade/diffjpeg.ts';
import { codecJpeg } from '../../src/degrade/jpeg-codec.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, fixtureCase, maxAbsDiff } from './fixture.ts';

const fx = fixtureCase('degradations');
const image = fx.batch('input.image');

const fixtures = FixtureSet.open(FIXTURES);

test('every DiffJPEG output matches the original, up to rounding-tie flips (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradations')!, { only: (o) => /^output\.diffjpeg_/.test(o) });
  assert.ok(rows.length >= 3, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('the public set has a DiffJPEG input whose size is not a multiple of 16', () => {
  assert.ok(fx.shape('input.image_odd')[2] % 16 !== 0);
});

test('quality 100 means no quantisation (the original gives NaN): the limit of quality → 100', () => {
  assert.equal(qualityToFactor(100), 0);
  const q100 = diffJpeg(image, [100, 100]).data;
  assert.ok(q100.every(Number.isFinite));
  assert.ok(maxAbsDiff(q100, diffJpeg(image, [99.99, 99.99]).data).max < 2e-3);
  // A flat colour survives 4:2:0 and an unquantised DCT exactly (up to float error).
  const flat = imageBatch(new Float32Array(3 * 16 * 16).map((_, i) => [0.2, 0.5, 0.9][Math.floor(i / 256)]), 1, 3, 16, 16);
  assert.ok(maxAbsDiff(diffJpeg(flat, [100]).data, flat.data).max < 1e-6);
  // Lower quality loses more.
  const err = (q: number) => maxAbsDiff(diffJpeg(image, [q, q]).data, image.data).max;
  assert.ok(err(10) > err(50) && err(50) > err(100));
});

test('DiffJPEG rejects qualities outside (0, 100] and non-RGB input', () => {
  for (const q of [0, -5, 100.5, NaN]) assert.throws(() => diffJpeg(image, [q, 50]), (e: unknown) => e instanceof InputError && /quality/.test(e.message));
  assert.throws(() => diffJpeg(image, [50]), InputError);
  assert.throws(() => diffJpeg(imageBatch(new Float32Array(16 * 16), 1, 1, 16, 16), [50]), InputError);
});

test('the real codec option round-trips through libjpeg with a loss like DiffJPEG at the same quality', async () => {
  const meanErr = (d: Float32Array) => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += Math.abs(d[i] - image.data[i]);
    return s / d.length;
  };
  let previous = Infinity;
  for (const q of [10, 60, 95]) {
    const out = await codecJpeg(image, [q, q]);
    assert.deepEqual([out.n, out.c, out.h, out.w], [2, 3, 64, 80]);
    const codec = meanErr(out.data);
    const diff = meanErr(diffJpeg(image, [q, q]).data);
    assert.ok(Math.abs(codec / diff - 1) < 0.25, `quality ${q}: codec mean error ${codec} vs DiffJPEG ${diff}`);
    assert.ok(codec < previous, 'higher quality loses less');
    previous = codec;
  }
  await assert.rejects(codecJpeg(image, [0, 50]), InputError);
});
