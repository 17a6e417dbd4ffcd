/**
 * The tiled VAE equals the untiled AutoencoderKL up to float error (max abs ≤ 1e-4) on the
 * fixture models `vae` (8 GroupNorm groups) and `vae_gn32` (32), for encode and decode at
 * sizes that really tile (odd sizes, overhanging last tiles, spilled maps and blockwise
 * attention included), and is therefore NOT the original's tiled output: against the
 * `pipeline_tiled_vae` fixture (PASD's vaehook) it differs by the manifest's
 * `max_abs_vs_untiled`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { InputError } from '../../src/core/errors.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensors } from '../../src/engine/weights.ts';
import { AutoencoderKL, traceVaeDecode, traceVaeEncode } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { TiledVae } from '../../src/pipelines/tiled-vae.ts';
import { fixtureCase, maxAbsDiff, modelDir } from '../parity/fixtures.ts';

/** Tiled vs untiled: both are float32 evaluations of the same sums in another order. */
const TOL = 1e-4;
const RUN = { cache: false, threads: 1 } as const;

function loadVae(name: string): AutoencoderKL {
  const folder = loadModelFolder(modelDir(name));
  const vae = new AutoencoderKL(parseVaeConfig(folder.config, `${name}/config.json`)).nameTree();
  vae.loadWeights(storedTensors(...folder.weightFiles), { what: name });
  return vae;
}

/** Deterministic values in [-scale, scale] (an LCG; the content only has to be generic). */
function noise(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
}

async function untiledEncode(vae: AutoencoderKL, image: Float32Array, h: number, w: number) {
  const s = await compileGraph(traceVaeEncode(vae, { batch: 1, height: h, width: w }), RUN);
  try {
    const o = await s.run({ image: { dtype: 'float32', shape: [1, 3, h, w], data: image } });
    return { mean: o.mean.data as Float32Array, logvar: o.logvar.data as Float32Array };
  } finally {
    await s.release();
  }
}

async function untiledDecode(vae: AutoencoderKL, latent: Float32Array, h: number, w: number): Promise<Float32Array> {
  const s = await compileGraph(traceVaeDecode(vae, { batch: 1, height: h, width: w }), RUN);
  try {
    return (await s.run({ latent: { dtype: 'float32', shape: [1, 4, h, w], data: latent } })).image.data as Float32Array;
  } finally {
    await s.release();
  }
}

const vae = loadVae('vae');
const gn32 = loadVae('vae_gn32');
const fx = fixtureCase('pipeline_tiled_vae');

test('vae_gn32, pipeline_tiled_vae inputs: tiled encode and decode = untiled; the original\'s tiled output is max_abs_vs_untiled away', async (t) => {
  const image = fx.file.readF32('input.image'), latent = fx.file.readF32('input.latent');
  const [, , H, W] = fx.file.tensors.get('input.image')!.shape;
  const [, , h, w] = fx.file.tensors.get('input.latent')!.shape;
  const tiled = new TiledVae(gn32, { encoderTileSize: 24, decoderTileSize: 8, ...RUN });
  try {
    const enc = await tiled.encodeRaw(image, [1, 3, H, W]);
    assert.deepEqual(enc.shape, [1, 4, 13, 14]);
    assert.deepEqual(enc.run.maxGrid, [5, 5], 'the 104×112 image runs as 5×5 tiles of ≤ 24 px');
    const dec = await tiled.decodeRaw(latent, [1, 4, h, w]);
    assert.deepEqual(dec.shape, [1, 3, 200, 200]);
    assert.deepEqual(dec.run.maxGrid, [4, 4]);

    const ref = await untiledEncode(gn32, image, H, W);
    const refImage = await untiledDecode(gn32, latent, h, w);
    const vsFixture = (got: Float32Array, out: string) => {
      const flawed = fx.meta.tensors.find((x) => x.name === out)!.max_abs_vs_untiled as number;
      const d = maxAbsDiff(got, fx.file.readF32(out));
      // We reproduce the untiled VAE, so we sit as far from vaehook's result as the untiled one does.
      assert.ok(Math.abs(d - flawed) < 1e-4, `${out}: |ours − original tiled| = ${d}, original untiled − tiled = ${flawed}`);
      t.diagnostic(`${out}: |ours − original tiled| ${d.toFixed(6)} (manifest max_abs_vs_untiled ${flawed.toFixed(6)})`);
    };
    for (const [got, want, what] of [[enc.mean, ref.mean, 'posterior mean'], [enc.logvar, ref.logvar, 'posterior logvar'], [dec.image, refImage, 'decoded']] as const) {
      const d = maxAbsDiff(got, want);
      assert.ok(d <= TOL, `${what}: tiled vs untiled max abs ${d}`);
      t.diagnostic(`${what}: tiled vs untiled max abs ${d.toExponential(2)}`);
    }
    vsFixture(enc.mean, 'output.posterior_mean');
    vsFixture(dec.image, 'output.decoded');
  } finally {
    await tiled.release();
  }
});

