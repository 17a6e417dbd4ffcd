/**
 * Personalized models on weight maps: the fixture blend (`checkpoint_convert_ldm_blend`) and
 * LoRA merge (`checkpoint_convert_lora`) through `personalize`, the cache file, in-place
 * references, a `.ckpt` single file and a `unet` folder written by the tests, and the errors.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { diffusersToLdm, unetKeyTable, vaeKeyTable, textEncoderKeyTable } from '../../src/checkpoint/ldm-keys.ts';
import { bytesToHostArray, readEntryBytes, toFloat32 } from '../../src/checkpoint/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { ConfigError, StateDictError } from '../../src/core/errors.ts';
import { storedTensor } from '../../src/engine/weights.ts';
import type { StoredTensor } from '../../src/nn/module.ts';
import { type PersonalizeBase, classifyPersonalizedModel, personalize } from '../../src/pipelines/personalize.ts';
import { tempDir } from '../checkpoint/helpers.ts';
import { FIXTURES, assertClose, fixtureCase, modelDir } from '../parity/fixtures.ts';

const folder = (name: string) => loadModelFolder(modelDir(name));
const weightsOf = (f: ReturnType<typeof loadModelFolder>) => new Map([...f.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
const unetF = folder('pasd_unet'), vaeF = folder('vae'), teF = folder('text_encoder');
const unetLayout = parseUNetConfig(unetF.config);
const vaeLayout = parseVaeConfig(vaeF.config);

function base(withTe = false): PersonalizeBase {
  return {
    unet: { weights: weightsOf(unetF), layout: unetLayout },
    vae: { weights: weightsOf(vaeF), layout: vaeLayout },
    textEncoder: withTe ? { weights: weightsOf(teF) } : null,
  };
}

function valuesOf(t: StoredTensor): Float32Array {
  const s = t.source;
  assert.equal(s.kind, 'file');
  if (s.kind !== 'file') throw new Error('unreachable');
  return toFloat32(bytesToHostArray(readEntryBytes(s.path, { name: 'x', dtype: s.dtype, shape: t.shape, offset: s.offset, byteLength: s.byteLength }), s.dtype), s.dtype);
}
const pathOf = (t: StoredTensor) => (t.source.kind === 'file' ? t.source.path : 'host');

const blend = fixtureCase('checkpoint_convert_ldm_blend');
const singleFile = resolve(FIXTURES, blend.meta.single_file_checkpoint as string);
const alpha = (blend.meta.settings as { blending_alpha: number }).blending_alpha;

test('fixture blend: UNet = converted·alpha + pasd·(1−alpha), PASD-only layers kept, VAE replaced in place; cached once', () => {
  const { dir, cleanup } = tempDir();
  try {
    const b = base();
    const out = personalize(b, { singleFile, blendingAlpha: alpha, cacheDir: dir });
    assert.ok(out.cacheFile?.startsWith(dir));
    const keymap = (JSON.parse(readFileSync(resolve(FIXTURES, blend.meta.keymap_file as string), 'utf8')) as Record<string, [string, string, string, number[]][]>);
    // every stored blended tensor, and the per-key sums over all 684 blended keys
    const tol = blend.tol('output.unet_blended.<key>');
    for (const name of blend.file.tensors.keys()) {
      if (!name.startsWith('output.unet_blended.')) continue;
      const key = name.slice('output.unet_blended.'.length);
      assertClose(valuesOf(out.unet.get(key)!), blend.file.readF32(name), tol, key);
      assert.equal(pathOf(out.unet.get(key)!), out.cacheFile);
    }
    const sums = keymap.unet.map(([key]) => valuesOf(out.unet.get(key)!).reduce((s, v) => s + v, 0));
    assertClose(sums, blend.file.readF32('output.unet_blended_sum_per_key'), blend.tol('output.unet_blended_sum_per_key'), 'sums');
    const converted = new Set(keymap.unet.map(([k]) => k));
    const kept = [...b.unet.weights.keys()].filter((k) => !converted.has(k));
    assert.equal(kept.length, (blend.meta.counts as Record<string, number>).pasd_only_unet_keys_left_unchanged);
    for (const k of kept) assert.equal(out.unet.get(k), b.unet.weights.get(k), `${k} is the same reference`);
    // VAE: every tensor points into the single file; attention weights are the [:, :, 0, 0] view
    for (const [key, ldm, view, shape] of keymap.vae) {
      const t = out.vae!.get(key)!;
      assert.equal(pathOf(t), singleFile);
      assert.deepEqual(t.shape, shape);
      if (view !== 'identity') assert.equal(t.source.kind === 'file' && t.source.byteLength, shape[0] * shape[1] * 2, `${key} from ${ldm}`);
    }
    // a second run reuses the cache file
    const mtime = statSync(out.cacheFile!).mtimeMs;
    const again = personalize(b, { singleFile, blendingAlpha: alpha, cacheDir: dir });
    assert.equal(again.cacheFile, out.cacheFile);
    assert.equal(statSync(out.cacheFile!).mtimeMs, mtime);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length, 1);
  } finally {
    cleanup();
  }
});

test('alpha 1 keeps every converted UNet tensor in the single file (F16, no cache file); alpha 0 keeps ours', () => {
  const { dir, cleanup } = tempDir();
  try {
    const b = base();
    const one = personalize(b, { singleFile, cacheDir: dir });
    assert.equal(one.cacheFile, null);
    const t = one.unet.get('conv_in.weight')!;
    assert.equal(pathOf(t), singleFile);
    assert.equal(t.source.dtype, 'float16');
    const zero = personalize(b, { singleFile, blendingAlpha: 0, cacheDir: dir });
    assert.equal(zero.cacheFile, null);
    assert.equal(zero.unet.get('conv_in.weight'), b.unet.weights.get('conv_in.weight'));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

test('PASD-light: the pixel-aware layers inside its transformer blocks are kept, the rest converted', () => {
  const light = folder('pasd_light_unet');
  const weights = weightsOf(light);
  const out = personalize({ unet: { weights, layout: parseUNetConfig(light.config) } }, { singleFile });
  const kept = [...weights.keys()].filter((k) => out.unet.get(k) === weights.get(k));
  assert.equal(kept.length, 81);
  assert.ok(kept.every((k) => /_plus\./.test(k)), kept.join(', '));
  assert.equal(pathOf(out.unet.get('up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q.weight')!), singleFile);
});

test("a text encoder that does not fit the checkpoint's is refused naming the key and both shapes", () => {
  assert.throws(() => personalize(base(true), { singleFile, cacheDir: '/nonexistent' }),
    (e: Error) => e instanceof StateDictError && /token_embedding\.weight: model \[49408,32\], file \[1000,32\]/.test(e.message));
});

test('fixture LoRA through personalize: compat mode equals the fixture, default mode applies alpha/rank', () => {
  const { dir, cleanup } = tempDir();
  try {
    const lfx = fixtureCase('checkpoint_convert_lora');
    const lora = resolve(FIXTURES, lfx.meta.lora_file as string);
    const multiplier = (lfx.meta.settings as { multiplier: number }).multiplier;
    const tol = lfx.tol('output.merged.<unet|text_encoder>.<module>.weight');
    const b = base(true);
    const compat = personalize(b, { lora, multiplier, loraAlphaCompat: 'original', cacheDir: dir });
    const scaled = personalize(b, { lora, multiplier, cacheDir: dir });
    assert.notEqual(compat.cacheFile, scaled.cacheFile);
    let n = 0;
    for (const name of lfx.file.tensors.keys()) {
      const [, , comp, ...rest] = name.split('.');
      const key = rest.join('.');
      const map = comp === 'unet' ? 'unet' : 'textEncoder';
      const want = lfx.file.readF32(name);
      assertClose(valuesOf(compat[map]!.get(key)!), want, tol, name);
      const orig = valuesOf(b[map]!.weights.get(key)!);
      assertClose(valuesOf(scaled[map]!.get(key)!), orig.map((w, i) => w + 0.5 * (want[i] - w)), tol, name);
      n++;
    }
    assert.equal(n, 48);
    assert.equal(compat.vae!.get('decoder.conv_in.weight'), b.vae!.weights.get('decoder.conv_in.weight'));
    assert.equal(compat.unet.get('conv_in.weight'), b.unet.weights.get('conv_in.weight'));
  } finally {
    cleanup();
  }
});

/** The fixture models' diffusers tensors written under LDM keys (what a community checkpoint holds). */
function ldmTensors(): TensorToWrite[] {
  const out: TensorToWrite[] = [];
  for (const [f, table] of [[unetF, unetKeyTable(unetLayout)], [vaeF, vaeKeyTable(vaeLayout)], [teF, textEncoderKeyTable()]] as const)
    for (const [key, { file, entry }] of f.tensors) {
      const to = diffusersToLdm(table, key, entry.shape);
      if (to) out.push({ name: to.ldm, dtype: entry.dtype, shape: to.shape, data: file.read(key) });
    }
  return out;
}

