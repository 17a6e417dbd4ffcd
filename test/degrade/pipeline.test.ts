// The two-stage pipeline: determinism by seed, output sizes and levels, the record explains the
// result (replaying it through the pieces gives the same bytes), and typed input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/core/random.ts';
import { InputError, ShapeError } from '../../src/core/errors.ts';
import { type ImageBatch, clampBatch, imageBatch } from '../../src/degrade/batch.ts';
import { parseDegradationConfig } from '../../src/degrade/config.ts';
import { diffJpeg } from '../../src/degrade/diffjpeg.ts';
import { filter2D } from '../../src/degrade/filter.ts';
import { kernelFromParams, padKernel, type KernelParams } from '../../src/degrade/kernels.ts';
import { degradeImage } from '../../src/degrade/pipeline.ts';
import { interpolate } from '../../src/degrade/resize.ts';

/** A smooth synthetic HR image with some edges, [1, 3, h, w]. */
function hrImage(h: number, w: number): ImageBatch {
  const d = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        d[(c * h + y) * w + x] = 0.5 + 0.3 * Math.sin(x * 0.21 + c) * Math.cos(y * 0.13) + ((x >> 3) + (y >> 3)) % 2 * 0.15;
  return imageBatch(d, 1, 3, h, w);
}

const HR = hrImage(96, 120);

test('the same seed gives identical LQ bytes and record; other seeds differ', async () => {
  const a = await degradeImage(HR, new Random(42));
  const b = await degradeImage(HR, new Random(42));
  assert.deepEqual(a.lq.data, b.lq.data);
  assert.deepEqual(a.record, b.record);
  const c = await degradeImage(HR, new Random(43));
  assert.notDeepEqual(c.lq.data, a.lq.data);
});

test('LQ is floor(HR/scale), 8-bit levels in [0, 1]; every branch is reached over seeds', async () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 14; seed++) {
    const { gt, lq, record } = await degradeImage(HR, new Random(seed));
    assert.equal(gt, HR, 'the GT is passed through untouched by default');
    assert.deepEqual([lq.n, lq.c, lq.h, lq.w], [1, 3, 24, 30]);
    for (const v of lq.data) {
      assert.ok(v >= 0 && v <= 1);
      assert.equal(Math.fround(Math.round(v * 255) / 255), v);
    }
    assert.deepEqual(record.resize2.size, [Math.trunc((96 / 4) * record.resize2.scale), Math.trunc((120 / 4) * record.resize2.scale)]);
    assert.ok(record.jpegQuality1 >= 60 && record.jpegQuality1 < 95 && record.jpegQuality2 >= 60 && record.jpegQuality2 <= 100);
    seen.add(record.order).add(record.noise1.kind).add(record.finalSinc.type).add(record.resize1.direction).add(`second:${record.secondBlur}`);
  }
  for (const k of ['resize_sinc_then_jpeg', 'jpeg_then_resize_sinc', 'gaussian', 'poisson', 'sinc', 'pulse', 'up', 'down', 'second:true', 'second:false'])
    assert.ok(seen.has(k), `branch ${k} never taken`);
});

test('the record replays through the pieces to the same bytes (noise switched off)', async () => {
  // Zero-sigma Gaussian noise still consumes its draws but adds nothing, so the rest is deterministic.
  const { config } = parseDegradationConfig({ gaussian_noise_prob: 1, noise_range: [0, 0], gaussian_noise_prob2: 1, noise_range2: [0, 0] });
  for (const seed of [1, 2, 3, 4]) {
    const { lq, record } = await degradeImage(HR, new Random(seed), { config });
    const k = (p: KernelParams) => {
      const kk = padKernel(kernelFromParams(p), 21);
      return { size: kk.size, data: Float32Array.from(kk.data) };
    };
    let out = interpolate(filter2D(HR, k(record.kernel1)), { scaleFactor: record.resize1.scale, mode: record.resize1.mode });
    out = diffJpeg(clampBatch(out, 0, 1), [record.jpegQuality1]);
    if (record.secondBlur) out = filter2D(out, k(record.kernel2));
    out = interpolate(out, { size: record.resize2.size, mode: record.resize2.mode });
    const resizeSinc = (x: ImageBatch) => filter2D(interpolate(x, { size: [24, 30], mode: record.finalResizeMode }), k(record.finalSinc));
    const jpeg = (x: ImageBatch) => diffJpeg(clampBatch(x, 0, 1), [record.jpegQuality2]);
    out = record.order === 'resize_sinc_then_jpeg' ? jpeg(resizeSinc(out)) : resizeSinc(jpeg(out));
    const expected = out.data.map((v) => Math.min(255, Math.max(0, Math.round(v * 255))) / 255);
    let mismatches = 0;
    for (let i = 0; i < expected.length; i++) if (Math.abs(expected[i] - lq.data[i]) > 1e-6) mismatches++;
    // Round-half-even vs Math.round can only differ on exact .5 ties.
    assert.ok(mismatches <= 2, `seed ${seed}: ${mismatches} mismatching values`);
  }
});

test('options: resizeBack, hflip, USM on the GT, the real codec', async () => {
  const back = await degradeImage(HR, new Random(5), { resizeBack: true });
  assert.deepEqual([back.lq.h, back.lq.w], [96, 120]);
  assert.notEqual(back.record.resizeBackMode, null);
  let flipped = false;
  for (let seed = 0; seed < 6 && !flipped; seed++) {
    const r = await degradeImage(HR, new Random(seed), { hflip: true });
    if (!r.record.hflip) continue;
    flipped = true;
    assert.equal(r.gt.data[0], HR.data[119]);
  }
  assert.ok(flipped);
  const usm = await degradeImage(HR, new Random(5), { usmSharpGt: true });
  assert.notDeepEqual(usm.gt.data, HR.data);
  const codec = await degradeImage(HR, new Random(5), { jpeg: 'codec' });
  assert.deepEqual([codec.lq.h, codec.lq.w], [24, 30]);
  // Draws up to the first JPEG do not depend on the backend (later Poisson draws depend on pixel values).
  const diff = (await degradeImage(HR, new Random(5))).record;
  for (const key of ['kernel1', 'kernel2', 'finalSinc', 'resize1', 'noise1', 'jpegQuality1'] as const) assert.deepEqual(codec.record[key], diff[key], key);
});

test('too-small or malformed inputs are typed errors naming the input', async () => {
  await assert.rejects(degradeImage(hrImage(1, 1), new Random(1), { name: 'tiny.png' }),
    (e: unknown) => e instanceof InputError && /tiny\.png/.test(e.message) && /at least 74 px/.test(e.message));
  await assert.rejects(degradeImage(hrImage(73, 200), new Random(1)), InputError);
  await degradeImage(hrImage(74, 74), new Random(1));
  await assert.rejects(degradeImage(imageBatch(new Float32Array(2 * 3 * 80 * 80), 2, 3, 80, 80), new Random(1)), ShapeError);
});
