/**
 * SDXL base 1.0 at its real size, from configs written out of the published architecture
 * (stabilityai/stable-diffusion-xl-base-1.0 `unet/`, `text_encoder/`, `text_encoder_2/`,
 * `vae/` config.json values; Podell et al. 2023, table 1): the models built here have the
 * published parameter counts — UNet 2,567,463,684, CLIP ViT-bigG text encoder with projection
 * 694,659,840, CLIP ViT-L 123,060,480, VAE 83,653,863 — no weights needed. PASD-SDXL adds
 * pixel attentions to the UNet and copies its encoder into the ControlNet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { numel } from '../../src/core/shape.ts';
import { AutoencoderKL } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../../src/models/clip/clip-text.ts';
import { CLIPTextModelWithProjection } from '../../src/models/clip/clip-text-projection.ts';
import { ControlNetModel } from '../../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import type { Module } from '../../src/nn/module.ts';
import { SDXL_BASE_TEXT_ENCODER, SDXL_BASE_TEXT_ENCODER_2, SDXL_BASE_UNET, SDXL_BASE_VAE } from '../../bench/sdxl-configs.ts';

const count = (m: Module) => m.namedParameters().reduce((s, [, p]) => s + numel(p.shape), 0);
const quiet = () => {};

test('SDXL base 1.0 UNet, text encoders and VAE have the published parameter counts', () => {
  assert.equal(count(new PasdUNet2DConditionModel(parseUNetConfig(SDXL_BASE_UNET, 'unet', quiet), false)), 2_567_463_684);
  assert.equal(count(new CLIPTextModelWithProjection(parseClipTextConfig(SDXL_BASE_TEXT_ENCODER_2, 'text_encoder_2', quiet))), 694_659_840);
  assert.equal(count(new CLIPTextModel(parseClipTextConfig(SDXL_BASE_TEXT_ENCODER, 'text_encoder', quiet))), 123_060_480);
  const vae = new AutoencoderKL(parseVaeConfig(SDXL_BASE_VAE, 'vae', quiet));
  assert.equal(count(vae), 83_653_863);
  assert.equal(vae.config.scalingFactor, 0.13025);
});

test('PASD-SDXL: add_embedding in UNet and ControlNet; pixel attentions in every up-block layer', () => {
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(SDXL_BASE_UNET, 'unet', quiet));
  const shapes = unet.stateShapes();
  assert.deepEqual(shapes.get('add_embedding.linear_1.weight'), [1280, 2816]);
  const pixel = new Set([...shapes.keys()].filter((k) => k.includes('pixel_attentions')).map((k) => /^up_blocks\.\d+\.pixel_attentions\.\d+/.exec(k)![0]));
  assert.equal(pixel.size, 9, '3 layers × 3 up blocks');
  const cn = new ControlNetModel(parseControlNetConfig({ ...SDXL_BASE_UNET, conditioning_embedding_out_channels: [64, 128, 256, 256] }, 'controlnet', quiet));
  const cs = cn.stateShapes();
  for (const k of ['add_embedding.linear_1.weight', 'add_embedding.linear_2.weight', 'down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k.weight'])
    assert.deepEqual(cs.get(k), shapes.get(k), k);
  assert.equal(cn.controlnet_down_blocks.length, 9, 'conv_in + 3 + 3 + 2 skips');
});
