import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { CheckpointError, ConfigError } from '../../src/core/errors.ts';
import { FIXTURES, tempDir } from './helpers.ts';

const MODELS = join(FIXTURES, 'models');

test('fixture folders: config, weight file and every tensor', () => {
  const cases: [string, string, string, number[]][] = [
    ['pasd_unet', 'diffusion_pytorch_model.safetensors', 'conv_in.weight', [16, 4, 3, 3]],
    ['text_encoder', 'model.safetensors', 'text_model.embeddings.token_embedding.weight', [49408, 32]],
    ['vae_gn32', 'diffusion_pytorch_model.safetensors', 'decoder.conv_in.weight', [32, 4, 3, 3]],
  ];
  for (const [name, file, key, shape] of cases) {
    const f = loadModelFolder(join(MODELS, name));
    assert.deepEqual(f.weightFiles.map((w) => basename(w.path)), [file]);
    const st = openSafetensors(join(MODELS, name, file));
    assert.equal(f.tensors.size, st.tensors.size);
    const t = f.tensors.get(key)!;
    assert.deepEqual(t.entry.shape, shape);
    assert.deepEqual(f.readF32(key), st.readF32(key));
  }
  assert.deepEqual(loadModelFolder(join(MODELS, 'pasd_unet')).config.block_out_channels, [16, 32, 32, 32]);
  assert.equal(loadModelFolder(join(MODELS, 'text_encoder')).config.hidden_act, 'quick_gelu');
  const vae = loadModelFolder(join(MODELS, 'vae_gn32'));
  assert.equal(vae.config.norm_num_groups, 32);
  assert.equal(vae.tensors.get('decoder.conv_in.weight')!.entry.dtype, 'float16');
});

/** The text_encoder fixture's tensors, for rewriting in other layouts. */
function textEncoderTensors(): TensorToWrite[] {
  const st = openSafetensors(join(MODELS, 'text_encoder/model.safetensors'));
  return [...st.tensors.values()].map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, data: st.read(e.name) }));
}

/** Writes `tensors` split in two shards plus an index; returns the weight_map. */
function writeSharded(dir: string, tensors: TensorToWrite[], kind: 'safetensors' | 'bin'): Record<string, string> {
  copyFileSync(join(MODELS, 'text_encoder/config.json'), join(dir, 'config.json'));
  const half = Math.ceil(tensors.length / 2);
  const shards = [tensors.slice(0, half), tensors.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    const name = kind === 'bin' ? `pytorch_model-0000${i + 1}-of-00002.bin` : `model-0000${i + 1}-of-00002.safetensors`;
    if (kind === 'bin') writeTorchZip(join(dir, name), s);
    else writeSafetensors(join(dir, name), s);
    for (const t of s) weightMap[t.name] = name;
  });
  const index = kind === 'bin' ? 'pytorch_model.bin.index.json' : 'model.safetensors.index.json';
  writeFileSync(join(dir, index), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return weightMap;
}

for (const kind of ['safetensors', 'bin'] as const) {
  test(`sharded ${kind} folder merges its shards into one map`, () => {
    const { dir, cleanup } = tempDir();
    try {
      const tensors = textEncoderTensors();
      const map = writeSharded(dir, tensors, kind);
      const f = loadModelFolder(dir);
      assert.equal(f.weightFiles.length, 2);
      assert.equal(f.tensors.size, tensors.length);
      for (const t of tensors) {
        const got = f.tensors.get(t.name)!;
        assert.equal(basename(got.file.path), map[t.name]);
        assert.deepEqual(got.file.read(t.name), t.data);
      }
      assert.equal(f.weightFiles[0].format, kind === 'bin' ? 'torch-zip' : 'safetensors');
    } finally {
      cleanup();
    }
  });
}

test('weight_map entries must be existing plain shard files of the index kind', () => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors = textEncoderTensors().slice(0, 4);
    const map = writeSharded(dir, tensors, 'safetensors');
    const [k0, k1] = Object.keys(map);
    const index = join(dir, 'model.safetensors.index.json');
    const withShard = (shard: unknown, key = k0) => writeFileSync(index, JSON.stringify({ weight_map: { ...map, [key]: shard } }));
    const bad: [unknown, RegExp][] = [
      ['../model-00001-of-00002.safetensors', /must be a plain \.safetensors file name inside the folder/],
      ['/etc/passwd.safetensors', /must be a plain/],
      ['sub/model.safetensors', /must be a plain/],
      ['..\\model.safetensors', /must be a plain/],
      ['pytorch_model.bin', /must be a plain \.safetensors file name/],
      [7, /must be a plain/],
      ['model-00009-of-00009.safetensors', /shard "model-00009-of-00009\.safetensors" does not exist/],
    ];
    for (const [shard, msg] of bad) {
      withShard(shard);
      assert.throws(() => loadModelFolder(dir), (e: unknown) => e instanceof CheckpointError && msg.test(e.message), String(shard));
    }
    withShard(map[k0] === map[k1] ? 'model-00002-of-00002.safetensors' : map[k1]);
    assert.throws(() => loadModelFolder(dir), /is mapped to .* but is in/);
    writeFileSync(index, JSON.stringify({ weight_map: { ...map, 'not.in.any.shard': map[k0] } }));
    assert.throws(() => loadModelFolder(dir), /tensor "not\.in\.any\.shard" is mapped to .* but no shard holds it/);
    writeFileSync(index, JSON.stringify({ weight_map: [] }));
    assert.throws(() => loadModelFolder(dir), /"weight_map" must be an object/);
    // the same tensor in two shards
    writeFileSync(index, JSON.stringify({ weight_map: map }));
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), tensors);
    assert.throws(() => loadModelFolder(dir), /tensor ".*" is in both/);
  } finally {
    cleanup();
  }
});

test('file choice: safetensors before .bin, variants, missing config or weights', () => {
  const { dir, cleanup } = tempDir();
  try {
    const t = textEncoderTensors().slice(0, 2);
    assert.throws(() => loadModelFolder(dir), ConfigError);
    writeFileSync(join(dir, 'config.json'), '{"a": 1');
    assert.throws(() => loadModelFolder(dir), (e: unknown) => e instanceof ConfigError && /cannot read config\.json/.test(e.message));
    writeFileSync(join(dir, 'config.json'), '{"a": 1}');
    assert.throws(() => loadModelFolder(dir), /no weights found; expected one of diffusion_pytorch_model\.safetensors/);
    writeTorchZip(join(dir, 'diffusion_pytorch_model.bin'), t);
    assert.equal(loadModelFolder(dir).weightFiles[0].format, 'torch-zip');
    writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), t);
    assert.equal(loadModelFolder(dir).weightFiles[0].format, 'safetensors');
    writeSafetensors(join(dir, 'diffusion_pytorch_model.fp16.safetensors'), t.slice(0, 1));
    assert.equal(loadModelFolder(dir, { variant: 'fp16' }).tensors.size, 1);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'config.json'), '{}');
    writeFileSync(join(dir, 'sub', 'model.safetensors'), 'garbage');
    assert.throws(() => loadModelFolder(join(dir, 'sub')), CheckpointError);
  } finally {
    cleanup();
  }
});