test('a .ckpt single file (torch zip) converts back to the same weights: diffusers → LDM → diffusers', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'model.ckpt');
    writeTorchZip(path, ldmTensors());
    assert.equal(classifyPersonalizedModel(path), 'singleFile');
    const b = base(true);
    const out = personalize(b, { singleFile: path, cacheDir: dir });
    for (const comp of ['unet', 'vae', 'textEncoder'] as const) {
      for (const [key, t] of b[comp]!.weights) {
        const got = out[comp]!.get(key)!;
        const pasdOnly = key.includes('pixel_attentions');
        assert.equal(pathOf(got), pasdOnly ? pathOf(t) : path, key);
        assert.deepEqual(got.shape, t.shape, key);
        assert.deepEqual(valuesOf(got), valuesOf(t), key);
      }
    }
  } finally {
    cleanup();
  }
});

test('a diffusers unet folder replaces the base UNet weights and keeps the PASD-only layers', () => {
  const { dir, cleanup } = tempDir();
  try {
    const unetDir = join(dir, 'unet_style');
    mkdirSync(unetDir);
    cpSync(join(modelDir('pasd_unet'), 'config.json'), join(unetDir, 'config.json'));
    const plain = [...unetF.tensors].filter(([k]) => !k.includes('pixel_attentions'));
    const tensors: TensorToWrite[] = plain.map(([k]) => ({ name: k, dtype: 'float32', shape: unetF.tensors.get(k)!.entry.shape, data: unetF.readF32(k).map((v) => -v) }));
    writeSafetensors(join(unetDir, 'diffusion_pytorch_model.safetensors'), tensors);
    assert.equal(classifyPersonalizedModel(unetDir), 'unetFolder');
    const b = base();
    const out = personalize(b, { unetFolder: unetDir, cacheDir: dir });
    assert.equal(out.cacheFile, null);
    for (const [k, t] of b.unet.weights) {
      if (k.includes('pixel_attentions')) assert.equal(out.unet.get(k), t);
      else assert.deepEqual(valuesOf(out.unet.get(k)!), valuesOf(t).map((v) => -v), k);
    }
    writeSafetensors(join(unetDir, 'diffusion_pytorch_model.safetensors'), tensors.filter((t) => t.name !== 'conv_out.bias'));
    assert.throws(() => personalize(b, { unetFolder: unetDir, cacheDir: dir }), (e: Error) => e instanceof StateDictError && /missing keys \(1\): conv_out\.bias/.test(e.message));
  } finally {
    cleanup();
  }
});

