// Gaussian and Poisson noise with the fixture's stored draws (fixture `degradations`), and the
// draw order: the gray field only when some sample is gray, then the colour field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/core/random.ts';
import { ShapeError } from '../../src/core/errors.ts';
import { addGaussianNoise, addPoissonNoise, drawsFromRandom } from '../../src/degrade/noise.ts';
import { poisson } from '../../src/degrade/rng.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { describeWorst, notPassing, runCase } from '../../src/parity/runner.ts';
import { FIXTURES, fixtureCase } from './fixture.ts';

const fx = fixtureCase('degradations');
const fixtures = FixtureSet.open(FIXTURES);
const image = fx.batch('input.image');

/** The stored draws `input.<prefix>_draw<i>_<kind>` in consumption order. */
function drawNames(prefix: string): string[] {
  const re = new RegExp(`^input\\.${prefix}_draw(\\d+)_(randn|poisson)$`);
  return fx.spec.tensors.map((t) => [t.name, re.exec(t.name)] as const).filter(([, m]) => m !== null)
    .sort((a, b) => Number(a[1]![1]) - Number(b[1]![1])).map(([n]) => n);
}

test('add_gaussian_noise_pt / add_poisson_noise_pt with the stored draws match the original (runner\'s degradations handler)', async (t) => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'degradations')!, { only: (o) => /^output\.\w+_noise_added$/.test(o) });
  assert.ok(rows.length >= 2, `${rows.length} outputs`);
  assert.deepEqual(notPassing(rows), []);
  t.diagnostic(describeWorst(rows));
});

test('without gray samples only the colour field is drawn', () => {
  const names = drawNames('gaussian');
  const colour = fx.f32(names[names.length - 1]);
  const sigma = fx.f32('input.gaussian_sigma');
  const gray = fx.f32('input.gaussian_gray_noise');
  const g = addGaussianNoise(image, sigma, gray.map(() => 0), { randn: (n) => { assert.equal(n, colour.length); return colour; }, poisson: () => assert.fail() });
  // Samples that were not gray in the fixture must come out the same.
  const exp = fx.f32('output.gaussian_noise_added');
  const per = exp.length / image.n;
  let checked = 0;
  for (let b = 0; b < image.n; b++) {
    if (gray[b] !== 0) continue;
    for (let i = b * per; i < (b + 1) * per; i++) assert.ok(Math.abs(g.data[i] - exp[i]) <= 2e-6);
    checked++;
  }
  assert.ok(checked > 0);
  assert.throws(() => addGaussianNoise(image, [3], [0, 0], drawsFromRandom(new Random(1))), ShapeError);
  assert.throws(() => addPoissonNoise(image, [1, 1], [0, 0], { randn: () => assert.fail(), poisson: () => new Float32Array(3) }), ShapeError);
});

test('rounds and clip options, and seeded draws are reproducible', () => {
  const a = addGaussianNoise(image, [8, 8], [0, 1], drawsFromRandom(new Random(5)), { rounds: true });
  const b = addGaussianNoise(image, [8, 8], [0, 1], drawsFromRandom(new Random(5)), { rounds: true });
  assert.deepEqual(a.data, b.data);
  for (const v of a.data) {
    assert.ok(v >= 0 && v <= 1);
    assert.ok(Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
  }
  const c = addGaussianNoise(image, [8, 8], [0, 1], drawsFromRandom(new Random(6)), { rounds: true });
  assert.notDeepEqual(a.data, c.data);
});

test('poisson sampler has the right mean and variance on both of its branches', () => {
  const rng = new Random(11);
  for (const lam of [0.7, 4, 37.5, 250]) {
    const n = 20000;
    let m = 0, m2 = 0;
    for (let i = 0; i < n; i++) { const x = poisson(rng, lam); m += x; m2 += x * x; }
    m /= n;
    const v = m2 / n - m * m;
    assert.ok(Math.abs(m - lam) < 4 * Math.sqrt(lam / n), `mean ${m} for λ=${lam}`);
    assert.ok(Math.abs(v / lam - 1) < 0.06, `variance ${v} for λ=${lam}`);
  }
  assert.equal(poisson(rng, 0), 0);
});
