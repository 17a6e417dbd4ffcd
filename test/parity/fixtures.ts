/**
 * Access to ../shared/fixtures for parity tests: the manifest, case files, model folders,
 * per-output tolerances, and a comparison that reports the worst difference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type SafetensorsFile, openSafetensors } from '../../src/checkpoint/safetensors.ts';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');

export interface ManifestTensor {
  name: string;
  dtype: string;
  shape: number[];
  tolerance_max_abs?: number;
  f32_vs_f64_max_abs?: number;
  [k: string]: unknown;
}

export interface ManifestCase {
  name: string;
  group: string;
  file: string;
  models?: string[];
  tensors: ManifestTensor[];
  [k: string]: unknown;
}

let manifest: { cases: ManifestCase[]; models: Record<string, { folder: string }>; conventions: Record<string, unknown> } | null = null;

export function loadManifest() {
  manifest ??= JSON.parse(readFileSync(resolve(FIXTURES, 'manifest.json'), 'utf8'));
  return manifest!;
}

export function casesOf(group: string): ManifestCase[] {
  return loadManifest().cases.filter((c) => c.group === group);
}

export function fixtureCase(name: string): { meta: ManifestCase; file: SafetensorsFile; tol(output: string): number } {
  const meta = loadManifest().cases.find((c) => c.name === name);
  if (!meta) throw new Error(`no fixture case ${name}`);
  const file = openSafetensors(resolve(FIXTURES, meta.file));
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
  return resolve(FIXTURES, 'models', name);
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
