/**
 * Reading ../shared/fixtures for the scheduler unit tests (the SD1.5 scheduler config and case
 * files); the fixture procedures themselves run in src/parity/groups/schedulers.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';

export const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as {
  conventions: { scheduler_config: Record<string, unknown> };
};

export const SD15_SCHEDULER_CONFIG = manifest.conventions.scheduler_config;

export function openCase(c: { file: string }) {
  const f = openSafetensors(path.join(FIXTURES, c.file));
  return {
    f32: (name: string) => f.readF32(name),
    ints: (name: string) => Array.from(f.read(name) as BigInt64Array, Number),
    has: (name: string) => f.tensors.has(name),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}
