/** Loads the `degradations` fixture cases (../shared/fixtures, relative to the repo root) for the degrade tests. */
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { openSafetensors, type SafetensorsFile } from '../../src/checkpoint/safetensors.ts';
import { type ImageBatch, imageBatch } from '../../src/degrade/batch.ts';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');

interface ManifestTensor { name: string; shape: number[] }
interface ManifestCase { name: string; file: string; tensors: ManifestTensor[] }

const manifest = JSON.parse(readFileSync(resolve(FIXTURES, 'manifest.json'), 'utf8')) as { cases: ManifestCase[] };

export interface FixtureCase {
  readonly spec: ManifestCase;
  readonly file: SafetensorsFile;
  /** A float tensor's values. */
  f32(name: string): Float32Array;
  shape(name: string): readonly number[];
  /** A 4-D NCHW tensor as an ImageBatch. */
  batch(name: string): ImageBatch;
}

export function fixtureCase(name: string): FixtureCase {
  const spec = manifest.cases.find((c) => c.name === name);
  if (spec === undefined) throw new Error(`fixture case ${name} not in manifest`);
  const file = openSafetensors(resolve(FIXTURES, spec.file));
  const shape = (t: string): readonly number[] => {
    const e = file.tensors.get(t);
    assert.ok(e, `${t} missing from ${spec.file}`);
    return e.shape;
  };
  return {
    spec,
    file,
    shape,
    f32: (t) => { shape(t); return file.readF32(t); },
    batch: (t) => {
      const s = shape(t);
      assert.equal(s.length, 4, `${t} is not NCHW`);
      return imageBatch(file.readF32(t), s[0], s[1], s[2], s[3], t);
    },
  };
}

/** Largest |a - b| and where it happens (NaN counts as infinitely large). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  assert.equal(a.length, b.length, 'length mismatch');
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) { max = Number.isNaN(d) ? Infinity : d; at = i; }
  }
  return { max, at };
}
