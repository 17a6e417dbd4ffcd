/**
 * LoRA planning and merge: the fixture `checkpoint_convert_lora` (PASD's `convert_lora`, which
 * ignores kohya's alpha) in compat mode through the parity runner's `checkpoint_convert`
 * handler (src/parity/groups/checkpoint-convert.ts), the alpha/rank-scaled default, the
 * getattr-style name walk, diffusers layouts, 3×3 LoCon pairs and the errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { type LoraModule, loraFactor, mergeLoraPair, planLora } from '../../src/checkpoint/lora.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { StateDictError, UnsupportedError } from '../../src/core/errors.ts';
import type { Shape } from '../../src/core/shape.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { assertClose, fixtureCase } from '../parity/fixtures.ts';
import { FIXTURES } from './helpers.ts';

const unet = loadModelFolder(join(FIXTURES, 'models', 'pasd_unet'));
const te = loadModelFolder(join(FIXTURES, 'models', 'text_encoder'));
const fx = fixtureCase('checkpoint_convert_lora');
const lora = openSafetensors(join(FIXTURES, fx.meta.lora_file as string));
const settings = fx.meta.settings as { multiplier: number; rank: number; lora_alpha_in_file: number };
const TOL = fx.tol('output.merged.<unet|text_encoder>.<module>.weight');

const plan = () => planLora(lora.tensors, { unet: unet.tensors.keys(), textEncoder: te.tensors.keys() });

/** The fixture LoRA merged into the fixture models by default (kohya alpha/rank); returns [module, merged] pairs. */
function mergedKohya(): [LoraModule, Float32Array][] {
  return plan().map((m) => {
    const w = (m.target === 'unet' ? unet : te).readF32(m.weightKey);
    const shape = (m.target === 'unet' ? unet : te).tensors.get(m.weightKey)!.entry.shape;
    const factor = loraFactor(settings.multiplier, lora.tensors.get(m.down)!.shape[0], lora.readF32(m.alpha!)[0], 'kohya');
    mergeLoraPair(w, shape, lora.readF32(m.up), lora.tensors.get(m.up)!.shape, lora.readF32(m.down), lora.tensors.get(m.down)!.shape, factor, m.name);
    return [m, w];
  });
}

const outputName = (m: LoraModule) => `output.merged.${m.target === 'unet' ? 'unet' : 'text_encoder'}.${m.weightKey}`;

const fixtures = FixtureSet.open(FIXTURES);
const meta = fixtures.cases.find((c) => c.name === fx.meta.name)!;

