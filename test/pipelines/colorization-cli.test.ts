/**
 * `pasd upscale --colorize` end to end with the tiny PASD-light fixture models laid out as a
 * user has them (test_pasd.py's `runs/pasd_color/<checkpoint>` with unet/ + controlnet/, an
 * SD1.5 folder): the written image is the library's `upscale({ colorize: true })` result, at
 * the input size, with the input's luma; contradictory options exit 2 with a message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { readImage } from '../../src/image/codec-node.ts';
import { rgbToYuv } from '../../src/image/color.ts';
import { grayInput } from '../../src/pipelines/colorize.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-color-cli-'));
const model = join(dir, 'pasd_color', 'checkpoint-1'), base = join(dir, 'sd15'), inputs = join(dir, 'in'), out = join(dir, 'out');
for (const d of [model, base, inputs]) mkdirSync(d, { recursive: true });
symlinkSync(modelDir('pasd_light_unet'), join(model, 'unet'));
symlinkSync(modelDir('pasd_light_controlnet'), join(model, 'controlnet'));
symlinkSync(modelDir('vae'), join(base, 'vae'));
symlinkSync(modelDir('text_encoder'), join(base, 'text_encoder'));
symlinkSync(resolve(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fast = ['--model', model, '--base', base, '--process-size', '32', '--steps', '2', '--seed', '3', '--threads', '2', '-q'];

test('pasd upscale --colorize writes the library result at the input size, keeping the grey luma', async () => {
  // A colour gradient, so the grey input is not flat.
  const w = 20, h = 12, px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set([(i % w) * 12, Math.floor(i / w) * 20, 255 - (i % w) * 12], i * 3);
  const file = join(inputs, 'photo.png');
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  const r = pasd('upscale', file, '-o', out, '--colorize', '-p', 'a black and white photo', '--json', ...fast);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results[0].size, [w, h]);

  const written = (await readImage(join(out, 'photo.png'))).rgb;
  const input = (await readImage(file)).rgb;
  const pipe = PasdPipeline.fromPretrained(model, base, { threads: 2, cacheDir: join(dir, 'cache') });
  try {
    const want = await pipe.upscale(input, { colorize: true, prompt: 'a black and white photo', processSize: 32, steps: 2, seed: 3 });
    assert.deepEqual(written.data, want.data, 'CLI output = library output');
  } finally {
    await pipe.release();
  }
  // The luma written is the grey input's, up to the cv2 YUV→RGB→YUV round trip, except where
  // the random tiny model's chroma pushed a channel into saturation.
  const y = rgbToYuv(written), y0 = rgbToYuv(grayInput(input));
  let worst = 0, kept = 0;
  for (let i = 0; i < y.data.length; i += 3) {
    if ([0, 1, 2].some((k) => written.data[i + k] === 0 || written.data[i + k] === 255)) continue;
    kept++;
    worst = Math.max(worst, Math.abs(y.data[i] - y0.data[i]));
  }
  assert.ok(kept > y.data.length / 3 / 2, `only ${kept} unsaturated pixels`);
  assert.ok(worst <= 2, `luma moved by ${worst}`);
});

test('colorization options that contradict it exit 2 with a message', () => {
  const cases: [string[], RegExp][] = [
    [['--colorize', '-s', '4'], /--scale: colorization keeps the input size/],
    [['--control-type', 'grayscale', '--color-fix', 'wavelet'], /--color-fix/],
  ];
  for (const [args, msg] of cases) {
    const r = pasd('upscale', inputs, '-o', out, ...fast, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
