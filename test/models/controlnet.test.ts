/**
 * PASD ControlNet (with the degradation removal module, with and without RRDBs) against the
 * `models` fixture cases: the 3 to-RGB images, the 12 down residuals and the mid residual,
 * each within the manifest's tolerance; plus key parity of all three ControlNet configs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { ControlNetModel, traceControlNet } from '../../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { FIXTURES, casesOf, fixtureCase, modelDir } from '../parity/fixtures.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { CONTROLNET_OUTPUTS, checkOutputs, fixtureShapes, loadControlNet, loadFixtureModel, moduleShapes, runChainedCase } from './controlnet-cases.ts';

for (const name of ['pasd_controlnet', 'pasd_rrdb_controlnet', 'pasd_light_controlnet']) {
  test(`key parity: ${name} state dict = model built from its config.json`, () => {
    const net = new ControlNetModel(parseControlNetConfig(loadModelFolder(modelDir(name)).config, name)).nameTree();
    assert.deepEqual(moduleShapes(net), fixtureShapes(name));
  });
}

/**
 * Compiling a graph costs ~0.5 s, so each case is run once: either the ControlNet alone
 * (traceControlNet) or chained with the PASD UNet in one graph
 * (the UNet on its own, fed the fixture residuals, is tested in pasd-unet.test.ts).
 */
const CHAINED = new Set(['pasd_cfg_b2_16x16']);
const nets = new Map<string, ControlNetModel>();
const netFor = (name: string) => {
  if (!nets.has(name)) nets.set(name, loadControlNet(name, 'controlnet'));
  return nets.get(name)!;
};
const unet = loadFixtureModel('pasd_unet', (c) => new PasdUNet2DConditionModel(parseUNetConfig(c, 'pasd_unet')), 'unet');

const fixtures = FixtureSet.open(FIXTURES);
const CONTROLNET_OUTPUT = /^output\.(rgbs\.|down_block_res_samples\.|mid_block_res_sample$)/;

for (const c of casesOf('models')) {
  const netName = c.models!.find((m) => m.endsWith('controlnet'))!;
  if (CHAINED.has(c.name)) {
    test(`${c.name}: ${netName} → pasd_unet in one graph: rgbs, residuals and noise_pred within tolerance`, async (t) => {
      const fx = fixtureCase(c.name);
      const out = await runChainedCase(netFor(netName), unet, fx);
      const w = checkOutputs(fx, out, CONTROLNET_OUTPUTS);
      const np = checkOutputs(fx, out, ['noise_pred']);
      t.diagnostic(`worst ${w.at}: ${w.diff.toExponential(2)} (${(100 * w.ratio).toFixed(1)}% of tolerance); noise_pred ${np.diff.toExponential(2)} (${(100 * np.ratio).toFixed(1)}%)`);
    });
  } else {
    test(`${c.name}: ${netName} rgbs, down and mid residuals within tolerance (runner's models handler)`, async (t) => {
      const rows = await runCase(fixtures, c, { only: (o) => CONTROLNET_OUTPUT.test(o), threads: 2 });
      assert.equal(rows.length, 16, '3 rgbs + 12 down + mid');
      assert.deepEqual(notPassing(rows), []);
      t.diagnostic(describeWorst(rows));
    });
  }
}

test('ControlNet rejects a condition image or timestep of the wrong shape, naming it', () => {
  const net = loadControlNet('pasd_controlnet');
  assert.throws(() => traceControlNet(net, { batch: 1, height: 16, width: 16, condFactor: 4 }), (e: unknown) =>
    e instanceof ShapeError && /controlnet_cond/.test(e.message) && /8× the latent size/.test(e.message));
  assert.throws(() => traceControlNet(net, { batch: 2, height: 16, width: 16, timesteps: 3 }), (e: unknown) =>
    e instanceof ShapeError && /timestep/.test(e.message));
});
