/**
 * Loading PASD vs PASD-light: the UNet class follows the weights (`attn2_plus` keys), an
 * explicit `light` that contradicts them fails naming the keys, and the colorization
 * scheduler comes from the checkpoint folder, from beside it (test_pasd.py's
 * `<parent of pasd_model_path>/scheduler`), or from the built-in config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StateDictError } from '../../src/core/errors.ts';
import { COLORIZATION_SCHEDULER_CONFIG, SD15_SCHEDULER_CONFIG, componentPaths, isLightUNet, loadComponents } from '../../src/pipelines/load.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-light-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const base = join(dir, 'sd15');
mkdirSync(base);
symlinkSync(modelDir('vae'), join(base, 'vae'));
symlinkSync(modelDir('text_encoder'), join(base, 'text_encoder'));
symlinkSync(resolve(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));

/** A checkpoint folder `<parent>/<name>` with the fixture UNet/ControlNet linked in. */
function checkpoint(parent: string, name: string, light: boolean): string {
  const m = join(dir, parent, name);
  mkdirSync(m, { recursive: true });
  symlinkSync(modelDir(light ? 'pasd_light_unet' : 'pasd_unet'), join(m, 'unet'));
  symlinkSync(modelDir(light ? 'pasd_light_controlnet' : 'pasd_controlnet'), join(m, 'controlnet'));
  return m;
}

function schedulerFolder(at: string, config: Record<string, unknown>): void {
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'scheduler_config.json'), JSON.stringify(config));
}

const keysOf = (name: string) => openSafetensors(join(modelDir(name), 'diffusion_pytorch_model.safetensors')).tensors.keys();

test('attn2_plus keys mark a PASD-light UNet', () => {
  assert.equal(isLightUNet(keysOf('pasd_light_unet')), true);
  assert.equal(isLightUNet(keysOf('pasd_unet')), false);
});

test('the UNet class follows the weights; the ControlNet is the same class', () => {
  for (const light of [true, false]) {
    const c = loadComponents(componentPaths(checkpoint('auto', String(light), light), base));
    assert.equal(c.light, light);
    assert.equal(c.unet.constructor.name, light ? 'PasdLightUNet2DConditionModel' : 'PasdUNet2DConditionModel');
    assert.equal(c.controlnet.constructor.name, 'ControlNetModel');
  }
});

test('an explicit light option that contradicts the weights fails naming the keys', () => {
  const light = componentPaths(checkpoint('explicit', 'light', true), base);
  assert.throws(() => loadComponents(light, { light: false }), (e: unknown) => e instanceof StateDictError && /attn2_plus/.test(e.message));
  const pasd = componentPaths(checkpoint('explicit', 'pasd', false), base);
  assert.throws(() => loadComponents(pasd, { light: true }), (e: unknown) => e instanceof StateDictError && /attn2_plus/.test(e.message));
});

test('colorization scheduler: the checkpoint own scheduler/, else the one beside it, else the built-in config', () => {
  const plain = loadComponents(componentPaths(checkpoint('none', 'ckpt', true), base));
  assert.deepEqual(plain.colorizationSchedulerConfig, COLORIZATION_SCHEDULER_CONFIG);
  assert.deepEqual(plain.schedulerConfig, SD15_SCHEDULER_CONFIG);

  const beside = checkpoint('pasd_color', 'checkpoint-100', true);
  schedulerFolder(join(dir, 'pasd_color', 'scheduler'), { ...COLORIZATION_SCHEDULER_CONFIG, beta_end: 0.02 });
  assert.equal(loadComponents(componentPaths(beside, base)).colorizationSchedulerConfig.beta_end, 0.02);

  schedulerFolder(join(beside, 'scheduler'), { ...COLORIZATION_SCHEDULER_CONFIG, beta_end: 0.03 });
  const own = loadComponents(componentPaths(beside, base));
  assert.equal(own.colorizationSchedulerConfig.beta_end, 0.03);
  assert.deepEqual(own.schedulerConfig, SD15_SCHEDULER_CONFIG, 'Real-ISR keeps the base scheduler');
});
