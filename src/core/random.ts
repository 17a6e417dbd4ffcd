/**
 * A small seeded random generator: xoshiro128** (Blackman & Vigna, 2018) for uniform 32-bit
 * words, seeded through splitmix32 so that any integer seed gives a well-mixed state, and
 * Box-Muller for standard normals.
 *
 * Why our own: docs/DESIGN.md asks that every random quantity comes from one generator passed
 * explicitly (nothing reads global state), and the same code must run in Node and in the
 * browser. It does not reproduce torch's Philox/MT19937 streams: parity tests feed the
 * fixtures' stored draws instead (see `ReplayRandom` in the tests and the `noise` options of
 * the schedulers).
 */
import { InputError } from './errors.ts';

/** Anything that can hand out random numbers; schedulers and pipelines take this, not a class. */
export interface RandomSource {
  /** `n` independent standard normal samples. */
  randn(n: number): Float32Array;
  /** A uniform sample in [0, 1). */
  uniform(): number;
  /** A uniform integer in [lo, hi) (hi exclusive, like torch.randint / Python's range). */
  randint(lo: number, hi: number): number;
}

/** splitmix32 step: turns consecutive seeds into decorrelated 32-bit words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Random implements RandomSource {
  private readonly s = new Uint32Array(4);
  /** Box-Muller makes normals in pairs; the second one waits here. */
  private spare: number | null = null;

  /** `seed`: any safe integer (both 32-bit halves are mixed in). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new InputError(`Random: seed must be a safe integer, got ${seed}`);
    const st = { s: (seed | 0) ^ Math.floor(seed / 2 ** 32) };
    for (let i = 0; i < 4; i++) this.s[i] = splitmix32(st);
    // xoshiro's only bad state is all zeros; splitmix32 cannot give four zeros in a row, but be explicit.
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Next uniform 32-bit word (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two words). */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  randint(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) {
      throw new InputError(`Random.randint: need integers lo < hi, got lo=${lo}, hi=${hi}`);
    }
    return lo + Math.floor(this.uniform() * (hi - lo));
  }

  /** One standard normal (Box-Muller; 1 - u keeps the logarithm finite). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  randn(n: number): Float32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`Random.randn: n must be a non-negative integer, got ${n}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
