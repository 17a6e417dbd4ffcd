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

const count = (m: Module) => m.namedParameters().reduce((s, [, p]) => s + numel(p.shape), 0);
const quiet = () => {};

/** unet/config.json of SDXL base 1.0 (the keys that differ from diffusers' defaults). */
export const SDXL_BASE_UNET = {
  addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816, // 1280 pooled + 6·256
  attention_head_dim: [5, 10, 20], block_out_channels: [320, 640, 1280], cross_attention_dim: 2048, // 768 + 1280
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  transformer_layers_per_block: [1, 2, 10], use_linear_projection: true, upcast_attention: null, sample_size: 128,
};
/** text_encoder_2/config.json (OpenCLIP ViT-bigG/14 in transformers' layout). */
export const SDXL_BASE_TEXT_ENCODER_2 = {
  architectures: ['CLIPTextModelWithProjection'], hidden_act: 'gelu', hidden_size: 1280, intermediate_size: 5120,
  num_attention_heads: 20, num_hidden_layers: 32, projection_dim: 1280, max_position_embeddings: 77, vocab_size: 49408,
};
/** text_encoder/config.json (OpenAI CLIP ViT-L/14, as SD1.5's). */
export const SDXL_BASE_TEXT_ENCODER = {
  hidden_act: 'quick_gelu', hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, projection_dim: 768,
};
/** vae/config.json: SD1.5's architecture, SDXL's scaling factor. */
export const SDXL_BASE_VAE = {
  block_out_channels: [128, 256, 512, 512], layers_per_block: 2, latent_channels: 4, norm_num_groups: 32, scaling_factor: 0.13025,
  down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'),
};

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
