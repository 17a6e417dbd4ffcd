/**
 * Careless and hostile command lines (issue 21): outputs that would collide or overwrite an
 * input, `-o` naming a file, a thin image whose process size blows up the working size,
 * unbounded --threads/--seed, steps the scheduler cannot take, a broken scheduler config, and
 * weights full of NaN. Each is refused with a message and an exit code, nothing overwritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';
import { tinyModelFolders } from '../server/helpers.ts';

const { dir, model, base, cleanup } = tinyModelFolders();
test.after(cleanup);

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', env: { ...process.env, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stderr: r.stderr };
}
const fast = ['--model', model, '--base', base, '--process-size', '32', '--steps', '2', '--threads', '1', '-q'];
const noTrace = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /, stderr);
const image = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 40, b: 20 } } });

test('outputs never overwrite an input or each other; -o naming a file is a usage error', async () => {
  const inp = join(dir, 'in');
  mkdirSync(join(inp, 'a'), { recursive: true });
  mkdirSync(join(inp, 'b'));
  await image(8, 8).png().toFile(join(inp, 'img.png'));
  await image(8, 8).gif().toFile(join(inp, 'img.gif'));
  await image(8, 8).png().toFile(join(inp, 'a', 'x.png'));
  await image(8, 8).png().toFile(join(inp, 'b', 'x.png'));
  const before = readFileSync(join(inp, 'img.png'));
  const cases: [string[], RegExp][] = [
    [[join(inp, 'img.png'), join(inp, 'img.gif'), '-o', join(dir, 'o1')], /img\.png and .*img\.gif would both be written to .*img\.png/],
    [[join(inp, 'a', 'x.png'), join(inp, 'b', 'x.png'), '-o', join(dir, 'o2')], /x\.png and .*x\.png would both be written/],
    [[join(inp, 'img.png'), '-o', inp], /would overwrite the input/],
    [[join(inp, 'img.png'), '-o', join(inp, 'img.gif')], /exists and is not a folder/],
  ];
  for (const [args, msg] of cases) {
    const r = pasd('upscale', ...args, ...fast);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    noTrace(r.stderr);
  }
  assert.deepEqual(readFileSync(join(inp, 'img.png')), before, 'the input is untouched');
  assert.deepEqual(readdirSync(dir).filter((n) => /^o\d$/.test(n)), [], 'nothing written');
  const d = pasd('degrade', join(inp, 'a', 'x.png'), join(inp, 'b', 'x.png'), '-o', join(dir, 'o3'));
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /would both be written/);
});

test('bounded before any work: working size, threads, seed, steps for the scheduler (exit 2); a broken scheduler config (exit 3)', async () => {
  const thin = join(dir, 'thin.png');
  await image(2000, 2).png().toFile(thin);
  const cases: [string[], RegExp][] = [
    [[thin, '-o', join(dir, 't1'), ...fast, '--process-size', '576'], /576000x576 = 331776000 pixels.*--max-work-pixels/],
    [[thin, '-o', join(dir, 't1'), '--threads', '100000'], /--threads: expected an integer in \[1, 256\]/],
    [[thin, '-o', join(dir, 't1'), '--seed', '1e30'], /--seed: expected an integer in \[0, 9007199254740991\]/],
    [[join(dir, 'thin.png'), '-o', join(dir, 't1'), ...fast, '--steps', '1000', '--scheduler', 'lcm'], /do not fit the scheduler.*\[1, 50\]/],
  ];
  for (const [args, msg] of cases) {
    const r = pasd('upscale', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    noTrace(r.stderr);
  }
  const base2 = join(dir, 'sd15-bad-scheduler');
  mkdirSync(join(base2, 'scheduler'), { recursive: true });
  for (const c of ['vae', 'text_encoder']) symlinkSync(modelDir(c), join(base2, c));
  symlinkSync(resolve(FIXTURES, 'tokenizer'), join(base2, 'tokenizer'));
  writeFileSync(join(base2, 'scheduler', 'scheduler_config.json'), JSON.stringify({ beta_schedule: 'wobbly' }));
  const r = pasd('upscale', thin, '-o', join(dir, 't2'), ...fast, '--base', base2);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /beta_schedule/);
  noTrace(r.stderr);
});

test('weights full of NaN: the image is not written, the run says why (exit 1)', async () => {
  const nan = join(dir, 'pasd-nan');
  mkdirSync(join(nan, 'controlnet'), { recursive: true });
  symlinkSync(modelDir('pasd_unet'), join(nan, 'unet'));
  copyFileSync(join(modelDir('pasd_controlnet'), 'config.json'), join(nan, 'controlnet', 'config.json'));
  const f = openSafetensors(join(modelDir('pasd_controlnet'), 'diffusion_pytorch_model.safetensors'));
  writeSafetensors(join(nan, 'controlnet', 'diffusion_pytorch_model.safetensors'),
    [...f.tensors.values()].map((t) => ({ name: t.name, dtype: 'float32' as const, shape: t.shape, data: new Float32Array(f.readF32(t.name).length).fill(NaN) })));
  const inp = join(dir, 'nan-in.png');
  await image(8, 8).png().toFile(inp);
  const r = pasd('upscale', inp, '-o', join(dir, 'n1'), ...fast, '--model', nan);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /NaN or infinite values/);
  assert.deepEqual(readdirSync(join(dir, 'n1')), []);
});
