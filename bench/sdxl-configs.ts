/**
 * SDXL base 1.0's configs, written out of the published architecture
 * (stabilityai/stable-diffusion-xl-base-1.0 `unet/`, `text_encoder/`, `text_encoder_2/`, `vae/`
 * config.json; Podell et al. 2023, table 1): the keys that differ from diffusers' / transformers'
 * defaults. test/models/sdxl-configs.test.ts checks they give the published parameter counts;
 * bench/sdxl-step.ts times a PASD-SDXL step at that size.
 */

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
