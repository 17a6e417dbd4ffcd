/**
 * CLIP text encoder: last_hidden_state against the `clip_text_encoder` fixture within its
 * tolerance, key parity with models/text_encoder/model.safetensors, state-dict and config
 * error reporting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { ConfigError, ShapeError, StateDictError } from '../../src/core/errors.ts';
import { storedTensor } from '../../src/engine/weights.ts';
import { Graph } from '../../src/ir/graph.ts';
import { CLIPTextModel } from '../../src/models/clip/clip-text.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

function buildClip() {
  const folder = loadModelFolder(modelDir('text_encoder'));
  return { folder, model: new CLIPTextModel(parseClipTextConfig(folder.config, 'text_encoder/config.json')).nameTree() };
}

test('key parity: text_encoder state dict = CLIPTextModel built from its config.json', () => {
  const { folder, model } = buildClip();
  const want = new Map([...folder.tensors].map(([k, t]) => [k, [...t.entry.shape]]));
  const got = new Map([...model.stateShapes()].map(([k, s]) => [k, [...s]]));
  assert.deepEqual(got, want);
});

test('clip_text_encoder: last_hidden_state within tolerance (runner\'s text handler)', async (t) => {
  const fixtures = FixtureSet.open(FIXTURES);
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'clip_text_encoder')!, { threads: 2 });
  assert.deepEqual(rows.map((r) => r.output), ['output.last_hidden_state']);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('loading reports a missing and a mis-shaped CLIP key, naming both shapes', () => {
  const { folder, model } = buildClip();
  const weights = new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
  weights.delete('text_model.final_layer_norm.bias');
  const fc1 = 'text_model.encoder.layers.1.mlp.fc1.weight';
  weights.set(fc1, { ...weights.get(fc1)!, shape: [64, 32] });
  assert.throws(() => model.loadWeights(weights, { what: 'text_encoder' }), (e: unknown) =>
    e instanceof StateDictError &&
    /missing keys \(1\): text_model\.final_layer_norm\.bias/.test(e.message) &&
    /text_model\.encoder\.layers\.1\.mlp\.fc1\.weight: expected \[128,32\], found \[64,32\] in .*model\.safetensors/.test(e.message));
});

test('input ids must be int64 [B, S] with S ≤ max_position_embeddings', () => {
  const { model } = buildClip();
  const g = new Graph('bad');
  const ids = new Tensor(g, g.addInput('ids', { dtype: 'int64', shape: [1, 78] }));
  assert.throws(() => model.forward(ids), (e: unknown) => e instanceof ShapeError && /S ≤ 77, got int64\[1,78\]/.test(e.message));
});

test('config: unsupported hidden_act and indivisible heads throw naming the key', () => {
  const base = { hidden_size: 32, num_attention_heads: 2 };
  assert.throws(() => parseClipTextConfig({ ...base, hidden_act: 'relu' }), (e: unknown) => e instanceof ConfigError && /"hidden_act" = "relu" is not supported/.test(e.message));
  assert.throws(() => parseClipTextConfig({ ...base, num_attention_heads: 3 }), (e: unknown) => e instanceof ConfigError && /num_attention_heads/.test(e.message));
  assert.throws(() => parseClipTextConfig({ model_type: 'clip_vision_model' }), (e: unknown) => e instanceof ConfigError && /model_type/.test(e.message));
  const warnings: string[] = [];
  const c = parseClipTextConfig({ ...base, hidden_act: 'gelu', something_new: 1 }, 'cfg', (m) => warnings.push(m));
  assert.deepEqual([c.hiddenAct, c.numHiddenLayers, c.maxPositionEmbeddings, c.vocabSize], ['gelu', 12, 77, 49408]);
  assert.deepEqual(warnings, ['cfg: ignoring unknown config keys: something_new']);
});
