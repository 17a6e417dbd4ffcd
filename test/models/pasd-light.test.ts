/**
 * PASD-light (ControlNet + UNet with pixel-aware attention inside the up-block transformers)
 * against every `models_light` fixture case, and key parity of the light UNet.
 * Both run chained in one graph, as the pipeline runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { InputError, ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { PasdLightUNet2DConditionModel } from '../../src/models/pasd_light/unet.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { casesOf, fixtureCase, modelDir } from '../parity/fixtures.ts';
import { CONTROLNET_OUTPUTS, checkOutputs, fixtureShapes, loadControlNet, loadFixtureModel, moduleShapes, runChainedCase } from './controlnet-cases.ts';

function buildUNet(): PasdLightUNet2DConditionModel {
  return new PasdLightUNet2DConditionModel(parseUNetConfig(loadModelFolder(modelDir('pasd_light_unet')).config, 'pasd_light_unet')).nameTree();
}

test('key parity: pasd_light_unet state dict = model built from its config.json', () => {
  assert.deepEqual(moduleShapes(buildUNet()), fixtureShapes('pasd_light_unet'));
});

// Distinct roots: both models are traced into one graph in the chained test.
const unet = loadFixtureModel('pasd_light_unet', (c) => new PasdLightUNet2DConditionModel(parseUNetConfig(c, 'pasd_light_unet')), 'unet');
const controlnet = loadControlNet('pasd_light_controlnet', 'controlnet');
const cases = casesOf('models_light');

test('models_light covers batch 1, CFG batch 2 and a non-square latent', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), ['pasd_light_b1_16x16', 'pasd_light_b1_16x24', 'pasd_light_cfg_b2_16x16']);
});

// Each compile costs ~0.5 s, so each case runs once, chained; the ControlNet outputs are
// checked before noise_pred, which localises a failure to one of the two models.
for (const c of cases) {
  test(`${c.name}: ControlNet → light UNet chained: rgbs, residuals and noise_pred`, async (t) => {
    const fx = fixtureCase(c.name);
    const out = await runChainedCase(controlnet, unet, fx);
    const w = checkOutputs(fx, out, CONTROLNET_OUTPUTS);
    const np = checkOutputs(fx, out, ['noise_pred']);
    t.diagnostic(`worst ${w.at}: ${w.diff.toExponential(2)} (${(100 * w.ratio).toFixed(1)}% of tolerance); noise_pred ${np.diff.toExponential(2)} (${(100 * np.ratio).toFixed(1)}%)`);
  });
}

test('light UNet: residuals are required and must match the skips, with the module named', () => {
  const g = new Graph('bad');
  const f32 = (name: string, shape: number[]) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape }));
  const sample = f32('sample', [1, 4, 16, 16]), ehs = f32('ehs', [1, 77, 32]);
  const t = new Tensor(g, g.addInput('t', { dtype: 'int64', shape: [1] }));
  const c = controlnet.forward(sample, t, ehs, f32('cond', [1, 3, 128, 128]), 1);
  assert.throws(() => unet.forward(sample, t, ehs, { down: c.down.slice(1), mid: c.mid }), ShapeError);
  const up = unet.up_blocks.at(1);
  assert.throws(() => up.forward(c.mid, [], t, ehs, null, null), (e: unknown) => e instanceof InputError && /unet\.up_blocks\.1/.test(e.message));
});
