/**
 * Parity with BasicSR v1.4.2 on the `metrics_basicsr` fixture case: PSNR/SSIM per pair, crop
 * and channel mode, NIQE, MATLAB imresize and rgb2ycbcr. Metric values are compared with the
 * manifest's `value_float64` (BasicSR's double result) within `tolerance_vs_value_float64`;
 * arrays with `tolerance_max_abs` (±1 for `_u8`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Image, makeImage } from '../../src/image/image.ts';
import { floatImage, toFloatImage } from '../../src/metrics/float-image.ts';
import { imresize, imresizeU8 } from '../../src/metrics/imresize.ts';
import { niqe } from '../../src/metrics/niqe.ts';
import { psnr, ssim } from '../../src/metrics/psnr-ssim.ts';
import { rgb2ycbcrFloat, rgb2ycbcrU8 } from '../../src/metrics/ycbcr.ts';
import { assertClose, fixtureCase } from '../parity/fixtures.ts';

const fx = fixtureCase('metrics_basicsr');

function u8Image(name: string): Image {
  const [h, w, c] = fx.file.tensors.get(name)!.shape;
  return makeImage(w, h, c, Uint8Array.from(fx.file.readF32(name)));
}

function entry(name: string) {
  const t = fx.meta.tensors.find((x) => x.name === name);
  assert.ok(t, `${name} in the manifest`);
  return t as typeof t & { value_float64?: number; tolerance_vs_value_float64?: number };
}

/** |ours − value_float64| ≤ tolerance_vs_value_float64; returns the ratio for the report. */
function checkValue(name: string, ours: number): number {
  const t = entry(name);
  const d = Math.abs(ours - t.value_float64!);
  assert.ok(d <= t.tolerance_vs_value_float64!, `${name}: ${ours} vs ${t.value_float64} (diff ${d.toExponential(2)} > ${t.tolerance_vs_value_float64})`);
  return d / t.tolerance_vs_value_float64!;
}

test('PSNR and SSIM match BasicSR per pair, crop border and channel mode', () => {
  let cases = 0;
  for (const t of fx.meta.tensors) {
    const m = /^output\.pair(\d+)_(psnr|ssim)_crop(\d+)_(rgb|y)$/.exec(t.name);
    if (!m) continue;
    const hr = u8Image(`input.pair${m[1]}_hr_u8`), sr = u8Image(`input.pair${m[1]}_sr_u8`);
    const opts = { cropBorder: Number(m[3]), testY: m[4] === 'y' };
    checkValue(t.name, (m[2] === 'psnr' ? psnr : ssim)(sr, hr, opts));
    cases++;
  }
  assert.equal(cases, 24);
});

test('NIQE matches BasicSR with its pristine parameters', () => {
  checkValue('output.niqe0', niqe(u8Image('input.niqe0_u8')));
  checkValue('output.niqe1', niqe(u8Image('input.niqe1_u8')));
});

test('MATLAB imresize (×4, ×1/4 antialiased, ×0.5 odd size) and its uint8 rounding', () => {
  const runs: [string, string, number][] = [
    ['output.imresize_x4', 'input.resize_small_u8', 4],
    ['output.imresize_pair0_hr_x0.25', 'input.pair0_hr_u8', 0.25],
    ['output.imresize_odd_x0.5', 'input.resize_odd_u8', 0.5],
  ];
  for (const [out, input, scale] of runs) {
    const img = u8Image(input);
    const r = imresize(toFloatImage(img, 1 / 255), scale);
    assert.deepEqual([r.height, r.width, r.channels], fx.file.tensors.get(out)!.shape);
    assertClose(r.data, fx.file.readF32(out), fx.tol(out), out);
    assertClose(imresizeU8(img, scale).data, fx.file.readF32(`${out}_u8`), 1, `${out}_u8`);
  }
});

test('rgb2ycbcr: uint8 in/out (Y only and full) and float32', () => {
  const img = u8Image('input.pair0_hr_u8');
  assertClose(rgb2ycbcrU8(img, true).data, fx.file.readF32('output.rgb2ycbcr_pair0_hr_y_u8'), 0, 'y_u8');
  assertClose(rgb2ycbcrU8(img).data, fx.file.readF32('output.rgb2ycbcr_pair0_hr_u8'), 0, 'ycbcr_u8');
  const f = rgb2ycbcrFloat(toFloatImage(img, 1 / 255));
  assertClose(f.data, fx.file.readF32('output.rgb2ycbcr_pair0_hr_float'), fx.tol('output.rgb2ycbcr_pair0_hr_float'), 'ycbcr float');
});

test('metrics refuse mismatched shapes and too-small images', () => {
  const a = makeImage(20, 20, 3), b = makeImage(20, 16, 3);
  assert.throws(() => psnr(a, b), /psnr: image shapes differ: 20x20x3 vs 20x16x3/);
  assert.throws(() => ssim(makeImage(12, 12, 3), makeImage(12, 12, 3), { cropBorder: 1 }), /at least 11x11/);
  assert.throws(() => psnr(a, a, { cropBorder: 10 }), /too small for a crop border of 10/);
  assert.equal(psnr(a, a), Infinity);
  assert.throws(() => niqe(makeImage(95, 200, 3)), /at least two 96x96 blocks/);
  assert.throws(() => niqe(makeImage(191, 96, 3)), /at least two 96x96 blocks/);
  assert.throws(() => imresize(floatImage(2, 2, 1), 0), /scale must be a positive number/);
});
