/**
 * The bundled mini model (models/pasd-mini): `pasd upscale photo.png -o out/` with no model
 * arguments runs it (with the options of its defaults.json) and writes the ×4 image; the
 * shipped weights stay within the package budget and load into the PASD architecture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { defaultModelOptions, defaultModelPaths, loadComponents } from '../../src/pipelines/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-mini-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the shipped weights: ≤ 30 MB of safetensors, PASD UNet with pixel attention + ControlNet with the degradation removal module', () => {
  const p = defaultModelPaths();
  let bytes = 0;
  for (const d of [p.unet, p.controlnet, p.vae, p.textEncoder]) for (const f of readdirSync(d)) if (f.endsWith('.safetensors')) bytes += statSync(join(d, f)).size;
  assert.ok(bytes > 1e6 && bytes <= 30e6, `weights: ${bytes} bytes`);
  const c = loadComponents(p);
  const keys = c.unet.namedParameters().map(([k]) => k);
  assert.ok(keys.some((k) => k.includes('pixel_attentions')), 'UNet has PACA (pixel_attentions)');
  assert.ok(c.controlnet.namedParameters().some(([k]) => k.startsWith('controlnet_cond_embedding.to_rgbs.')), 'ControlNet has to-RGB heads');
  assert.equal(c.light, false);
  const o = defaultModelOptions();
  assert.equal(typeof o.processSize, 'number');
});

test('pasd upscale with no model arguments: the mini model writes the ×4 image without a colour cast', async () => {
  const inputs = join(dir, 'in'), out = join(dir, 'out');
  mkdirSync(inputs);
  // A smooth two-colour photo stand-in: left half orange, right half blue, with a soft edge.
  const w = 24, h = 16, px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const t = Math.min(1, Math.max(0, (x - 10) / 4));
    px.set([Math.round(220 * (1 - t) + 40 * t), Math.round(120 * (1 - t) + 90 * t), Math.round(40 * (1 - t) + 200 * t)], (y * w + x) * 3);
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(inputs, 'photo.png'));
  const r = pasd('upscale', join(inputs, 'photo.png'), '-o', out, '--steps', '2', '--process-size', '64', '--threads', '2', '-q');
  assert.equal(r.code, 0, r.stderr);
  const { data, info } = await sharp(join(out, 'photo.png')).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [4 * w, 4 * h]);
  // The wavelet colour fix carries the input's low frequencies: each half keeps its colour.
  const meanOf = (x0: number, x1: number) => [0, 1, 2].map((c) => {
    let s = 0, n = 0;
    for (let y = 0; y < info.height; y++) for (let x = x0; x < x1; x++, n++) s += data[(y * info.width + x) * info.channels + c];
    return s / n;
  });
  const left = meanOf(0, 32), right = meanOf(72, 96);
  [220, 120, 40].forEach((v, c) => assert.ok(Math.abs(left[c] - v) < 20, `left channel ${c}: ${left[c]} vs ${v}`));
  [40, 90, 200].forEach((v, c) => assert.ok(Math.abs(right[c] - v) < 20, `right channel ${c}: ${right[c]} vs ${v}`));
});

test('--model without --base is a usage error', async () => {
  const file = join(dir, 'x.png');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toFile(file);
  const r = pasd('upscale', file, '-o', join(dir, 'o'), '--model', dir);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--model .* and --base .* go together/);
});
