// USMSharp parity (fixture `degradations`): radius 50 → a 51-tap cv2 Gaussian (sigma 8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import { gaussianKernel1D } from '../../src/degrade/usm.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES } from './fixture.ts';


const fixtures = FixtureSet.open(FIXTURES);

test('USMSharp with the settings of its manifest entry matches the original (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradations')!, { only: (o) => /^output\.usm_sharp$/.test(o) });
  assert.ok(rows.length >= 1, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('cv2.getGaussianKernel(51, 0) derives sigma 8 and sums to 1', () => {
  const k = gaussianKernel1D(51, 0);
  const ref = gaussianKernel1D(51, 8);
  for (let i = 0; i < 51; i++) assert.ok(Math.abs(k[i] - ref[i]) < 1e-15);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(k[25] / k[24] - Math.exp(1 / 128)) < 1e-12);
  assert.throws(() => gaussianKernel1D(5, 0), ConfigError);
});
