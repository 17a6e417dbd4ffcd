// Parity with pasd/myutils/wavelet_color_fix.py (fixture `colorfix_64x96`) and
// pipeline_pasd.py `_gaussian_weights` (fixture `gaussian_tile_weights`), group helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adainColorFix, adaptiveInstanceNormalization, colorFix, waveletColorFix, waveletDecomposition, waveletReconstruction,
} from '../../src/image/colorfix.ts';
import { gaussianTileWeights } from '../../src/image/tile-weights.ts';
import { makeImage, type ImageTensor } from '../../src/image/image.ts';
import { ShapeError } from '../../src/core/errors.ts';
import { fixtureCase, maxAbsDiff, u8Image } from './fixture.ts';

const cf = fixtureCase('colorfix_64x96');

function tensor(name: string): ImageTensor {
  const e = cf.file.tensors.get(name);
  assert.ok(e, `${name} missing`);
  const [n, c, h, w] = e.shape;
  assert.equal(n, 1);
  return { shape: [1, c, h, w], data: cf.file.readF32(name) };
}

function tol(name: string): number {
  const t = cf.spec.tensors.find((x) => x.name === name)?.tolerance_max_abs;
  assert.ok(t !== undefined, `no tolerance for ${name}`);
  return t;
}

function check(name: string, got: Float32Array): void {
  const d = maxAbsDiff(got, tensor(name).data);
  assert.ok(d.max <= tol(name), `${name}: max |diff| ${d.max} > ${tol(name)} at ${d.at}`);
}

const target = tensor('input.target');
const source = tensor('input.source');

test('wavelet decomposition of the target (high and low parts)', () => {
  const { high, low } = waveletDecomposition(target);
  check('output.wavelet_high_freq', high.data);
  check('output.wavelet_low_freq', low.data);
});

test('wavelet reconstruction = high(target) + low(source)', () => {
  check('output.wavelet_reconstruction', waveletReconstruction(target, source).data);
});

test('adaptive instance normalization (unbiased variance + 1e-5)', () => {
  check('output.adaptive_instance_normalization', adaptiveInstanceNormalization(target, source).data);
});

for (const [kind, fn] of [['wavelet', waveletColorFix], ['adain', adainColorFix]] as const) {
  test(`${kind}_color_fix on uint8 images (truncating ToPILImage), within ±1`, () => {
    const t = u8Image(cf.file, 'input.target_u8');
    const s = u8Image(cf.file, 'input.source_u8');
    const expected = u8Image(cf.file, `output.${kind}_color_fix_u8`);
    const got = fn(t, s);
    const d = maxAbsDiff(got.data, expected.data);
    assert.ok(d.max <= 1, `max |diff| ${d.max} at ${d.at}`);
    const mismatches = got.data.reduce((n, v, i) => n + (v !== expected.data[i] ? 1 : 0), 0);
    assert.ok(mismatches <= got.data.length * 0.01, `${mismatches} of ${got.data.length} values differ`);
  });
}

test('colorFix none returns the target; wavelet needs equal sizes', () => {
  const a = makeImage(4, 4, 3);
  assert.equal(colorFix('none', a, makeImage(2, 2, 3)), a);
  assert.throws(() => waveletColorFix(a, makeImage(2, 2, 3)), ShapeError);
});

const gw = fixtureCase('gaussian_tile_weights');
for (const t of gw.spec.tensors) {
  test(`gaussian tile weights ${t.name}`, () => {
    const [h, w] = t.shape;
    const expected = gw.file.readF32(t.name);
    const d = maxAbsDiff(gaussianTileWeights(w, h), expected);
    assert.ok(t.tolerance_max_abs !== undefined && d.max <= t.tolerance_max_abs, `max |diff| ${d.max} at ${d.at}`);
  });
}
