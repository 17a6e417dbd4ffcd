/**
 * AutoencoderKL against the `vae` fixture group (posterior mean/logvar/std/sample, scaled
 * latent, both decodes, each within the manifest's tolerance), key parity of `vae` and
 * `vae_gn32`, state-dict error reporting, and the F16-stored `vae_gn32` run in float32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { ConfigError, ShapeError, StateDictError } from '../../src/core/errors.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensor, storedTensors } from '../../src/engine/weights.ts';
import { AutoencoderKL, traceVaeDecode, traceVaeEncode, vaeScaleFactor } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { Graph } from '../../src/ir/graph.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, fixtureCase, maxAbsDiff, modelDir } from '../parity/fixtures.ts';

function buildVae(name: string) {
  const folder = loadModelFolder(modelDir(name));
  return { folder, vae: new AutoencoderKL(parseVaeConfig(folder.config, `${name}/config.json`)).nameTree() };
}

function loadVae(name: string): AutoencoderKL {
  const { folder, vae } = buildVae(name);
  vae.loadWeights(storedTensors(...folder.weightFiles), { what: name });
  return vae;
}

/** Encodes `image` [1, C, H, W] and decodes each latent with one compiled graph per direction. */
async function runVae(vae: AutoencoderKL, image: { shape: readonly number[]; data: Float32Array }, decodeLatents: (p: { mean: Float32Array; logvar: Float32Array }) => Float32Array[], latentShape: readonly number[]) {
  const [b, , h, w] = image.shape;
  const enc = await compileGraph(traceVaeEncode(vae, { batch: b, height: h, width: w }), { cache: false, threads: 2 });
  const dec = await compileGraph(traceVaeDecode(vae, { batch: latentShape[0], height: latentShape[2], width: latentShape[3] }), { cache: false, threads: 2 });
  try {
    const e = await enc.run({ image: { dtype: 'float32', ...image } });
    const posterior = { mean: e.mean.data as Float32Array, logvar: e.logvar.data as Float32Array };
    assert.deepEqual([...e.mean.shape], [b, vae.config.latentChannels, Math.ceil(h / 8), Math.ceil(w / 8)]);
    const decoded: Float32Array[] = [];
    for (const z of decodeLatents(posterior)) decoded.push((await dec.run({ latent: { dtype: 'float32', shape: latentShape, data: z } })).image.data as Float32Array);
    return { posterior, decoded };
  } finally {
    await enc.release();
    await dec.release();
  }
}

for (const name of ['vae', 'vae_gn32']) {
  test(`key parity: ${name} state dict = AutoencoderKL built from its config.json`, () => {
    const { folder, vae } = buildVae(name);
    const want = new Map([...folder.tensors].map(([k, t]) => [k, [...t.entry.shape]]));
    const got = new Map([...vae.stateShapes()].map(([k, s]) => [k, [...s]]));
    assert.deepEqual(got, want);
    assert.ok(got.has('encoder.mid_block.attentions.0.to_q.weight') && got.has('decoder.up_blocks.0.upsamplers.0.conv.weight'));
  });
}

test('loading reports a missing and a mis-shaped VAE key, naming both shapes', () => {
  const { folder, vae } = buildVae('vae');
  const weights = new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
  weights.delete('decoder.up_blocks.0.upsamplers.0.conv.weight');
  weights.set('encoder.mid_block.attentions.0.to_q.weight', { ...weights.get('encoder.mid_block.attentions.0.to_q.weight')!, shape: [32, 16] });
  assert.throws(() => vae.loadWeights(weights, { what: 'vae' }), (e: unknown) =>
    e instanceof StateDictError &&
    /missing keys \(1\): decoder\.up_blocks\.0\.upsamplers\.0\.conv\.weight/.test(e.message) &&
    /encoder\.mid_block\.attentions\.0\.to_q\.weight: expected \[32,32\], found \[32,16\] in .*diffusion_pytorch_model\.safetensors/.test(e.message));
});

