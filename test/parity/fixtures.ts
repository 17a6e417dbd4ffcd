/**
 * Access to ../shared/fixtures for tests, through the parity runner's FixtureSet (one reader
 * of manifests, case files and model folders): cases, model folders, per-output tolerances,
 * and a comparison that reports the worst difference.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { type SafetensorsFile, openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import type { ManifestCase } from '../../src/parity/types.ts';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');

let set: FixtureSet | null = null;
const fixtures = () => (set ??= FixtureSet.open(FIXTURES));

export function casesOf(group: string): ManifestCase[] {
  return fixtures().cases.filter((c) => c.group === group);
}

export function fixtureCase(name: string): { meta: ManifestCase; file: SafetensorsFile; tol(output: string): number } {
  const meta = fixtures().cases.find((c) => c.name === name);
  if (!meta) throw new Error(`no fixture case ${name}`);
  const file = openSafetensors(fixtures().path(meta.file));
  return {
    meta,
    file,
    tol(output) {
      const t = meta.tensors.find((x) => x.name === output);
      if (t?.tolerance_max_abs === undefined) throw new Error(`${name}: no tolerance for ${output}`);
      return t.tolerance_max_abs;
    },
  };
}

export function modelDir(name: string): string {
  return fixtures().model(name).dir;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Asserts max |got − want| ≤ tol and returns the difference (for reports). */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): number {
  const d = maxAbsDiff(got, want);
  assert.ok(d <= tol, `${what}: max abs diff ${d.toExponential(3)} > tolerance ${tol}`);
  return d;
}
