/** Shared test helpers for checkpoint tests: temp folders, a seeded PRNG, fixture paths. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TensorToWrite } from '../../src/checkpoint/safetensors-write.ts';

/** ../shared/fixtures (tests run from the repo root). */
export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
export const SHARED_DATA = resolve(process.cwd(), '../shared/data');

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-ckpt-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** mulberry32, shared with the op tests. */
export { rng as prng } from '../ops/harness.ts';

/** One small tensor of every supported dtype, with distinct values. */
export function sampleTensors(): TensorToWrite[] {
  return [
    { name: 'f32', dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1.5, -2, 3.25, 1e-8, -0]) },
    { name: 'f16', dtype: 'float16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff]) },
    { name: 'bf16', dtype: 'bfloat16', shape: [2], data: Uint16Array.from([0x3f80, 0xc0a0]) },
    { name: 'i64', dtype: 'int64', shape: [1, 2], data: BigInt64Array.from([-5n, 2n ** 40n]) },
    { name: 'i32', dtype: 'int32', shape: [2], data: Int32Array.from([-7, 123456]) },
    { name: 'u8', dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 128, 255]) },
    { name: 'i8', dtype: 'int8', shape: [2], data: Int8Array.from([-128, 127]) },
    { name: 'f64', dtype: 'float64', shape: [], data: Float64Array.from([Math.PI]) },
    { name: 'empty', dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
  ];
}