test("compat mode 'original' reproduces PASD's merge (alpha ignored), and nothing else changes", async (t) => {
  const rows = await runCase(fixtures, meta);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('the check fails for another multiplier', async () => {
  const rows = await runCase(fixtures, { ...meta, settings: { ...settings, multiplier: settings.multiplier / 2 } });
  assert.ok(rows.length > 0 && rows.every((r) => r.status === 'fail'));
});

test('kohya names resolve to the manifest targets by the getattr walk', () => {
  const targets = fx.meta.targets as { kohya: string; module: string }[];
  const got = plan().map((m): [string, string] => [m.name, `${m.target === 'unet' ? 'unet' : 'text_encoder'}.${m.weightKey.replace(/\.weight$/, '')}`]);
  assert.deepEqual(new Map(got), new Map(targets.map((t) => [t.kohya, t.module])));
  assert.ok(plan().every((m) => m.alpha !== null));
});

test('default mode applies kohya alpha/rank: base + (alpha/rank)·(fixture − base)', () => {
  const scale = settings.lora_alpha_in_file / settings.rank;
  assert.equal(scale, 0.5);
  for (const [m, w] of mergedKohya()) {
    const base = (m.target === 'unet' ? unet : te).readF32(m.weightKey);
    const orig = fx.file.readF32(outputName(m));
    const want = base.map((b, i) => b + scale * (orig[i] - b));
    assertClose(w, want, TOL, m.name);
    // and it is not the unscaled merge
    assert.ok(Math.max(...w.map((x, i) => Math.abs(x - orig[i]))) > 10 * TOL, `${m.name}: scale was not applied`);
  }
});

const shapes = (o: Record<string, Shape>) => new Map(Object.entries(o).map(([k, shape]) => [k, { shape }]));

test('the name walk descends greedily as getattr does, and joins parts with "_" where that dead-ends', () => {
  const targets = ['a_b.c.weight', 'a.x.weight', 'a.b.c.weight', 'time_emb_proj.weight', 'to_out.0.weight', 'p.q_r.weight'];
  const plan2 = (name: string, keys = targets) => planLora(shapes({ [`lora_unet_${name}.lora_up.weight`]: [2, 1], [`lora_unet_${name}.lora_down.weight`]: [1, 2] }), { unet: keys, textEncoder: null });
  assert.equal(plan2('a_b_c')[0].weightKey, 'a.b.c.weight', 'getattr descends into `a` first');
  assert.equal(plan2('p_q_r')[0].weightKey, 'p.q_r.weight');
  assert.equal(plan2('a_b_c', ['a.x.weight', 'a_b.c.weight'])[0].weightKey, 'a_b.c.weight', 'where the greedy walk dead-ends (the original fails)');
  assert.equal(plan2('a_x')[0].weightKey, 'a.x.weight');
  assert.equal(plan2('time_emb_proj')[0].weightKey, 'time_emb_proj.weight');
  assert.equal(plan2('to_out_0')[0].weightKey, 'to_out.0.weight');
  assert.throws(() => plan2('a_y'), (e: Error) => e instanceof StateDictError && /lora_unet_a_y.*matches no layer/.test(e.message));
});

test('diffusers layouts: PEFT lora_A/B, LoRACompatible .lora.up/down, attention processors', () => {
  const unetKeys = ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight'];
  const teKeys = ['text_model.encoder.layers.0.self_attn.q_proj.weight'];
  const p = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1';
  const got = planLora(shapes({
    [`unet.${p}.to_q.lora_A.weight`]: [4, 8], [`unet.${p}.to_q.lora_B.weight`]: [8, 4],
    [`${p}.processor.to_out_lora.down.weight`]: [4, 8], [`${p}.processor.to_out_lora.up.weight`]: [8, 4],
    'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight': [4, 8],
    'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight': [8, 4],
  }), { unet: unetKeys, textEncoder: teKeys });
  assert.deepEqual(got.map((m) => [m.target, m.weightKey, m.up.endsWith('B.weight') || m.up.endsWith('up.weight'), m.down.endsWith('A.weight') || m.down.endsWith('down.weight')]), [
    ['unet', `${p}.to_q.weight`, true, true],
    ['unet', `${p}.to_out.0.weight`, true, true],
    ['textEncoder', teKeys[0], true, true],
  ]);
});

test('unsupported and broken LoRA files are refused naming the tensor', () => {
  const targets = { unet: ['a.weight'], textEncoder: null };
  assert.throws(() => planLora(shapes({ 'lora_unet_a.hada_w1_a': [2, 2] }), targets), (e: Error) => e instanceof UnsupportedError && /hada_w1_a/.test(e.message));
  assert.throws(() => planLora(shapes({ 'lora_unet_a.lora_up.weight': [2, 1] }), targets), (e: Error) => e instanceof StateDictError && /no down weight/.test(e.message));
  assert.throws(() => planLora(shapes({ 'lora_te_a.lora_up.weight': [2, 1], 'lora_te_a.lora_down.weight': [1, 2] }), targets), /no text encoder/);
  assert.throws(() => planLora(shapes({ 'lora_unet_a.lora_up.weight': [2, 1], 'lora_unet_a.lora_down.weight': [2, 2] }), targets), /not a low-rank pair/);
  const w = new Float32Array(6);
  assert.throws(() => mergeLoraPair(w, [3, 2], new Float32Array(2), [2, 1], new Float32Array(2), [1, 2], 1, 'x'), /does not fit the weight \[3,2\]/);
});

test('a 3×3 (LoCon) pair merges as a conv: W[o,c,y,x] += f·Σ_k up[o,k]·down[k,c,y,x]', () => {
  const up = Float32Array.from([1, 2, -1, 0.5]); // [2, 2, 1, 1]
  const down = Float32Array.from({ length: 2 * 3 * 9 }, (_, i) => (i % 7) - 3); // [2, 3, 3, 3]
  const w = Float32Array.from({ length: 2 * 3 * 9 }, (_, i) => i / 10);
  const want = w.map((v, i) => {
    const o = Math.floor(i / 27), c = i % 27;
    return v + 0.25 * (up[o * 2] * down[c] + up[o * 2 + 1] * down[27 + c]);
  });
  mergeLoraPair(w, [2, 3, 3, 3], up, [2, 2, 1, 1], down, [2, 3, 3, 3], 0.25, 'locon');
  assertClose(w, want, 1e-6, 'locon');
  assert.equal(loraFactor(0.6, 4, 2, 'kohya'), 0.3);
  assert.equal(loraFactor(0.6, 4, null, 'kohya'), 0.6);
  assert.equal(loraFactor(0.6, 4, 2, 'original'), 0.6);
});
