// DiffJPEG(differentiable=False) parity (fixture `degradations`), our quality-100 rule, and the
// real-codec option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors.ts';
import { imageBatch } from '../../src/degrade/batch.ts';
import { diffJpeg, qualityToFactor } from '../../src/degrade/diffjpeg.ts';
import { codecJpeg } from '../../src/degrade/jpeg-codec.ts';
import { fixtureCase, maxAbsDiff } from './fixture.ts';

const fx = fixtureCase('degradations');
const image = fx.batch('input.image');

/**
 * torch.round ties can flip a DCT coefficient in the original (README), which moves a whole 8×8
 * block by a quantisation step. So: at most 0.1% of values may exceed the tolerance, and none by
 * more than one step can move a pixel (< 0.1).
 */
function assertJpegClose(name: string, ours: Float32Array): void {
  const exp = fx.f32(name);
  const tol = fx.tolerance(name);
  let bad = 0;
  for (let i = 0; i < exp.length; i++) if (!(Math.abs(ours[i] - exp[i]) <= tol)) bad++;
  const { max } = maxAbsDiff(ours, exp);
  assert.ok(bad <= exp.length * 1e-3, `${name}: ${bad} of ${exp.length} values beyond ${tol}`);
  assert.ok(max < 0.1, `${name}: max |diff| ${max}`);
}

test('every DiffJPEG output matches the original (per-sample qualities, and sizes not a multiple of 16)', () => {
  let n = 0;
  for (const t of fx.spec.tensors) {
    const m = /^output\.diffjpeg_(.+)$/.exec(t.name);
    if (!m) continue;
    const qName = `input.diffjpeg_${m[1]}_quality`;
    let input = image;
    let quality: ArrayLike<number>;
    if (fx.file.tensors.has(qName)) {
      quality = fx.f32(qName);
    } else {
      // e.g. "DiffJPEG(differentiable=False)(image_odd, quality=70)"
      const call = /\)\((\w+), quality=([\d.]+)\)/.exec(fx.meaning(t.name));
      assert.ok(call, `${t.name}: cannot read the input and quality from its meaning`);
      input = fx.batch(`input.${call[1]}`);
      quality = Array(input.n).fill(Number(call[2]));
    }
    const out = diffJpeg(input, quality);
    assert.deepEqual([out.n, out.c, out.h, out.w], fx.shape(t.name), t.name);
    assertJpegClose(t.name, out.data);
    n++;
  }
  assert.ok(n >= 3, `${n} DiffJPEG outputs found`);
  // The public set has a size that is not a multiple of 16 (zero padding, then crop).
  assert.ok(fx.shape('input.image_odd')[2] % 16 !== 0);
});

test('quality 100 means no quantisation (the original gives NaN): the limit of quality → 100', () => {
  assert.equal(qualityToFactor(100), 0);
  const q100 = diffJpeg(image, [100, 100]).data;
  assert.ok(q100.every(Number.isFinite));
  assert.ok(maxAbsDiff(q100, diffJpeg(image, [99.99, 99.99]).data).max < 2e-3);
  // A flat colour survives 4:2:0 and an unquantised DCT exactly (up to float error).
  const flat = imageBatch(new Float32Array(3 * 16 * 16).map((_, i) => [0.2, 0.5, 0.9][Math.floor(i / 256)]), 1, 3, 16, 16);
  assert.ok(maxAbsDiff(diffJpeg(flat, [100]).data, flat.data).max < 1e-6);
  // Lower quality loses more.
  const err = (q: number) => maxAbsDiff(diffJpeg(image, [q, q]).data, image.data).max;
  assert.ok(err(10) > err(50) && err(50) > err(100));
});

test('DiffJPEG rejects qualities outside (0, 100] and non-RGB input', () => {
  for (const q of [0, -5, 100.5, NaN]) assert.throws(() => diffJpeg(image, [q, 50]), (e: unknown) => e instanceof InputError && /quality/.test(e.message));
  assert.throws(() => diffJpeg(image, [50]), InputError);
  assert.throws(() => diffJpeg(imageBatch(new Float32Array(16 * 16), 1, 1, 16, 16), [50]), InputError);
});

test('the real codec option round-trips through libjpeg with a loss like DiffJPEG at the same quality', async () => {
  const meanErr = (d: Float32Array) => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += Math.abs(d[i] - image.data[i]);
    return s / d.length;
  };
  let previous = Infinity;
  for (const q of [10, 60, 95]) {
    const out = await codecJpeg(image, [q, q]);
    assert.deepEqual([out.n, out.c, out.h, out.w], [2, 3, 64, 80]);
    const codec = meanErr(out.data);
    const diff = meanErr(diffJpeg(image, [q, q]).data);
    assert.ok(Math.abs(codec / diff - 1) < 0.25, `quality ${q}: codec mean error ${codec} vs DiffJPEG ${diff}`);
    assert.ok(codec < previous, 'higher quality loses less');
    previous = codec;
  }
  await assert.rejects(codecJpeg(image, [0, 50]), InputError);
});