const vae = loadVae('vae');
const fixtures = FixtureSet.open(FIXTURES);
for (const c of fixtures.cases.filter((x) => x.group === 'vae')) {
  test(`${c.name}: posterior, sample, scaled latent and both decodes within tolerance (runner's vae handler)`, async (t) => {
    const rows = await runCase(fixtures, c, { threads: 2 });
    assert.deepEqual(notPassing(rows), []);
    t.diagnostic(describeWorst(rows));
  });
}

test('vae_gn32 (F16-stored weights) runs in float32 and reproduces the original untiled result', async (t) => {
  // The only vae_gn32 outputs are PASD's tiled ones; the manifest records how far each is from
  // the original's untiled VAE (max_abs_vs_untiled). Our untiled result must sit exactly that far.
  const gn32 = loadVae('vae_gn32');
  assert.equal(vaeScaleFactor(gn32.config), 8);
  const fx = fixtureCase('pipeline_tiled_vae');
  const vsUntiled = (out: string) => fx.meta.tensors.find((t) => t.name === out)!.max_abs_vs_untiled as number;
  const latentShape = fx.file.tensors.get('input.latent')!.shape;
  const { posterior, decoded } = await runVae(gn32, { shape: fx.file.tensors.get('input.image')!.shape, data: fx.file.readF32('input.image') },
    () => [fx.file.readF32('input.latent')], latentShape);
  for (const [got, out] of [[posterior.mean, 'output.posterior_mean'], [decoded[0], 'output.decoded']] as const) {
    const d = maxAbsDiff(got, fx.file.readF32(out));
    assert.ok(Math.abs(d - vsUntiled(out)) < 3e-5, `${out}: |ours − tiled| = ${d}, original untiled vs tiled = ${vsUntiled(out)}`);
    t.diagnostic(`${out}: |ours − tiled| ${d} vs original untiled − tiled ${vsUntiled(out)}`);
  }
});

test('encode / decode name the expected input shape', () => {
  const g = new Graph('bad');
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [1, 4, 16, 16] }));
  assert.throws(() => vae.encode(x), (e: unknown) => e instanceof ShapeError && /AutoencoderKL\.encode: image must be \[B, 3, H, W\], got \[1,4,16,16\]/.test(e.message));
  const y = new Tensor(g, g.addInput('y', { dtype: 'float32', shape: [1, 3, 16, 16] }));
  assert.throws(() => vae.decode(y), (e: unknown) => e instanceof ShapeError && /decode: latent must be \[B, 4, H, W\]/.test(e.message));
});

test('config: diffusers defaults, and unsupported values throw naming the key', () => {
  const warnings: string[] = [];
  const c = parseVaeConfig({ force_upcast: false, shift_factor: null, new_key: 1 }, 'cfg', (m) => warnings.push(m));
  assert.deepEqual([c.blockOutChannels, c.layersPerBlock, c.normNumGroups, c.latentChannels, c.scalingFactor, c.shiftFactor], [[64], 1, 32, 4, 0.18215, null]);
  assert.deepEqual(warnings, ['cfg: ignoring unknown config keys: new_key']);
  const bad = (raw: Record<string, unknown>, re: RegExp) => assert.throws(() => parseVaeConfig(raw), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  bad({ down_block_types: ['AttnDownEncoderBlock2D'] }, /"down_block_types" entry "AttnDownEncoderBlock2D" is not supported/);
  bad({ block_out_channels: [32, 64] }, /"down_block_types" has 1 entries but "block_out_channels" has 2/);
  bad({ act_fn: 'relu' }, /"act_fn" = "relu" is not supported/);
  bad({ block_out_channels: [48], norm_num_groups: 32 }, /"norm_num_groups" = 32 does not divide block channel count 48/);
  // mid_block_add_attention false: diffusers keeps both mid resnets and no attention weights.
  const keys = [...new AutoencoderKL(parseVaeConfig({ mid_block_add_attention: false, use_quant_conv: false })).nameTree().stateShapes().keys()];
  assert.ok(!keys.some((k) => k.includes('attentions') || k.startsWith('quant_conv')) && keys.includes('decoder.mid_block.resnets.1.conv2.weight'));
});
