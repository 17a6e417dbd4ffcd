/**
 * The latent layout comes from the models, not from constants: network sizes are multiples of
 * the VAE factor, and a VAE and ControlNet that downsample differently are refused up front.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { AutoencoderKL } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../../src/models/clip/clip-text.ts';
import { ControlNetModel } from '../../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { SD15_SCHEDULER_CONFIG } from '../../src/pipelines/load.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { processingSizes } from '../../src/pipelines/sizes.ts';
import { ClipTokenizer } from '../../src/tokenizer/clip_tokenizer.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const cfg = (name: string, file = 'config.json') => JSON.parse(readFileSync(join(modelDir(name), file), 'utf8'));

test('network sizes are floored to the given multiple (the VAE factor)', () => {
  assert.deepEqual(processingSizes(50, 30, { upscale: 2, processSize: 16 }).network, [96, 56]);
  assert.deepEqual(processingSizes(50, 30, { upscale: 2, processSize: 16, multiple: 4 }).network, [100, 60]);
});

test('a VAE and a ControlNet that downsample differently are a ConfigError naming both', () => {
  const components = (ctrlChannels: number[]) => ({
    unet: new PasdUNet2DConditionModel(parseUNetConfig(cfg('pasd_unet'))),
    controlnet: new ControlNetModel(parseControlNetConfig({ ...cfg('pasd_controlnet'), conditioning_embedding_out_channels: ctrlChannels })),
    vae: new AutoencoderKL(parseVaeConfig(cfg('vae'))),
    textEncoder: new CLIPTextModel(parseClipTextConfig(cfg('text_encoder'))),
    tokenizer: ClipTokenizer.fromFolder(join(FIXTURES, 'tokenizer')),
    light: false, schedulerConfig: SD15_SCHEDULER_CONFIG, colorizationSchedulerConfig: SD15_SCHEDULER_CONFIG,
  });
  assert.equal(new PasdPipeline(components([8, 16, 32, 32])).factor, 8);
  assert.throws(() => new PasdPipeline(components([8, 16, 32])), (e: unknown) => e instanceof ConfigError && /VAE downsamples by 8 .* by 4/.test(e.message));
});
