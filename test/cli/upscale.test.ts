/**
 * `pasd upscale` end to end with the tiny fixture models laid out as a user would have them
 * (PASD folder with unet/ + controlnet/, SD1.5 folder with vae/ text_encoder/ tokenizer/),
 * plus the error paths: clear message, non-zero exit, nothing half-written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-cli-'));
const model = join(dir, 'pasd'), base = join(dir, 'sd15'), inputs = join(dir, 'in'), out = join(dir, 'out');
for (const d of [model, base, inputs]) mkdirSync(d);
symlinkSync(modelDir('pasd_unet'), join(model, 'unet'));
symlinkSync(modelDir('pasd_controlnet'), join(model, 'controlnet'));
symlinkSync(modelDir('vae'), join(base, 'vae'));
symlinkSync(modelDir('text_encoder'), join(base, 'text_encoder'));
symlinkSync(resolve(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fast = ['--model', model, '--base', base, '--process-size', '32', '--steps', '2', '--threads', '2', '-q'];

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('upscales a folder ×2: names kept, sizes exact, JSON summary; a corrupt file is reported and the rest go on', async () => {
  await sharp({ create: { width: 20, height: 12, channels: 3, background: { r: 200, g: 80, b: 30 } } }).png().toFile(join(inputs, 'a.png'));
  await sharp({ create: { width: 16, height: 16, channels: 4, background: { r: 10, g: 80, b: 200, alpha: 0.5 } } }).png().toFile(join(inputs, 'b.png'));
  writeFileSync(join(inputs, 'c.png'), 'not a png');
  const r = pasd('upscale', inputs, '-o', out, '-s', '2', '--json', ...fast);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /c\.png/);
  const summary = JSON.parse(r.stdout) as { results: { input: string; output?: string; size?: number[]; error?: string }[] };
  assert.equal(summary.results.length, 3);
  assert.deepEqual(summary.results.map((x) => x.size ?? null), [[40, 24], [32, 32], null]);
  assert.deepEqual(readdirSync(out).sort(), ['a.png', 'b.png']);
  const meta = await sharp(join(out, 'b.png')).metadata();
  assert.equal(meta.width, 32);
  assert.equal(meta.channels, 4, 'alpha kept (upscaled separately)');
});

test('bad input gives a clear message and a non-zero exit, no stack trace', () => {
  const cases: [string[], RegExp, number][] = [
    [['upscale', join(dir, 'missing.png'), '-o', out, ...fast], /missing\.png: no such file/, 2],
    [['upscale', inputs, '-o', out, ...fast, '--steps', 'x'], /--steps: expected an integer/, 2],
    [['upscale', inputs, '-o', out, '--frobnicate'], /Unknown option '--frobnicate'/, 2],
    [['upscale', inputs, '-o', out, '--model', base, '--base', base], /missing components: unet/, 3],
    [['upscale', inputs, '-o', out, '--model', model, '--base', model], /missing components: vae/, 3],
  ];
  for (const [args, msg, code] of cases) {
    const r = pasd(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('stylization: a kohya LoRA changes the result; a bad personalized path exits 3; its options need it', async () => {
  const plain = join(dir, 'plain'), lora = join(dir, 'lora');
  const one = join(dir, 'one');
  mkdirSync(one);
  await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 120, g: 90, b: 60 } } }).png().toFile(join(one, 'x.png'));
  assert.equal(pasd('upscale', one, '-o', plain, '-s', '2', ...fast).code, 0);
  const r = pasd('upscale', one, '-o', lora, '-s', '2', ...fast, '--personalized', resolve(FIXTURES, 'cases/convert_lora_kohya.safetensors'), '--multiplier', '1.5');
  assert.equal(r.code, 0, r.stderr);
  const [a, b] = await Promise.all([plain, lora].map((d) => sharp(join(d, 'x.png')).raw().toBuffer()));
  assert.notDeepEqual(a, b, 'the LoRA changes the output');
  const bad = pasd('upscale', one, '-o', join(dir, 'bad'), ...fast, '--personalized', join(dir, 'nope.safetensors'));
  assert.equal(bad.code, 3, bad.stderr);
  assert.match(bad.stderr, /nope\.safetensors/);
  assert.equal(pasd('upscale', one, '-o', join(dir, 'bad'), ...fast, '--multiplier', '1').code, 2);
});

test('more bad inputs: truncated image, over the pixel cap, a config that does not fit the weights', async () => {
  const bad = join(dir, 'bad-inputs');
  mkdirSync(bad);
  const png = await sharp({ create: { width: 20, height: 12, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
  writeFileSync(join(bad, 'half.png'), png.subarray(0, png.length >> 1));
  let r = pasd('upscale', join(bad, 'half.png'), '-o', join(dir, 'o1'), ...fast);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /half\.png/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  writeFileSync(join(bad, 'ok.png'), png);
  r = pasd('upscale', join(bad, 'ok.png'), '-o', join(dir, 'o2'), ...fast, '--max-pixels', '100');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /ok\.png.*20.?x.?12|20.?×.?12/);
  // A UNet config with other channel widths than its weights: every mis-shaped key is named with both shapes.
  const model2 = join(dir, 'pasd-misfit');
  mkdirSync(join(model2, 'unet'), { recursive: true });
  symlinkSync(modelDir('pasd_controlnet'), join(model2, 'controlnet'));
  symlinkSync(join(modelDir('pasd_unet'), 'diffusion_pytorch_model.safetensors'), join(model2, 'unet', 'diffusion_pytorch_model.safetensors'));
  const cfg = JSON.parse(readFileSync(join(modelDir('pasd_unet'), 'config.json'), 'utf8'));
  writeFileSync(join(model2, 'unet', 'config.json'), JSON.stringify({ ...cfg, block_out_channels: [16, 32, 32, 64] }));
  r = pasd('upscale', join(bad, 'ok.png'), '-o', join(dir, 'o3'), ...fast, '--model', model2);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /mis-shaped keys.*expected \[\d+(,\d+)*\], found \[\d+(,\d+)*\]/s);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('tiled-VAE options: small tiles and budget give the same image (±1 level) as whole-image VAE passes', async () => {
  const one = join(dir, 'vae-one');
  mkdirSync(one);
  await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toFile(join(one, 'x.png'));
  const [whole, tiled] = [join(dir, 'vae-whole'), join(dir, 'vae-tiled')];
  assert.equal(pasd('upscale', one, '-o', whole, '-s', '2', ...fast).code, 0);
  const r = pasd('upscale', one, '-o', tiled, '-s', '2', ...fast, '--vae-encoder-tile', '16', '--vae-decoder-tile', '2', '--vae-memory', '1');
  assert.equal(r.code, 0, r.stderr);
  const [a, b] = await Promise.all([whole, tiled].map((d) => sharp(join(d, 'x.png')).raw().toBuffer()));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst <= 1, `max difference ${worst} levels`);
  assert.equal(pasd('upscale', one, '-o', tiled, ...fast, '--vae-memory', '0').code, 2);
});
