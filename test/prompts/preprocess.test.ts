/**
 * The classifier transform against values computed by hand: torchvision 0.14's center crop
 * offsets (Python round, half to even), ÷255 and Normalize, and the ResNet-50 default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeImage } from '../../src/image/image.ts';
import { RESNET50_PREPROCESS, centerCropOffset, classifierInput, parsePreprocess } from '../../src/prompts/preprocess.ts';

test('center crop offsets round half to even like torchvision (int(round((side − crop) / 2)))', () => {
  assert.deepEqual([225, 226, 227, 233, 235, 348].map((s) => centerCropOffset(s, 224)), [0, 1, 2, 4, 6, 62]);
});

test('a 7×4 image, size 4, crop 3: no resize, crop rows 0–2 (0.5 rounds to 0) and columns 2–4, then (v/255 − mean)/std', () => {
  const w = 7, h = 4;
  const img = makeImage(w, h, 3);
  // pixel (x, y), channel c holds 10x + 40y + c
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) img.data[(y * w + x) * 3 + c] = 10 * x + 40 * y + c;
  const p = parsePreprocess({ size: 4, crop: 3, mean: [0.5, 0.25, 0], std: [0.25, 0.5, 1] });
  const t = classifierInput(img, p);
  assert.deepEqual([...t.shape], [1, 3, 3, 3]);
  // Spot values worked out by hand (crop row i, column j is pixel x = j + 2, y = i): R at
  // (0, 0) is 20; G at (2, 1) is 10·3 + 40·2 + 1 = 111; B at (1, 2) is 10·4 + 40·1 + 2 = 82.
  const at = (c: number, i: number, j: number) => t.data[c * 9 + i * 3 + j];
  assert.ok(Math.abs(at(0, 0, 0) - (20 / 255 - 0.5) / 0.25) < 1e-6); // −1.686275
  assert.ok(Math.abs(at(0, 0, 0) - -1.686275) < 1e-6);
  assert.ok(Math.abs(at(1, 2, 1) - (111 / 255 - 0.25) / 0.5) < 1e-6); // 0.370588
  assert.ok(Math.abs(at(1, 2, 1) - 0.370588) < 1e-6);
  assert.ok(Math.abs(at(2, 1, 2) - 82 / 255) < 1e-6); // 0.321569
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const v = 10 * (j + 2) + 40 * i + c;
        assert.ok(Math.abs(at(c, i, j) - (v / 255 - p.mean[c]) / p.std[c]) < 1e-6, `c${c} (${i}, ${j})`);
      }
});

test('ResNet-50 default: shorter side 232, centre 224×224, ImageNet mean/std (a red photo by hand)', () => {
  assert.deepEqual(RESNET50_PREPROCESS, { size: 232, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  assert.deepEqual(parsePreprocess({}), RESNET50_PREPROCESS);
  const img = makeImage(500, 300, 3);
  for (let i = 0; i < 500 * 300; i++) img.data[i * 3] = 255;
  const t = classifierInput(img, RESNET50_PREPROCESS);
  assert.deepEqual([...t.shape], [1, 3, 224, 224]);
  const n = 224 * 224;
  const expect = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]; // 2.248908, −2.035714, −1.804444
  for (let c = 0; c < 3; c++) for (const i of [0, n / 2 + 7, n - 1]) assert.ok(Math.abs(t.data[c * n + i] - expect[c]) < 1e-6, `channel ${c}`);
});
