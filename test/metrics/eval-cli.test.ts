/**
 * `pasd eval` in SR-folder mode on two Set5 crops: an SR folder holding exactly the bicubic
 * baseline must score exactly like the baseline row, scores must equal the library metrics
 * on the same images, comparison strips are written; bad folders give named errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { readImage, writeImage } from '../../src/image/codec-node.ts';
import { type Image, makeImage } from '../../src/image/image.ts';
import { imresizeU8 } from '../../src/metrics/imresize.ts';
import { niqe } from '../../src/metrics/niqe.ts';
import { psnr, ssim } from '../../src/metrics/psnr-ssim.ts';

const SET5 = resolve(process.cwd(), '../shared/data/eval/Set5/HR');
let dir = '';
const hrDir = () => join(dir, 'HR');
const srDir = () => join(dir, 'SR');

function pasdEval(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', 'eval', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 193×130 crops (not multiples of 4: the HR gets cropped to 192×128, two NIQE blocks). */
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pasd-eval-'));
  mkdirSync(hrDir());
  mkdirSync(srDir());
  for (const [name, left, top] of [['bird', 40, 60], ['butterfly', 30, 50]] as const) {
    await sharp(join(SET5, `${name}.png`)).extract({ left, top, width: 193, height: 130 }).png().toFile(join(hrDir(), `${name}.png`));
    const hr = (await readImage(join(hrDir(), `${name}.png`))).rgb;
    const cropped = crop(hr, 192, 128);
    await writeImage(join(srDir(), `${name}.png`), imresizeU8(imresizeU8(cropped, 1 / 4), 4));
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

function crop(img: Image, w: number, h: number): Image {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * 3, (y * img.width + w) * 3), y * w * 3);
  return makeImage(w, h, 3, data);
}

test('pasd eval --sr: per-image and mean scores, bicubic baseline, comparison strips', async () => {
  const cmp = join(dir, 'cmp');
  const r = pasdEval('--hr', hrDir(), '--sr', srDir(), '--json', '--compare', cmp);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.methods.map((m: { id: string }) => m.id), ['bicubic', 'sr']);
  assert.equal(report.rows.length, 4);
  for (const name of ['bird', 'butterfly']) {
    const [bic, sr] = ['bicubic', 'sr'].map((m) => report.rows.find((x: { image: string; method: string }) => x.image === name && x.method === m).scores);
    assert.deepEqual(sr, bic, `${name}: the SR folder holds the bicubic baseline`);
    const hr = crop((await readImage(join(hrDir(), `${name}.png`))).rgb, 192, 128);
    const out = (await readImage(join(srDir(), `${name}.png`))).rgb;
    assert.equal(sr.psnr, psnr(out, hr, { cropBorder: 4, testY: true }));
    assert.equal(sr.ssim, ssim(out, hr, { cropBorder: 4, testY: true }));
    assert.equal(sr.niqe, niqe(out));
    assert.ok(sr.psnr > 20 && sr.psnr < 40 && sr.ssim > 0.5 && sr.ssim < 1, `${name}: plausible bicubic scores`);
  }
  const mean = (k: string) => (report.rows[0].scores[k] + report.rows[2].scores[k]) / 2;
  assert.ok(Math.abs(report.means.bicubic.psnr - mean('psnr')) < 1e-12);
  assert.deepEqual(readdirSync(cmp).sort(), ['bird.png', 'butterfly.png']);
  const meta = await sharp(join(cmp, 'bird.png')).metadata();
  assert.deepEqual([meta.width, meta.height], [4 * 128 + 3 * 4, 128], 'LR | bicubic | SR | HR, 128 px crops, 4 px gaps');

  const md = pasdEval('--hr', hrDir(), '--sr', srDir(), '--no-niqe');
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /\| image \| method \| PSNR \(Y, crop 4\) ↑ \| SSIM \(Y, crop 4\) ↑ \|/);
  assert.match(md.stdout, /\| \*\*mean\*\* \(2\) \| \*\*bicubic\*\* \|/);
  assert.match(md.stdout, /`bicubic`: baseline: MATLAB bicubic/);
});

test('pasd eval: missing SR images, mis-sized SR images and bad arguments are named', async () => {
  const bad = join(dir, 'SR-bad');
  mkdirSync(bad);
  await writeImage(join(bad, 'bird.png'), makeImage(100, 60, 3));
  let r = pasdEval('--hr', hrDir(), '--sr', bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no SR image for 1 of 2 HR images: butterfly/);
  await writeImage(join(bad, 'butterfly.png'), makeImage(192, 128, 3));
  r = pasdEval('--hr', hrDir(), '--sr', bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /SR-bad\/bird\.png: 100x60 does not match its HR image \(192x128 after cropping to a multiple of the scale\)/);
  r = pasdEval('--hr', hrDir(), '--sr', srDir(), '--model', 'm', '--base', 'b');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /either --sr or --model\/--base, not both/);
});

/**
 * The published bicubic ×4 numbers for Set14 (Y, crop 4): 26.00 dB / 0.7027 (Kim et al., VDSR,
 * CVPR 2016, Table 2; the same in SRCNN, TPAMI 2016, and EDSR/RCAN). Set14's `bridge` is a
 * grayscale file and is measured as a plane, as those MATLAB scripts do.
 */
test('pasd eval on Set14 ×4 gives the literature bicubic PSNR/SSIM', () => {
  const r = pasdEval('--hr', resolve(process.cwd(), '../shared/data/eval/Set14/HR'), '--no-niqe', '--json');
  assert.equal(r.code, 0, r.stderr);
  const { bicubic } = JSON.parse(r.stdout).means;
  assert.equal(bicubic.images, 14);
  assert.ok(Math.abs(bicubic.psnr - 26.0) < 0.05, `PSNR ${bicubic.psnr} vs 26.00`);
  assert.ok(Math.abs(bicubic.ssim - 0.7027) < 0.001, `SSIM ${bicubic.ssim} vs 0.7027`);
});
