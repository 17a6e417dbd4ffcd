/**
 * Random draws of the degradation pipeline, on top of the project's generator
 * (`RandomSource` of src/core/random.ts).
 *
 * The original draws from three global generators at once (Python `random`, `np.random` and
 * torch's) in `pasd/dataloader/realesrgan.py`; we draw everything from one explicit, seeded
 * source, so the same seed gives the same degradation and nothing reads global state. The
 * streams are not the original's: parity tests inject the fixtures' stored draws instead.
 */
import { InputError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';

/** Uniform float in [lo, hi), as `np.random.uniform(lo, hi)`. */
export function uniformIn(rng: RandomSource, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** One element chosen uniformly, as Python's `random.choice`. */
export function choice<T>(rng: RandomSource, items: readonly T[]): T {
  return items[rng.randint(0, items.length)];
}

/** One element chosen with relative weights, as Python's `random.choices(items, weights)[0]`. */
export function weightedChoice<T>(rng: RandomSource, items: readonly T[], weights: readonly number[]): T {
  let total = 0;
  for (const w of weights) total += w;
  const u = rng.uniform() * total;
  let acc = 0;
  let last = items.length - 1;
  for (let i = 0; i < items.length; i++) {
    if (weights[i] > 0) last = i;
    acc += weights[i];
    if (u < acc) return items[i];
  }
  // Only reachable through rounding at the very top of the range: the last item with weight.
  return items[last];
}

/** log(k!): summed exactly for small k, Stirling's series above (error < 1e-12 there). */
const LOG_FACTORIAL_TABLE: Float64Array = (() => {
  const t = new Float64Array(64);
  for (let k = 2; k < 64; k++) t[k] = t[k - 1] + Math.log(k);
  return t;
})();

function logFactorial(k: number): number {
  if (k < 64) return LOG_FACTORIAL_TABLE[k];
  const x = k + 1;
  const ix = 1 / x;
  const ix2 = ix * ix;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + ix * (1 / 12 - ix2 * (1 / 360 - ix2 / 1260));
}

/**
 * One Poisson count with rate `lam` ≥ 0 (torch.poisson's role), from uniform draws only:
 * Knuth's multiplication method below rate 10, Hörmann's transformed rejection (PTRS, the
 * method numpy uses) above.
 */
export function poisson(rng: RandomSource, lam: number): number {
  if (!(lam >= 0) || !Number.isFinite(lam)) throw new InputError(`poisson: rate ${lam} must be a finite number >= 0`);
  if (lam === 0) return 0;
  if (lam < 10) {
    const limit = Math.exp(-lam);
    let k = 0;
    let p = rng.uniform();
    while (p > limit) {
      k++;
      p *= rng.uniform();
    }
    return k;
  }
  const slam = Math.sqrt(lam);
  const loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.uniform() - 0.5;
    const v = rng.uniform();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logFactorial(k)) return k;
  }
}
