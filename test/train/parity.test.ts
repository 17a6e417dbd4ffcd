/**
 * One optimisation step of train_pasd.py against the `train` fixture group: VAE latents,
 * noisy latents, text embeddings, to-RGB outputs and L1 targets, model_pred, every loss term,
 * the gradients before clipping (stored subset + per-parameter norms and sums of all), the
 * global norm and clip coefficient, and the AdamW-updated parameters. The procedure and its
 * bounds live in the parity runner's `train` handler (src/parity/groups/train.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { train } from '../../src/parity/groups/train.ts';
import { notPassing, runCase } from '../../src/parity/runner.ts';
import type { CaseOutputs } from '../../src/parity/types.ts';
import { FIXTURES } from '../parity/fixtures.ts';

const fixtures = FixtureSet.open(FIXTURES);
const cases = fixtures.cases.filter((c) => c.group === 'train');

test('train group has the three documented cases', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), ['train_pasd_b2_64x64', 'train_pasd_light_b2_48x64', 'train_pasd_light_grayscale_b1_64x48']);
});

for (const c of cases) {
  test(`${c.name}: loss terms, gradients, clipping and AdamW step within the manifest's bounds`, async (t) => {
    let produced: CaseOutputs = new Map();
    const rows = await runCase(fixtures, c, { threads: 2, handlers: { train: async (ctx) => (produced = await train(ctx)) } });
    assert.deepEqual(notPassing(rows), []);
    // Every stored subset is compared in full, and updated.* where the gradient is not tiny
    // with the manifest's tighter bound.
    const entry = (name: string) => c.tensors.find((x) => x.name === name)!;
    for (const prefix of ['grad.', 'updated.']) {
      const stored = [...produced.keys()].filter((k) => k.startsWith(prefix));
      assert.equal(stored.length, entry(`${prefix}<parameter>`).count, `${prefix}* tensors compared`);
    }
    const tight = [...produced].filter(([k, v]) => k.startsWith('updated.') && 'tolerance' in v && v.tolerance?.kind === 'tolerance_where_abs_clipped_grad_gt_1em6');
    assert.ok(tight.length > 0, 'updated.* held to tolerance_where_abs_clipped_grad_gt_1em6');
    for (const r of rows) t.diagnostic(`${r.output}: ${r.maxAbsDiff?.toExponential(2)} (${r.toleranceKind} ${r.tolerance})`);
  });
}
