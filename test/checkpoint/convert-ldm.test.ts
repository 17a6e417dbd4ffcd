/**
 * LDM single-file ↔ diffusers key tables: the fixture case `checkpoint_convert_ldm_blend`
 * through the parity runner's `checkpoint_convert` handler (key map of diffusers 0.29.2
 * `convert_ldm_*_checkpoint` for UNet, VAE and text encoder, and the UNet blend), the inverse
 * direction, known SD1.5 anchors, and a round trip diffusers → LDM → diffusers over a single
 * file this test writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { diffusersToLdm, ldmToDiffusers, textEncoderKeyTable, unetKeyTable, vaeKeyTable } from '../../src/checkpoint/ldm-keys.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { UnsupportedError } from '../../src/core/errors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, tempDir } from './helpers.ts';

const model = (name: string) => join(FIXTURES, 'models', name);
const unetLayout = parseUNetConfig(JSON.parse(readFileSync(join(model('pasd_unet'), 'config.json'), 'utf8')));
const vaeLayout = parseVaeConfig(JSON.parse(readFileSync(join(model('vae'), 'config.json'), 'utf8')));
const keymap = JSON.parse(readFileSync(resolve(FIXTURES, 'cases/convert_ldm_keymap.json'), 'utf8')) as Record<string, [string, string, string, number[]][]>;
const tables = { unet: unetKeyTable(unetLayout), vae: vaeKeyTable(vaeLayout), text_encoder: textEncoderKeyTable() };

const fixtures = FixtureSet.open(FIXTURES);
const blendCase = fixtures.cases.find((c) => c.group === 'checkpoint_convert' && typeof c.single_file_checkpoint === 'string')!;

test('every fixture LDM key converts as the key map says, and the UNet blend matches the original', async (t) => {
  const rows = await runCase(fixtures, blendCase);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('the case fails when the conversion disagrees with the key map', async () => {
  const rows = await runCase(fixtures, { ...blendCase, ldm_keys_not_used: [] });
  assert.ok(rows.length > 0 && rows.every((r) => r.status === 'fail' && /position_ids/.test(r.note ?? '')));
});

test('diffusers → LDM inverts the key map (VAE attention Linear back to a 1×1 conv); PASD-only layers have no LDM key', () => {
  const file = openSafetensors(resolve(FIXTURES, 'cases/convert_ldm_single_file.safetensors'));
  for (const [name, table] of Object.entries(tables))
    for (const [diffusers, ldm, , shape] of keymap[name]) assert.deepEqual(diffusersToLdm(table, diffusers, shape), { ldm, shape: file.tensors.get(ldm)!.shape }, diffusers);
  assert.equal(tables.unet.toLdm('up_blocks.1.pixel_attentions.0.proj_in.weight'), null);
  assert.equal(tables.unet.toLdm('up_blocks.1.attentions.0.proj_in.weight'), 'model.diffusion_model.output_blocks.3.1.proj_in.weight');
});

test('SD1.5 layout anchors (diffusers scripts/convert_diffusers_to_original_stable_diffusion.py)', () => {
  const sd15 = unetKeyTable(parseUNetConfig({}));
  const cases: [string, string][] = [
    ['down_blocks.1.downsamplers.0.conv.weight', 'input_blocks.6.0.op.weight'],
    ['down_blocks.3.resnets.1.conv2.bias', 'input_blocks.11.0.out_layers.3.bias'],
    ['down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight', 'input_blocks.8.1.transformer_blocks.0.attn2.to_k.weight'],
    ['up_blocks.0.upsamplers.0.conv.weight', 'output_blocks.2.1.conv.weight'],
    ['up_blocks.1.upsamplers.0.conv.bias', 'output_blocks.5.2.conv.bias'],
    ['up_blocks.3.attentions.2.proj_out.weight', 'output_blocks.11.1.proj_out.weight'],
    ['up_blocks.2.resnets.0.conv_shortcut.weight', 'output_blocks.6.0.skip_connection.weight'],
    ['mid_block.resnets.1.time_emb_proj.weight', 'middle_block.2.emb_layers.1.weight'],
  ];
  for (const [d, l] of cases) {
    assert.equal(sd15.toLdm(d), `model.diffusion_model.${l}`);
    assert.equal(sd15.toDiffusers(`model.diffusion_model.${l}`), d);
  }
  const vae = vaeKeyTable({ blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2 });
  assert.equal(vae.toLdm('decoder.up_blocks.0.upsamplers.0.conv.weight'), 'first_stage_model.decoder.up.3.upsample.conv.weight');
  assert.equal(vae.toLdm('decoder.up_blocks.3.resnets.2.conv_shortcut.bias'), 'first_stage_model.decoder.up.0.block.2.nin_shortcut.bias');
  assert.equal(vae.toLdm('encoder.mid_block.attentions.0.group_norm.weight'), 'first_stage_model.encoder.mid.attn_1.norm.weight');
  assert.equal(vae.toLdm('encoder.down_blocks.3.downsamplers.0.conv.weight'), null, 'the last encoder block has no downsampler');
});

test('a UNet whose blocks have different layer counts has no LDM layout', () => {
  assert.throws(() => unetKeyTable({ ...unetLayout, layersPerBlock: [2, 1, 2, 2] }), UnsupportedError);
});

test('round trip diffusers → LDM single file → diffusers keeps every key, shape and byte', () => {
  const { dir, cleanup } = tempDir();
  try {
    const sources = [[model('pasd_unet'), tables.unet], [model('vae'), tables.vae], [model('text_encoder'), tables.text_encoder]] as const;
    const originals = new Map<string, { table: string; data: TensorToWrite['data']; shape: number[] }>();
    const ldm: TensorToWrite[] = [];
    for (const [folderPath, table] of sources) {
      const folder = loadModelFolder(folderPath);
      for (const [key, { file, entry }] of folder.tensors) {
        const to = diffusersToLdm(table, key, entry.shape);
        if (!to) continue; // PASD-only layers
        const data = file.read(key);
        originals.set(to.ldm, { table: table.prefix, data, shape: [...entry.shape] });
        ldm.push({ name: to.ldm, dtype: entry.dtype, shape: to.shape, data });
        if (table === tables.vae && key.endsWith('attentions.0.to_q.weight')) assert.equal(to.shape.length, 4, 'VAE attention weights are 1×1 convs in LDM');
      }
    }
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, ldm);
    const back = openSafetensors(path);
    let n = 0;
    for (const table of Object.values(tables)) {
      const { mappings, unmatched } = ldmToDiffusers(table, back.tensors);
      assert.deepEqual(unmatched, []);
      for (const m of mappings) {
        const orig = originals.get(m.ldm)!;
        assert.equal(orig.table, table.prefix);
        assert.deepEqual(m.shape, orig.shape, m.diffusers);
        assert.equal(diffusersToLdm(table, m.diffusers, m.shape)!.ldm, m.ldm);
        assert.deepEqual(back.read(m.ldm), orig.data, m.diffusers);
        n++;
      }
    }
    assert.equal(n, originals.size);
    assert.equal(n, keymap.unet.length + keymap.vae.length + keymap.text_encoder.length);
  } finally {
    cleanup();
  }
});
