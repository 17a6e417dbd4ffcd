/**
 * PASD UNet parity: the fixture's ControlNet residuals are fed as inputs, so the UNet with
 * pixel-aware attention is checked on its own (noise_pred) for every `models` case. The
 * procedure lives in the parity runner's models handler (src/parity/groups/models.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES } from '../parity/fixtures.ts';

const fixtures = FixtureSet.open(FIXTURES);

for (const c of fixtures.cases.filter((x) => x.group === 'models' && x.models?.includes('pasd_unet'))) {
  test(`PASD UNet noise_pred matches the original: ${c.name}`, async (t) => {
    const rows = await runCase(fixtures, c, { only: (o) => o === 'output.noise_pred', threads: 2 });
    assert.equal(rows.length, 1);
    assert.deepEqual(notPassing(rows), []);
    t.diagnostic(describeWorst(rows));
  });
}