test('vae (8 groups), odd sizes: encode 77×93 image, decode 13×19 latent with maps spilled to files and blockwise attention', async (t) => {
  // A budget of 64 KiB spills maps to files and splits the attention's 247 keys into bands.
  const tiled = new TiledVae(vae, { encoderTileSize: 20, decoderTileSize: 5, memoryBudgetBytes: 1 << 16, ...RUN });
  try {
    const image = noise(3 * 77 * 93, 1, 1);
    const enc = await tiled.encodeRaw(image, [1, 3, 77, 93]);
    assert.deepEqual(enc.shape, [1, 4, 9, 11]);
    assert.equal(enc.run.spilled, true);
    const want = await untiledEncode(vae, image, 77, 93);
    const dMean = maxAbsDiff(enc.mean, want.mean), dLogvar = maxAbsDiff(enc.logvar, want.logvar);
    assert.ok(dMean <= TOL && dLogvar <= TOL, `encode: mean ${dMean}, logvar ${dLogvar}`);

    const latents = noise(4 * 13 * 19, 0.6, 2);
    const dec = await tiled.decodeRaw(latents, [1, 4, 13, 19]);
    assert.deepEqual(dec.shape, [1, 3, 104, 152]);
    const run = dec.run;
    assert.ok(run.spilled && run.attentionChunks[0] > 1 && run.attentionChunks[1] > 1, `chunks ${run.attentionChunks}`);
    const dImage = maxAbsDiff(dec.image, await untiledDecode(vae, latents, 13, 19));
    assert.ok(dImage <= TOL, `decode: ${dImage}`);
    t.diagnostic(`encode mean ${dMean.toExponential(2)}, logvar ${dLogvar.toExponential(2)}; decode ${dImage.toExponential(2)}; attention query chunks × key bands ${run.attentionChunks}`);
  } finally {
    await tiled.release();
  }
});

test('vae, raw decode of a 25×25 latent in 8-latent tiles (4×4 grid, attention whole) = untiled', async (t) => {
  const latent = noise(4 * 25 * 25, 3, 3);
  const tiled = new TiledVae(vae, { decoderTileSize: 8, ...RUN });
  try {
    const got = await tiled.decodeRaw(latent, [1, 4, 25, 25]);
    assert.deepEqual(got.run.attentionChunks, [1, 1]);
    const d = maxAbsDiff(got.image, await untiledDecode(vae, latent, 25, 25));
    assert.ok(d <= TOL, `decoded: ${d}`);
    t.diagnostic(`decoded: tiled vs untiled max abs ${d.toExponential(2)}`);
  } finally {
    await tiled.release();
  }
});

test('an input within one tile runs the untiled graph: the same numbers', async () => {
  const tiled = new TiledVae(vae, RUN);
  try {
    const image = noise(3 * 40 * 56, 1, 4), latents = noise(4 * 5 * 7, 0.6, 5);
    const enc = await tiled.encodeRaw(image, [1, 3, 40, 56]);
    assert.equal(enc.run.tiles, 1);
    assert.equal(maxAbsDiff(enc.mean, (await untiledEncode(vae, image, 40, 56)).mean), 0);
    const dec = await tiled.decodeRaw(latents, [1, 4, 5, 7]);
    assert.equal(dec.run.tiles, 1);
    assert.equal(maxAbsDiff(dec.image, await untiledDecode(vae, latents, 5, 7)), 0);
  } finally {
    await tiled.release();
  }
});

test('bad options and inputs are InputErrors naming the argument', async () => {
  assert.throws(() => new TiledVae(vae, { decoderTileSize: 0 }), (e: unknown) => e instanceof InputError && /decoderTileSize must be a positive integer/.test(e.message));
  const tiled = new TiledVae(vae, RUN);
  await assert.rejects(tiled.decode(new Float32Array(4 * 8 * 8), [1, 3, 8, 8]), (e: unknown) => e instanceof InputError && /decode: shape must be \[1, 4, H, W\]/.test(e.message));
  await assert.rejects(tiled.encode(new Float32Array(10), [1, 3, 8, 8]), (e: unknown) => e instanceof InputError && /10 values do not match shape/.test(e.message));
});
