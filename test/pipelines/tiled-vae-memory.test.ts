/**
 * Bounded memory: the tiny fixture VAE decodes a 128×128 latent to a 1024×1024 image with a
 * 16 MiB budget (maps spilled to files, attention in query chunks, graphs released per segment).
 * Untiled, the mid-block attention alone would hold a 16384×16384 float32 score matrix
 * (1 GiB). Its own process (node:test runs each file in one), so maxRSS is this test's.
 * 2048² and 4096² runs are in bench/tiled-vae.ts (the exact attention is quadratic in the
 * latent pixels: about 40 s for 2048² on 2 cores, far beyond a unit test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { storedTensors } from '../../src/engine/weights.ts';
import { AutoencoderKL } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { TiledVae } from '../../src/pipelines/tiled-vae.ts';
import { modelDir } from '../parity/fixtures.ts';

const MiB = 2 ** 20;

test('decode 128×128 latent → 1024×1024 image with a 16 MiB budget: peak RSS grows by < 256 MiB', async (t) => {
  const folder = loadModelFolder(modelDir('vae'));
  const vae = new AutoencoderKL(parseVaeConfig(folder.config, 'vae/config.json')).nameTree();
  vae.loadWeights(storedTensors(...folder.weightFiles), { what: 'vae' });
  const side = 128;
  const latents = Float32Array.from({ length: 4 * side * side }, (_, i) => Math.sin(i * 0.37) * 0.8);
  const tiled = new TiledVae(vae, { decoderTileSize: 32, memoryBudgetBytes: 16 * MiB, cache: false, threads: 1 });
  const before = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const { image, shape, run } = await tiled.decode(latents, [1, 4, side, side]);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  await tiled.release();

  assert.deepEqual(shape, [1, 3, 1024, 1024]);
  let lo = Infinity, hi = -Infinity, sum = 0;
  for (const v of image) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    sum += v;
  }
  assert.ok(lo >= 0 && hi <= 1 && hi > lo, `image in [0, 1] and not constant: [${lo}, ${hi}]`);
  assert.ok(run.spilled && run.peakMapBytes <= 16 * MiB, `maps: peak ${run.peakMapBytes} B in memory, spilled ${run.spilled}`);
  assert.deepEqual(run.maxGrid, [4, 4]);
  assert.deepEqual(run.attentionChunks, [256, 1], 'attention in chunks of 64 queries over all 16384 keys');
  const grown = peak - before;
  t.diagnostic(`1024² decode: ${ms.toFixed(0)} ms, peak RSS ${(peak / MiB).toFixed(0)} MiB (+${(grown / MiB).toFixed(0)} MiB over the loaded process), ` +
    `maps in memory ≤ ${(run.peakMapBytes / MiB).toFixed(1)} MiB, ${run.tiles} tile runs, attention ${run.attentionChunks.join('×')} blocks, mean ${(sum / image.length).toFixed(4)}`);
  assert.ok(grown < 256 * MiB, `peak RSS grew by ${(grown / MiB).toFixed(0)} MiB`);
});
