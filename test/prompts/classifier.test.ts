/**
 * The classification provider end to end: a tiny ONNX classifier written by the test
 * (./tiny-classifier.ts) is loaded from a temp folder and run by onnxruntime; the class,
 * its softmax probability and the p ≥ 0.1 rule of test_pasd.py `get_validation_prompt`
 * are checked against hand-computed values, then every error path of the folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.ts';
import { makeImage, type Image } from '../../src/image/image.ts';
import { loadClassifier } from '../../src/prompts/classifier-node.ts';
import { validationPrompt } from '../../src/prompts/provider.ts';
import { classifierBytes, withSymbolicDims, writeClassifier } from './tiny-classifier.ts';

const root = mkdtempSync(join(tmpdir(), 'pasd-prompts-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `c${n++}`);

function solid(width: number, height: number, rgb: [number, number, number]): Image {
  const img = makeImage(width, height, 3);
  for (let i = 0; i < width * height; i++) img.data.set(rgb, i * 3);
  return img;
}

// ImageNet normalisation of a saturated channel (1) and an empty one (0), by hand.
const R1 = (1 - 0.485) / 0.229, G0 = (0 - 0.456) / 0.224, B0 = (0 - 0.406) / 0.225;
const R0 = (0 - 0.485) / 0.229, B1 = (1 - 0.406) / 0.225;
const softmax = (z: number[]) => z.map((v) => Math.exp(v) / z.reduce((s, u) => s + Math.exp(u), 0));

// tomato = 2·R, sky = 2·B, grass = 2·G (rows of W over the channel means).
const colours = { inputShape: [1, 3, 224, 224], weight: [2, 0, 0, 0, 0, 2, 0, 2, 0], bias: [0, 0, 0], labels: ['tomato', 'sky', 'grass'] };

test('default ResNet-50 transform: a red photo is "tomato" with the hand-computed probability, a blue one "sky"', async () => {
  const c = await loadClassifier(writeClassifier(fresh(), colours), { threads: 1 });
  try {
    assert.deepEqual({ size: c.preprocess.size, crop: c.preprocess.crop }, { size: 232, crop: 224 });
    const red = await c.classify(solid(300, 200, [255, 0, 0]));
    const pRed = softmax([2 * R1, 2 * B0, 2 * G0]);
    assert.equal(red.label, 'tomato');
    assert.ok(Math.abs(red.probability - pRed[0]) < 1e-5, `${red.probability} vs ${pRed[0]}`);
    const blue = await c.classify(solid(150, 410, [0, 0, 255]));
    const pBlue = softmax([2 * R0, 2 * B1, 2 * G0]);
    assert.equal(blue.label, 'sky');
    assert.ok(Math.abs(blue.probability - pBlue[1]) < 1e-5, `${blue.probability} vs ${pBlue[1]}`);
    assert.equal(validationPrompt('', await c.describe(solid(64, 64, [255, 0, 0]))), 'tomato, ');
  } finally {
    await c.release();
  }
});

test('the class joins the prompt when p ≥ 0.1 (exactly 0.1 included), else the user prompt is used alone', async () => {
  // Zero weights: every class has the same logit, so p = 1/K whatever the image; ties go to
  // the first class, as torch.argmax.
  const uniform = (k: number) => ({
    inputShape: [1, 3, 8, 8], weight: new Array(3 * k).fill(0), bias: new Array(k).fill(0),
    labels: Array.from({ length: k }, (_, i) => `class ${i}`), preprocess: { size: 10, crop: 8 },
  });
  const ten = await loadClassifier(writeClassifier(fresh(), uniform(10)), { threads: 1 });
  const eleven = await loadClassifier(writeClassifier(fresh(), uniform(11)), { threads: 1 });
  try {
    const img = solid(20, 12, [90, 140, 30]);
    assert.equal((await ten.classify(img)).probability, 0.1);
    const d10 = await ten.describe(img), d11 = await eleven.describe(img);
    assert.deepEqual(d10, { kind: 'classification', label: 'class 0', probability: 0.1 });
    assert.equal(d11.kind === 'classification' && d11.label, 'class 0');
    assert.equal(validationPrompt('', d10), 'class 0, ');
    assert.equal(validationPrompt('an old photo', d10), 'an old photo, class 0, ');
    assert.equal(validationPrompt('an old photo', d11), 'an old photo, ');
    assert.equal(validationPrompt('', d11), '');
  } finally {
    await ten.release();
    await eleven.release();
  }
});

test('symbolic batch and class dimensions (dynamic_axes exports) load; the label count is then checked on the first run', async () => {
  const symbolic = withSymbolicDims(classifierBytes(colours), { image: { 0: 'batch' }, logits: { 0: 'batch', 1: 'classes' } });
  const ok = writeClassifier(fresh(), colours);
  writeFileSync(join(ok, 'model.onnx'), symbolic);
  const c = await loadClassifier(ok, { threads: 1 });
  try {
    assert.deepEqual(c.signature.inputDims, [null, 3, 224, 224]);
    assert.deepEqual(c.signature.outputDims, [null, null]);
    assert.equal(validationPrompt('', await c.describe(solid(40, 30, [0, 0, 255]))), 'sky, ');
  } finally {
    await c.release();
  }
  const short = writeClassifier(fresh(), { ...colours, labels: ['tomato', 'sky'] });
  writeFileSync(join(short, 'model.onnx'), symbolic);
  const d = await loadClassifier(short, { threads: 1 });
  try {
    await assert.rejects(d.describe(solid(8, 8, [1, 2, 3])), (e) => e instanceof ConfigError && /has 3 scores but labels\.txt has 2 labels/.test(e.message));
  } finally {
    await d.release();
  }
});

test('folder errors name the file and what to do', async () => {
  const reject = async (dir: string, re: RegExp) => {
    await assert.rejects(loadClassifier(dir), (e: unknown) => e instanceof ConfigError && re.test(e.message), `${dir}: expected ${re}`);
  };
  await reject(join(root, 'nowhere'), /classifier folder .*nowhere does not exist/);

  const noModel = writeClassifier(fresh(), colours);
  unlinkSync(join(noModel, 'model.onnx'));
  await reject(noModel, /model\.onnx is missing/);
  const noLabels = writeClassifier(fresh(), colours);
  unlinkSync(join(noLabels, 'labels.txt'));
  await reject(noLabels, /labels\.txt is missing/);

  await reject(writeClassifier(fresh(), { ...colours, labels: ['tomato', 'sky'] }), /scores 3 classes but labels\.txt has 2 labels/);
  await reject(writeClassifier(fresh(), { ...colours, labelsText: 'tomato\n\nsky\n' }), /line 2 is blank/);
  await reject(writeClassifier(fresh(), { ...colours, labelsText: '\n' }), /labels\.txt is empty/);
  await reject(writeClassifier(fresh(), { ...colours, inputShape: [1, 1, 224, 224], weight: [1, 1, 1] }), /input "image" has shape \[1, 1, 224, 224\].*\[1, 3, H, W\]/);
  await reject(writeClassifier(fresh(), { ...colours, inputShape: [1, 3] }), /has shape \[1, 3\]/);
  await reject(writeClassifier(fresh(), { ...colours, inputShape: [1, 3, 32, 32] }), /is \[1, 3, 32, 32\] but the crop is 224×224: set "crop"/);

  const garbage = writeClassifier(fresh(), colours);
  writeFileSync(join(garbage, 'model.onnx'), 'this is not protobuf at all');
  await reject(garbage, /is not an ONNX model/);

  await reject(writeClassifier(fresh(), { ...colours, preprocess: { size: 200 } }), /"crop" \(224\) must not exceed "size" \(200\)/);
  await reject(writeClassifier(fresh(), { ...colours, preprocess: { resize: 256 } }), /unknown key\(s\) "resize"/);
  await reject(writeClassifier(fresh(), { ...colours, preprocess: { mean: [0.5, 0.5] } }), /"mean" must be 3 numbers/);
  await reject(writeClassifier(fresh(), { ...colours, preprocess: { std: [0.2, 0, 0.2] } }), /"std" must be 3 positive numbers/);
  const badJson = writeClassifier(fresh(), colours);
  writeFileSync(join(badJson, 'preprocess.json'), '{ size: 256 ');
  await reject(badJson, /preprocess\.json: not valid JSON/);
});
