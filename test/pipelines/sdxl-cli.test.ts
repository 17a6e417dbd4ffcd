/**
 * `pasd upscale --model <pasd-sdxl> --base <sdxl-base>` with the fixture SDXL models assembled
 * as a checkpoint folder (unet/, controlnet/) and an SDXL base folder (vae/, text_encoder/,
 * tokenizer/, text_encoder_2/, tokenizer_2/ holding only its configs): the SDXL family is found
 * from the UNet config, its defaults apply (scale 2), the CLI writes what the library computes,
 * `--init lr` changes the start, and a base without text_encoder_2/ is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { readImage } from '../../src/image/codec-node.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-sdxl-cli-'));
const [model, base, partial, inputs, out] = ['ckpt', 'base', 'partial', 'in', 'out'].map((d) => join(dir, d));
for (const d of [model, base, partial, inputs]) mkdirSync(d);
symlinkSync(modelDir('sdxl_unet'), join(model, 'unet'));
symlinkSync(modelDir('sdxl_controlnet'), join(model, 'controlnet'));
for (const b of [base, partial]) {
  symlinkSync(modelDir('sdxl_vae'), join(b, 'vae'));
  symlinkSync(modelDir('text_encoder'), join(b, 'text_encoder'));
  symlinkSync(resolve(FIXTURES, 'tokenizer'), join(b, 'tokenizer'));
}
symlinkSync(modelDir('sdxl_text_encoder_2'), join(base, 'text_encoder_2'));
symlinkSync(resolve(FIXTURES, 'models/sdxl_tokenizer_2'), join(base, 'tokenizer_2'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const fast = ['--process-size', '32', '--steps', '2', '--seed', '3', '--threads', '2', '-q'];

test('pasd upscale with a PASD-SDXL checkpoint and an SDXL base: family defaults, CLI = library, --init lr', async () => {
  const w = 20, h = 12, px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set([(i % w) * 12, Math.floor(i / w) * 20, 255 - (i % w) * 12], i * 3);
  const file = join(inputs, 'photo.png');
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  const r = pasd('upscale', file, '-o', out, '--model', model, '--base', base, '--json', ...fast);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results[0].size, [2 * w, 2 * h], "test_pasd_sdxl.py's default scale 2");
  const written = (await readImage(join(out, 'photo.png'))).rgb;
  const input = (await readImage(file)).rgb;
  const pipe = PasdPipeline.fromPretrained(model, base, { threads: 2, cacheDir: join(dir, 'cache') });
  try {
    assert.equal(pipe.family.name, 'sdxl');
    const want = await pipe.upscale(input, { processSize: 32, steps: 2, seed: 3 });
    assert.deepEqual(written.data, want.data, 'CLI output = library output');
    const lr = await pipe.upscale(input, { processSize: 32, steps: 2, seed: 3, initLatentWithNoise: false });
    assert.notDeepEqual(lr.data, want.data, '--init lr starts from the LR latents');
  } finally {
    await pipe.release();
  }
});

test('an SDXL checkpoint with a base lacking text_encoder_2/ and tokenizer_2/ exits 3 naming them', () => {
  const r = pasd('upscale', inputs, '-o', out, '--model', model, '--base', partial, ...fast);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /textEncoder2 .*text_encoder_2.*tokenizer2/);
});
