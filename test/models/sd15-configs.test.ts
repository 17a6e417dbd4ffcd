/**
 * The real Stable Diffusion 1.5 configs (../shared/data/misc/stable-diffusion-v1-5) build
 * models whose parameter counts equal the published state dicts: UNet 859,520,964,
 * VAE 83,653,863, CLIP ViT-L/14 text encoder 123,060,480 (no weights are needed to check
 * the layout). The PASD UNet adds its pixel-aware attentions on top.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { numel } from '../../src/core/shape.ts';
import { AutoencoderKL } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../../src/models/clip/clip-text.ts';
import { ControlNetModel } from '../../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import type { Module } from '../../src/nn/module.ts';

const SD = resolve(process.cwd(), '../shared/data/misc/stable-diffusion-v1-5');
const config = (c: string) => JSON.parse(readFileSync(resolve(SD, c, 'config.json'), 'utf8'));
const count = (m: Module) => m.namedParameters().reduce((s, [, p]) => s + numel(p.shape), 0);
const quiet = () => {};

test('SD1.5 UNet, VAE and text encoder have the published parameter counts', () => {
  assert.equal(count(new PasdUNet2DConditionModel(parseUNetConfig(config('unet'), 'unet', quiet), false)), 859_520_964);
  assert.equal(count(new AutoencoderKL(parseVaeConfig(config('vae'), 'vae', quiet))), 83_653_863);
  assert.equal(count(new CLIPTextModel(parseClipTextConfig(config('text_encoder'), 'text_encoder', quiet))), 123_060_480);
});

test('PASD on SD1.5: pixel attentions in every up-block layer; ControlNet = the UNet encoder + DRM', () => {
  const cfg = parseUNetConfig(config('unet'), 'unet', quiet);
  const unet = new PasdUNet2DConditionModel(cfg);
  const pixel = unet.namedParameters().filter(([k]) => k.includes('pixel_attentions'));
  assert.equal(new Set(pixel.map(([k]) => k.split('.transformer_blocks')[0].split('.norm')[0].split('.proj')[0])).size, 12, '3 layers × 4 up blocks');
  // from_unet: the ControlNet copies the UNet's config; its encoder keys equal the UNet's.
  const cn = new ControlNetModel(parseControlNetConfig({ ...config('unet'), conditioning_embedding_out_channels: [16, 32, 96, 256] }, 'controlnet', quiet));
  const enc = new Map(unet.namedParameters().filter(([k]) => /^(conv_in|time_embedding|down_blocks|mid_block)\./.test(k)).map(([k, p]) => [k, p.shape]));
  for (const [k, s] of enc) assert.deepEqual(cn.stateShapes().get(k), s, k);
  const rgbs = cn.namedParameters().filter(([k]) => k.includes('to_rgbs'));
  assert.deepEqual(rgbs.map(([, p]) => p.shape[1]).filter((_, i) => i % 2 === 0), [32, 96, 256]);
});
