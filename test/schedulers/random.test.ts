/** The seeded generator that supplies scheduler step noise (src/core/random.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';

test('Random: same seed, same stream; other seeds differ', () => {
  assert.deepEqual(new Random(42).randn(1000), new Random(42).randn(1000));
  assert.notDeepEqual(new Random(42).randn(16), new Random(43).randn(16));
  // Seeds that differ only above 32 bits still give different streams.
  assert.notDeepEqual(new Random(1).randn(16), new Random(1 + 2 ** 32).randn(16));
});

test('Random: randn has mean 0 and variance 1; uniform is in [0, 1)', () => {
  const n = 200_000;
  const x = new Random(7).randn(n);
  let m = 0;
  let v = 0;
  for (const a of x) m += a;
  m /= n;
  for (const a of x) v += (a - m) ** 2;
  v /= n - 1;
  // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 0.015, `variance ${v}`);
  const r = new Random(8);
  let lo = 1;
  let hi = 0;
  for (let i = 0; i < 10_000; i++) {
    const u = r.uniform();
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
  }
  assert.ok(lo >= 0 && lo < 0.001 && hi < 1 && hi > 0.999);
});

test('Random: randint covers [lo, hi) uniformly and rejects bad ranges', () => {
  const r = new Random(9);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 50_000; i++) counts[r.randint(-5, 5) + 5]++;
  for (const c of counts) assert.ok(Math.abs(c - 5000) < 300, `bucket ${c}`);
  assert.throws(() => r.randint(3, 3), InputError);
  assert.throws(() => r.randint(0, 1.5), InputError);
  assert.throws(() => new Random(0.5), InputError);
  assert.throws(() => r.randn(-1), InputError);
});
