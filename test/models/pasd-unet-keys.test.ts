import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { StateDictError } from '../../src/core/errors.ts';
import { storedTensor } from '../../src/engine/weights.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { modelDir } from '../parity/fixtures.ts';

test('PASD UNet: {key: shape} equals the original state dict', () => {
  const folder = loadModelFolder(modelDir('pasd_unet'));
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(folder.config)).nameTree();
  const ours = unet.stateShapes();
  const theirs = new Map([...folder.tensors].map(([k, t]) => [k, [...t.entry.shape]]));
  const missing = [...theirs.keys()].filter((k) => !ours.has(k));
  const extra = [...ours.keys()].filter((k) => !theirs.has(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  for (const [k, s] of theirs) assert.deepEqual([...ours.get(k)!], s, k);
});

test('loading reports every missing and mis-shaped key with both shapes', () => {
  const folder = loadModelFolder(modelDir('pasd_unet'));
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(folder.config)).nameTree();
  const weights = new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
  weights.delete('conv_in.weight');
  const bad = weights.get('conv_out.bias')!;
  weights.set('conv_out.bias', { ...bad, shape: [5] });
  assert.throws(() => unet.loadWeights(weights, { what: 'pasd_unet' }),
    (e: unknown) => e instanceof StateDictError && /conv_in\.weight/.test(e.message) && /conv_out\.bias: expected \[4\], found \[5\]/.test(e.message));
});
