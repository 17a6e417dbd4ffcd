/**
 * A latent layout other than SD's 4 × f8, end to end: a from-scratch model on the lossless
 * PixelShuffleAutoencoder (factor 4, 48 latent channels; vae/ holds only its config.json)
 * trains with `train` (whole UNet trainable) and the checkpoint runs in PasdPipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PixelShuffleAutoencoder } from '../../src/models/autoencoders/pixel-shuffle.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { train } from '../../src/train/loop.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';
import { tinyOptions } from '../train/helpers.ts';

test('pixel-shuffle latents (f4 × 48 channels): train 2 steps, then upscale with the checkpoint', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pasd-pixel-shuffle-'));
  try {
    const base = join(root, 'base');
    for (const sub of ['unet', 'vae', 'text_encoder']) mkdirSync(join(base, sub), { recursive: true });
    const unet = JSON.parse(readFileSync(join(modelDir('pasd_unet'), 'config.json'), 'utf8'));
    writeFileSync(join(base, 'unet', 'config.json'), JSON.stringify({ ...unet, in_channels: 48, out_channels: 48 }));
    writeFileSync(join(base, 'vae', 'config.json'), JSON.stringify({ _class_name: 'PixelShuffleAutoencoder', factor: 4, scaling_factor: 2 }));
    copyFileSync(join(modelDir('text_encoder'), 'config.json'), join(base, 'text_encoder', 'config.json'));
    symlinkSync(join(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
    const out = join(root, 'out');
    const r = await train(tinyOptions({
      base, out, maxSteps: 2, checkpointEvery: 2, trainableModules: ['.'],
      controlnetConfig: { conditioning_embedding_out_channels: [8, 16, 32] },
    }));
    assert.ok(r.log.every((l) => Number.isFinite(l.loss) && l.gradNorm > 0));
    assert.equal(r.log[0].lossL1.length, 2, 'to-RGB heads at 1/2 and 1/4');
    const ckpt = join(out, 'checkpoint-2');
    const pipe = PasdPipeline.fromFolders({
      unet: join(ckpt, 'unet'), controlnet: join(ckpt, 'controlnet'), vae: join(base, 'vae'),
      textEncoder: join(ckpt, 'text_encoder'), tokenizer: join(base, 'tokenizer'),
    }, { threads: 1, optimization: 'disabled' });
    try {
      assert.ok(pipe.components.vae instanceof PixelShuffleAutoencoder);
      assert.equal(pipe.factor, 4);
      const input = { width: 10, height: 8, channels: 3 as const, data: Uint8Array.from({ length: 240 }, (_, i) => (i * 37) % 256) };
      const img = await pipe.upscale(input, { upscale: 4, processSize: 16, steps: 2, guidanceScale: 1 });
      assert.deepEqual([img.width, img.height, img.channels], [40, 32, 3]);
    } finally {
      await pipe.release();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