test('wrong inputs are refused by name', () => {
  const lora = resolve(FIXTURES, 'cases/convert_lora_kohya.safetensors');
  assert.equal(classifyPersonalizedModel(lora), 'lora');
  assert.throws(() => personalize(base(), { singleFile: lora }), (e: Error) => e instanceof ConfigError && /is a LoRA/.test(e.message));
  assert.throws(() => personalize(base(), { singleFile, unetFolder: modelDir('pasd_unet') }), ConfigError);
  assert.throws(() => personalize(base(), { singleFile, blendingAlpha: Number.NaN }), /blendingAlpha/);
  const { dir, cleanup } = tempDir();
  try {
    const bad = join(dir, 'sd2.safetensors');
    writeSafetensors(bad, ldmTensors().map((t) => (t.name === 'model.diffusion_model.input_blocks.0.0.weight' ? { ...t, shape: [t.shape[0], t.shape[1] * 3, 3, 1] } : t)));
    assert.throws(() => personalize(base(), { singleFile: bad, cacheDir: dir }), (e: Error) => e instanceof StateDictError && /conv_in\.weight: model \[16,4,3,3\], file \[16,12,3,1\]/.test(e.message));
    writeFileSync(join(dir, 'empty.safetensors'), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
    assert.throws(() => personalize(base(), { singleFile: join(dir, 'empty.safetensors'), cacheDir: dir }), /has no UNet weights/);
  } finally {
    cleanup();
  }
});
