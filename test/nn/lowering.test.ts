/**
 * The lowering switches bench/run.ts compares give the same results: the fixture VAE decoder
 * (GroupNorms + mid-block self-attention) traced fused/decomposed and unfused/native.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { Random } from '../../src/core/random.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { printGraph } from '../../src/ir/print.ts';
import { AutoencoderKL, traceVaeDecode } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { setLowering } from '../../src/nn/lowering.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { loadModel } from '../../src/parity/groups/load.ts';
import { FIXTURES } from '../parity/fixtures.ts';

test('unfused attention and native GroupNorm trace differently but compute the same decode', async () => {
  const fixtures = FixtureSet.open(FIXTURES);
  const m = fixtures.model('vae');
  const vae = loadModel(fixtures, m, (c) => new AutoencoderKL(parseVaeConfig(c)));
  const s = { batch: 1, height: 8, width: 8 };
  const latent = new Random(5).randn(vae.config.latentChannels * 64);
  const run = async () => {
    const g = traceVaeDecode(vae, s);
    const session = await compileGraph(g, { cache: false, threads: 1 });
    try {
      const out = await session.run({ latent: { dtype: 'float32', shape: [1, vae.config.latentChannels, 8, 8], data: latent } });
      return { text: printGraph(g), image: out.image.data as Float32Array };
    } finally {
      await session.release();
    }
  };
  const base = await run();
  assert.ok(setLowering(vae, { attention: 'unfused', groupNorm: 'native' }) > 2);
  const alt = await run();
  setLowering(vae, { attention: 'fused', groupNorm: 'decomposed' });
  assert.match(base.text, /MultiHeadAttention/);
  assert.doesNotMatch(alt.text, /MultiHeadAttention/);
  assert.match(alt.text, /native/);
  let worst = 0;
  for (let i = 0; i < base.image.length; i++) worst = Math.max(worst, Math.abs(base.image[i] - alt.image[i]));
  assert.ok(worst < 1e-4, `max |fused − unfused| = ${worst}`);
});
