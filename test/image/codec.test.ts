// Decode/encode through sharp: PIL-equal pixels on real files (fixture crops), round trips,
// alpha handling, EXIF orientation, and the input errors (cap from the header, corrupt, empty).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, encodeImage, readImage, writeImage, compositeOver, formatFromPath } from '../../src/image/codec-node.ts';
import { makeImage, type Image } from '../../src/image/image.ts';
import { InputError } from '../../src/core/errors.ts';
import { fixtureCase, maxAbsDiff, u8Image } from './fixture.ts';

const EVAL = resolve(process.cwd(), '../shared/data/eval');
let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'pasd-image-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function crop(img: Image, y0: number, x0: number, h: number, w: number): Uint8Array {
  const c = img.channels;
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * c, ((y0 + y) * img.width + x0 + w) * c), y * w * c);
  return out;
}

function pattern(w: number, h: number, c: number): Image {
  return makeImage(w, h, c, Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + (i >> 5) * 11) & 255));
}

test('decoding real PNGs gives the pixels PIL gave the fixtures', async () => {
  // pipeline_colorization input.rgb_u8 is PIL's crop [20:68, 30:90] of RealSRSet/LR/dog.png.
  const dog = await readImage(join(EVAL, 'RealSRSet/LR/dog.png'));
  const { file } = fixtureCase('pipeline_colorization');
  assert.equal(maxAbsDiff(crop(dog.rgb, 20, 30, 48, 60), u8Image(file, 'input.rgb_u8').data).max, 0);
  // metrics_basicsr input.pair0_hr_u8 is the crop [40:88, 72:168] of Set5/HR/butterfly.png.
  const bf = await readImage(join(EVAL, 'Set5/HR/butterfly.png'));
  const m = fixtureCase('metrics_basicsr');
  assert.equal(maxAbsDiff(crop(bf.rgb, 40, 72, 48, 96), u8Image(m.file, 'input.pair0_hr_u8').data).max, 0);
});

test('Set5 LR baby.png decodes as 128x128 RGB without alpha and round-trips through PNG', async () => {
  const baby = await readImage(join(EVAL, 'Set5/LR/baby.png'));
  assert.deepEqual([baby.rgb.width, baby.rgb.height, baby.rgb.channels, baby.format, baby.alpha], [128, 128, 3, 'png', null]);
  const p = join(dir, 'baby.png');
  await writeImage(p, baby.rgb);
  const back = await readImage(p);
  assert.deepEqual(back.rgb.data, baby.rgb.data);
});

test('PNG and lossless WebP round trips are exact; JPEG q100 is close', async () => {
  const img = pattern(19, 13, 3);
  for (const [format, lossless] of [['png', false], ['webp', true]] as const) {
    const back = await decodeImage(await encodeImage(img, { format, lossless }));
    assert.deepEqual(back.rgb.data, img.data, format);
  }
  const smooth = makeImage(32, 16, 3, Uint8Array.from({ length: 32 * 16 * 3 }, (_, i) => 40 + ((i / 3) % 32) * 4));
  const jpg = await decodeImage(await encodeImage(smooth, { format: 'jpeg', quality: 100 }));
  assert.equal(jpg.format, 'jpeg');
  assert.ok(maxAbsDiff(jpg.rgb.data, smooth.data).max <= 3);
});

test('grayscale becomes RGB with L replicated', async () => {
  const g = pattern(9, 7, 1);
  const back = await decodeImage(await encodeImage(g, { format: 'png' }));
  assert.equal(back.rgb.channels, 3);
  for (let i = 0; i < g.data.length; i++) assert.deepEqual([...back.rgb.data.subarray(i * 3, i * 3 + 3)], [g.data[i], g.data[i], g.data[i]]);
});

test('alpha: kept separately (RGB unchanged) or composited over a background', async () => {
  const rgb = pattern(6, 5, 3);
  const alpha = makeImage(6, 5, 1, Uint8Array.from({ length: 30 }, (_, i) => (i * 9) % 256));
  const bytes = await encodeImage(rgb, { format: 'png', alpha });
  const sep = await decodeImage(bytes);
  assert.deepEqual(sep.rgb.data, rgb.data);
  assert.deepEqual(sep.alpha?.data, alpha.data);
  const comp = await decodeImage(bytes, { alpha: 'composite', background: [0, 0, 0] });
  assert.equal(comp.alpha, null);
  assert.deepEqual(comp.rgb.data, compositeOver(sep.rgb, alpha, [0, 0, 0]).data);
  assert.equal(comp.rgb.data[3 * 3], Math.round((rgb.data[3 * 3] * 27) / 255)); // pixel 3, alpha 27, over black
  await assert.rejects(encodeImage(rgb, { format: 'jpeg', alpha }), InputError);
});

test('EXIF orientation is applied by default and can be turned off', async () => {
  const img = pattern(8, 4, 3);
  // Orientation 6: the stored 8x4 image displays rotated 90° clockwise, as 4x8.
  const bytes = await sharp(img.data, { raw: { width: 8, height: 4, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
  const turned = await decodeImage(bytes);
  assert.deepEqual([turned.rgb.width, turned.rgb.height], [4, 8]);
  // Rotating clockwise puts the stored bottom-left pixel at the displayed top-left.
  assert.deepEqual([...turned.rgb.data.subarray(0, 3)], [...img.data.subarray(3 * 8 * 3, 3 * 8 * 3 + 3)]);
  const asStored = await decodeImage(bytes, { autoOrient: false });
  assert.deepEqual(asStored.rgb.data, img.data);
});

test('the pixel cap is checked from the header, before decoding, and names file, size and option', async () => {
  const p = join(dir, 'big.png');
  writeFileSync(p, await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080' } }).png().toBuffer());
  await assert.rejects(readImage(p, { maxPixels: 50_000 }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /big\.png/);
    assert.match(e.message, /300x200 = 60000 pixels/);
    assert.match(e.message, /maxPixels/);
    return true;
  });
  // A header claiming a huge size is refused even though the pixel data is garbage.
  const bytes = readFileSync(p);
  const fake = Buffer.from(bytes.subarray(0, 64));
  fake.writeUInt32BE(100_000, 16); // IHDR width
  fake.writeUInt32BE(100_000, 20); // IHDR height
  fake.writeUInt32BE(crc32(fake.subarray(12, 29)), 29); // IHDR CRC over type + data
  await assert.rejects(decodeImage(fake, { name: 'fake.png' }), /fake\.png: 100000x100000 = 10000000000 pixels exceeds the cap/);
  assert.equal((await readImage(p, { maxPixels: 60_000 })).rgb.width, 300);
});

test('corrupt, truncated, empty, missing and non-image inputs raise InputError naming the file', async () => {
  const good = await encodeImage(pattern(40, 30, 3), { format: 'png' });
  const cases: [string, Uint8Array][] = [
    ['truncated.png', good.subarray(0, good.length - 40)],
    ['garbage.png', Buffer.from('definitely not an image')],
    ['empty.png', new Uint8Array(0)],
    ['drawing.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')],
  ];
  for (const [name, bytes] of cases) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    await assert.rejects(readImage(p), (e: unknown) => e instanceof InputError && e.message.startsWith(p), name);
  }
  await assert.rejects(readImage(join(dir, 'missing.png')), /missing\.png: cannot read image \(no such file\)/);
});

test('output format comes from the extension', () => {
  assert.equal(formatFromPath('a/b.JPG'), 'jpeg');
  assert.equal(formatFromPath('x.webp'), 'webp');
  assert.throws(() => formatFromPath('x.bmp'), InputError);
});
