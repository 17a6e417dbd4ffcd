// Parity with pasd/myutils/wavelet_color_fix.py (fixture `colorfix_64x96`) and
// pipeline_pasd.py `_gaussian_weights` (fixture `gaussian_tile_weights`), group helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colorFix, waveletColorFix } from '../../src/image/colorfix.ts';
import { makeImage } from '../../src/image/image.ts';
import { ShapeError } from '../../src/core/errors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES } from './fixture.ts';

const fixtures = FixtureSet.open(FIXTURES);

for (const name of ['colorfix_64x96', 'gaussian_tile_weights']) {
  test(`${name}: every output within the manifest tolerance (procedures in src/parity/groups/helpers.ts)`, async (t) => {
    const meta = fixtures.cases.find((c) => c.name === name)!;
    const rows = await runCase(fixtures, meta);
    assert.deepEqual(notPassing(rows), []);
    // The uint8 colour fixes may be off by one only at truncation boundaries: a handful of values.
    for (const r of rows.filter((x) => x.output.endsWith('_u8'))) assert.ok(r.mismatched! <= r.count! * 0.01, `${r.output}: ${r.mismatched} of ${r.count} differ`);
    t.diagnostic(describeWorst(rows));
  });
}

test('colorFix none returns the target; wavelet needs equal sizes', () => {
  const a = makeImage(4, 4, 3);
  assert.equal(colorFix('none', a, makeImage(2, 2, 3)), a);
  assert.throws(() => waveletColorFix(a, makeImage(2, 2, 3)), ShapeError);
});
