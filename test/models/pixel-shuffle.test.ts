/**
 * PixelShuffleAutoencoder: pixel_unshuffle channel order (channel c·f² + i·f + j holds pixel
 * (i, j) of each block of image channel c, written out here index by index), decode ∘ encode
 * is the identity bit for bit, the posterior is a point mass, and bad configs name the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePixelShuffleConfig } from '../../src/config/vae.ts';
import { ConfigError, InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { AutoencoderKL } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { buildAutoencoder } from '../../src/models/autoencoders/index.ts';
import { PixelShuffleAutoencoder } from '../../src/models/autoencoders/pixel-shuffle.ts';
import { TiledVae } from '../../src/pipelines/tiled-vae.ts';
import { WholeVae, vaeStage } from '../../src/pipelines/vae-stage.ts';

const RUN = { threads: 1, optimization: 'disabled' as const };

test('encode packs f×f blocks in pixel_unshuffle order; decode inverts it exactly', async () => {
  const f = 4, C = 3, H = 8, W = 12;
  const vae = buildAutoencoder({ _class_name: 'PixelShuffleAutoencoder', factor: f, scaling_factor: 2 });
  assert.ok(vae instanceof PixelShuffleAutoencoder);
  assert.equal(vae.factor, 4);
  assert.equal(vae.config.latentChannels, 48);
  const stage = new WholeVae(vae, RUN);
  try {
    const rnd = new Random(3);
    const image = Float32Array.from({ length: C * H * W }, () => rnd.uniform());
    const post = await stage.encode(image, [1, C, H, W]);
    assert.deepEqual(post.shape, [1, 48, H / f, W / f]);
    const h = H / f, w = W / f;
    for (let c = 0; c < C; c++) for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const got = post.mean[((c * f * f + i * f + j) * h + y) * w + x];
      const want = Math.fround(image[(c * H + y * f + i) * W + x * f + j] * 2 - 1);
      assert.equal(got, want, `c${c} i${i} j${j} y${y} x${x}`);
    }
    assert.ok(post.logvar.every((v) => v === -30));
    const scaled = post.mean.map((v) => v * 2);
    const back = await stage.decode(scaled, post.shape);
    assert.deepEqual(back.shape, [1, C, H, W]);
    let worst = 0;
    for (let k = 0; k < image.length; k++) worst = Math.max(worst, Math.abs(back.image[k] - image[k]));
    assert.ok(worst < 1e-7, `round trip ${worst}`);
    await assert.rejects(stage.encode(image, [1, C, H, W + 1]), InputError);
  } finally {
    await stage.release();
  }
});

test('config: factor a power of two, latent_channels consistent, unknown class falls back to AutoencoderKL', () => {
  assert.throws(() => parsePixelShuffleConfig({ factor: 3 }), (e: unknown) => e instanceof ConfigError && /"factor" must be a power of two/.test(e.message));
  assert.throws(() => parsePixelShuffleConfig({ factor: 2, latent_channels: 4 }), (e: unknown) => e instanceof ConfigError && /"latent_channels" = 4 .* has 12/.test(e.message));
  assert.throws(() => parsePixelShuffleConfig({ factor: 2, scaling_factor: 0 }), ConfigError);
  assert.equal(parsePixelShuffleConfig({ factor: 2, in_channels: 1 }).latentChannels, 4);
  const kl = buildAutoencoder({ _class_name: 'AutoencoderKL', block_out_channels: [8, 8], norm_num_groups: 4, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] });
  assert.ok(kl instanceof AutoencoderKL && kl.factor === 2);
  assert.ok(vaeStage(kl) instanceof TiledVae);
  assert.ok(vaeStage(new PixelShuffleAutoencoder(parsePixelShuffleConfig({ factor: 2 }))) instanceof WholeVae);
});
