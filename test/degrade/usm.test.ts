// USMSharp parity (fixture `degradations`): radius 50 → a 51-tap cv2 Gaussian (sigma 8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.ts';
import { gaussianKernel1D, usmSharp } from '../../src/degrade/usm.ts';
import { assertClose, fixtureCase } from './fixture.ts';

const fx = fixtureCase('degradations');

test('USMSharp with the settings of its manifest entry matches the original', () => {
  // e.g. "USMSharp(radius=50, sigma=0)(image, weight=0.5, threshold=10) (...)"
  const m = /USMSharp\(radius=([\d.]+), sigma=([\d.]+)\)\(image, weight=([\d.]+), threshold=([\d.]+)\)/.exec(fx.meaning('output.usm_sharp'));
  assert.ok(m, 'cannot read the USMSharp settings');
  const [radius, sigma, weight, threshold] = m.slice(1).map(Number);
  assertClose(fx, 'output.usm_sharp', usmSharp(fx.batch('input.image'), { radius, sigma, weight, threshold }).data);
});

test('cv2.getGaussianKernel(51, 0) derives sigma 8 and sums to 1', () => {
  const k = gaussianKernel1D(51, 0);
  const ref = gaussianKernel1D(51, 8);
  for (let i = 0; i < 51; i++) assert.ok(Math.abs(k[i] - ref[i]) < 1e-15);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(k[25] / k[24] - Math.exp(1 / 128)) < 1e-12);
  assert.throws(() => gaussianKernel1D(5, 0), ConfigError);
});
