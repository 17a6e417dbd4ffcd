/**
 * PASD ControlNet (with the degradation removal module, with and without RRDBs) against the
 * `models` fixture cases: the 3 to-RGB images, the 12 down residuals and the mid residual,
 * each within the manifest's tolerance; plus key parity of all three ControlNet configs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/core/errors.ts';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseControlNetConfig } from '../../src/config/unet.ts';
import { ControlNetModel, traceControlNet } from '../../src/models/controlnets/controlnet.ts';
import { casesOf, fixtureCase, modelDir } from '../parity/fixtures.ts';
import { CONTROLNET_OUTPUTS, checkOutputs, fixtureShapes, loadControlNet, moduleShapes, runControlNetCase } from './controlnet-cases.ts';

for (const name of ['pasd_controlnet', 'pasd_rrdb_controlnet', 'pasd_light_controlnet']) {
  test(`key parity: ${name} state dict = model built from its config.json`, () => {
    const net = new ControlNetModel(parseControlNetConfig(loadModelFolder(modelDir(name)).config, name)).nameTree();
    assert.deepEqual(moduleShapes(net), fixtureShapes(name));
  });
}

const nets = new Map<string, ControlNetModel>();
for (const c of casesOf('models')) {
  const netName = c.models!.find((m) => m.endsWith('controlnet'))!;
  test(`${c.name}: ${netName} rgbs, down and mid residuals within tolerance`, async (t) => {
    if (!nets.has(netName)) nets.set(netName, loadControlNet(netName));
    const fx = fixtureCase(c.name);
    const out = await runControlNetCase(nets.get(netName)!, fx);
    assert.equal(Object.keys(out).length, 16, '3 rgbs + 12 down + mid');
    const w = checkOutputs(fx, out, CONTROLNET_OUTPUTS);
    t.diagnostic(`worst ${w.at}: ${w.diff.toExponential(2)} (${(100 * w.ratio).toFixed(1)}% of tolerance)`);
  });
}

test('ControlNet rejects a condition image or timestep of the wrong shape, naming it', () => {
  const net = loadControlNet('pasd_controlnet');
  assert.throws(() => traceControlNet(net, { batch: 1, height: 16, width: 16, condFactor: 4 }), (e: unknown) =>
    e instanceof ShapeError && /controlnet_cond/.test(e.message) && /8× the latent size/.test(e.message));
  assert.throws(() => traceControlNet(net, { batch: 2, height: 16, width: 16, timesteps: 3 }), (e: unknown) =>
    e instanceof ShapeError && /timestep/.test(e.message));
});
