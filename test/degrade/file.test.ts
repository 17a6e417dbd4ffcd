// degradeFile: decode → degrade → write LQ (+ record JSON); reproducible bytes; typed input errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Random } from '../../src/core/random.ts';
import { InputError } from '../../src/core/errors.ts';
import { degradeFile } from '../../src/degrade/file.ts';

let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pasd-degrade-file-'));
  const w = 100, h = 90;
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) px[i * 3 + c] = (((i % w) * 3 + Math.floor(i / w) * 5 + c * 40) ^ (i % 7)) & 255;
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, 'hr.png'));
  await sharp(Buffer.from([1, 2, 3]), { raw: { width: 1, height: 1, channels: 3 } }).png().toFile(join(dir, 'one.png'));
  writeFileSync(join(dir, 'notes.png'), 'not an image');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('degradeFile writes a floor(size/4) LQ PNG and the record; same seed, same bytes', async () => {
  const record = await degradeFile(join(dir, 'hr.png'), join(dir, 'lq.png'), new Random(9), { paramsPath: join(dir, 'lq.json') });
  const meta = await sharp(join(dir, 'lq.png')).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [25, 22, 3]);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'lq.json'), 'utf8')), record);
  await degradeFile(join(dir, 'hr.png'), join(dir, 'lq2.png'), new Random(9));
  assert.deepEqual(readFileSync(join(dir, 'lq2.png')), readFileSync(join(dir, 'lq.png')));
  await degradeFile(join(dir, 'hr.png'), join(dir, 'lq3.png'), new Random(10));
  assert.notDeepEqual(readFileSync(join(dir, 'lq3.png')), readFileSync(join(dir, 'lq.png')));
});

test('a non-image file and a 1×1 image are InputErrors naming the file', async () => {
  await assert.rejects(degradeFile(join(dir, 'notes.png'), join(dir, 'x.png'), new Random(1)),
    (e: unknown) => e instanceof InputError && e.message.includes('notes.png'));
  await assert.rejects(degradeFile(join(dir, 'one.png'), join(dir, 'x.png'), new Random(1)),
    (e: unknown) => e instanceof InputError && e.message.includes('one.png') && /too small/.test(e.message));
});
