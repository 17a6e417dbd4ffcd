/** Loads the `helpers` fixture cases (../shared/fixtures, relative to the repo root) for the image tests. */
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { openSafetensors, type SafetensorsFile } from '../../src/checkpoint/safetensors.ts';
import { makeImage, type Image } from '../../src/image/image.ts';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');

interface ManifestTensor { name: string; shape: number[]; tolerance_max_abs?: number }
interface ManifestCase { name: string; file: string; tensors: ManifestTensor[] }

const manifest = JSON.parse(readFileSync(resolve(FIXTURES, 'manifest.json'), 'utf8')) as { cases: ManifestCase[] };

export function fixtureCase(name: string): { spec: ManifestCase; file: SafetensorsFile } {
  const spec = manifest.cases.find((c) => c.name === name);
  if (spec === undefined) throw new Error(`fixture case ${name} not in manifest`);
  return { spec, file: openSafetensors(resolve(FIXTURES, spec.file)) };
}

/** A `*_u8` HWC tensor (uint8 values stored as float32) as an Image. */
export function u8Image(file: SafetensorsFile, name: string): Image {
  const entry = file.tensors.get(name);
  if (entry === undefined) throw new Error(`${name} missing from ${file.path}`);
  const [h, w, c] = entry.shape;
  return makeImage(w, h, c, Uint8Array.from(file.readF32(name)));
}

/** Largest |a - b| and where it happens. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) { max = d; at = i; }
  }
  return { max, at };
}
