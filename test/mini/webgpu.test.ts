/**
 * `pasd upscale --provider webgpu` with the bundled mini model against the CPU output of the same
 * command and seed: fp32 equal up to float rounding (a few 8-bit levels at most), fp16 close in
 * PSNR, nothing NaN (a NaN output would be black or saturated pixels and fail both bounds).
 * Measured on lavapipe (Mesa 25.0.7), 2026-12-04: fp32 vs CPU max 1 level (PSNR 88.7 dB); fp16
 * vs fp32 PSNR 58.8 dB, max 2 levels. Skips, saying why, without a WebGPU adapter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { probeProvider } from '../../src/engine/compile.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-mini-webgpu-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const skip = await probeProvider({ provider: 'webgpu' }).then(() => false, (e: Error) => `no WebGPU adapter on this machine: ${e.message}`);

/** Bounds the test enforces (8-bit levels; dB). */
const FP32_MAX_LEVELS = 2;
const FP16_MIN_PSNR = 45;

async function upscale(name: string, ...runtime: string[]): Promise<Buffer> {
  const out = join(dir, name);
  const r = spawnSync(process.execPath, ['bin/pasd.js', 'upscale', join(dir, 'in', 'photo.png'), '-o', out, '--process-size', '64', '--samples', '2', '--seed', '3', '--threads', '2', '-q', ...runtime],
    { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  assert.equal(r.status, 0, r.stderr);
  return (await sharp(join(out, 'photo.png')).raw().toBuffer());
}

const maxLevels = (a: Buffer, b: Buffer) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const psnr = (a: Buffer, b: Buffer) => 10 * Math.log10(255 ** 2 / (a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length));

test('the mini model on webgpu equals the CPU output (fp32) and stays close in fp16', { skip }, async (t) => {
  mkdirSync(join(dir, 'in'));
  // Texture and edges, so that the network has detail to generate.
  const w = 24, h = 20, px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++)
    px.set([128 + 100 * Math.sin(x * 0.9) * Math.cos(y * 0.5), x < 12 ? 60 : 200, (x * 7 + y * 13) % 256], (y * w + x) * 3);
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, 'in', 'photo.png'));
  const cpu = await upscale('cpu');
  const gpu32 = await upscale('webgpu32', '--provider', 'webgpu');
  const gpu16 = await upscale('webgpu16', '--provider', 'webgpu', '--precision', 'fp16');
  assert.equal(gpu32.length, cpu.length);
  const d32 = maxLevels(gpu32, cpu), p16 = psnr(gpu16, gpu32);
  t.diagnostic(`webgpu fp32 vs cpu: max ${d32} levels (PSNR ${psnr(gpu32, cpu).toFixed(1)} dB); webgpu fp16 vs fp32: PSNR ${p16.toFixed(1)} dB, max ${maxLevels(gpu16, gpu32)} levels`);
  assert.ok(d32 <= FP32_MAX_LEVELS, `webgpu fp32 differs from cpu by ${d32} levels`);
  assert.ok(p16 >= FP16_MIN_PSNR, `webgpu fp16 vs fp32: PSNR ${p16.toFixed(1)} dB < ${FP16_MIN_PSNR}`);
});
