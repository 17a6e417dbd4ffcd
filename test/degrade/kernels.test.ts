// Parity of the blur kernels with PASD's basicsr degradations.py (fixture `degradation_kernels`),
// plus the random kernel generator's draws and ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/core/random.ts';
import { ConfigError } from '../../src/core/errors.ts';
import {
  type Kernel, besselJ1, bivariateGaussian, bivariateGeneralizedGaussian, bivariatePlateau, circularLowpassKernel,
  kernelFromParams, padKernel, pulseKernel, randomMixedKernel, KERNEL_TYPES,
} from '../../src/degrade/kernels.ts';
import { kernelFromCall } from '../../src/degrade/calls.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES } from './fixture.ts';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

const fixtures = FixtureSet.open(FIXTURES);

test('every kernel output, rebuilt from the call its manifest entry describes, matches the original (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradation_kernels')!, { only: (o) => /^output\./.test(o) });
  assert.ok(rows.length >= 8, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('the call notation agrees with the direct constructors and rejects what it cannot read', () => {
  const same = (a: Kernel, b: Kernel) => assert.deepEqual(a.data, b.data);
  same(kernelFromCall('bivariate_Gaussian(21, sig=1.7, isotropic=True)'), bivariateGaussian(21, 1.7, 1.7, 0, true));
  same(kernelFromCall('bivariate_Gaussian(15, sig_x=2.5, sig_y=0.8, theta=0.6, isotropic=False)'), bivariateGaussian(15, 2.5, 0.8, 0.6, false));
  same(kernelFromCall('bivariate_generalized_Gaussian(21, 2.9, 1.1, theta=-1.2, beta=3.5, isotropic=False)'), bivariateGeneralizedGaussian(21, 2.9, 1.1, -1.2, 3.5, false));
  same(kernelFromCall('bivariate_plateau(9, 1.5, 1.5, 0, beta=1.3, isotropic=True)'), bivariatePlateau(9, 1.5, 1.5, 0, 1.3, true));
  same(kernelFromCall('circular_lowpass_kernel(cutoff=2.1, 7, pad_to=False)'), circularLowpassKernel(2.1, 7));
  same(kernelFromCall('circular_lowpass_kernel(1.0, 13, pad_to=21)'), circularLowpassKernel(1, 13, 21));
  for (const bad of ['box(3)', 'bivariate_Gaussian(21, sig=x)', 'bivariate_Gaussian(21, 1, 1, 0, None, True, 7)', 'bivariate_plateau(9, 1.5, isotropic=False)', 'bivariate_Gaussian 21'])
    assert.throws(() => kernelFromCall(bad), ConfigError, bad);
});

test('besselJ1 matches scipy.special.j1 to machine precision over the sinc range', () => {
  const ref: [number, number][] = [
    [0.5, 0.24226845767487387], [1, 0.44005058574493355], [3.8317, 2.404559043086966e-6],
    [7.5, 0.13524842757970554], [10, 0.04347274616886141], [25.3, -0.09002954350877665], [44.4, -0.042102301257572874],
  ];
  for (const [x, v] of ref) assert.ok(Math.abs(besselJ1(x) - v) < 1e-14, `J1(${x})`);
});

test('isotropic kernels ignore sig_y and theta; padding and pulse behave like the original', () => {
  assert.deepEqual(bivariateGaussian(9, 1.3, 7, 2, true).data, bivariateGaussian(9, 1.3, 0.1, 0, true).data);
  const p = padKernel(circularLowpassKernel(1.5, 7), 11);
  assert.equal(p.size, 11);
  assert.equal(p.data[0], 0);
  assert.ok(Math.abs(sum(p.data) - 1) < 1e-12);
  const pulse = pulseKernel(21);
  assert.equal(pulse.data[10 * 21 + 10], 1);
  assert.equal(sum(pulse.data), 1);
});

test('bad kernel arguments throw ConfigError naming the problem', () => {
  assert.throws(() => bivariateGaussian(8, 1, 1, 0, true), (e: unknown) => e instanceof ConfigError && /odd/.test(e.message));
  assert.throws(() => bivariateGaussian(7, 0, 1, 0, false), (e: unknown) => e instanceof ConfigError && /sig_x=0/.test(e.message));
  assert.throws(() => circularLowpassKernel(1, 7, 20), ConfigError);
});

test('randomMixedKernel draws within the ranges and its record rebuilds the same kernel', () => {
  const rng = new Random(7);
  const ranges = {
    kernelList: KERNEL_TYPES, kernelProb: [1, 1, 1, 1, 1, 1], sigmaXRange: [0.2, 3] as const, sigmaYRange: [0.2, 3] as const,
    rotationRange: [-Math.PI, Math.PI] as const, betagRange: [0.5, 4] as const, betapRange: [1, 2] as const,
  };
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { kernel, params } = randomMixedKernel(rng, 13, ranges);
    seen.add(params.type);
    assert.ok(params.type !== 'sinc' && params.type !== 'pulse');
    assert.ok(params.sigmaX >= 0.2 && params.sigmaX < 3);
    if (params.type.endsWith('iso') && !params.type.endsWith('aniso')) {
      assert.equal(params.sigmaY, params.sigmaX);
      assert.equal(params.theta, 0);
    }
    if ('beta' in params) {
      const [lo, hi] = params.type.startsWith('plateau') ? ranges.betapRange : ranges.betagRange;
      assert.ok(params.beta >= lo && params.beta <= hi);
    }
    assert.deepEqual(kernelFromParams(params).data, kernel.data);
    assert.ok(Math.abs(sum(kernel.data) - 1) < 1e-12);
  }
  assert.equal(seen.size, 6, 'every kernel type is drawn');
  // A zero weight is never drawn.
  const onlyIso = { ...ranges, kernelProb: [1, 0, 0, 0, 0, 0] };
  for (let i = 0; i < 50; i++) assert.equal(randomMixedKernel(rng, 7, onlyIso).params.type, 'iso');
});
