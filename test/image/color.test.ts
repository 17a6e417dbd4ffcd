// PIL convert('L') and the colorization preprocessing / YUV merge of test_pasd.py, against
// fixture `pipeline_colorization` (its image-only tensors; the pipeline itself is tested elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grayToRgb, mergeLumaChroma, rgbToGray, rgbToYuv, yuvToRgb } from '../../src/image/color.ts';
import { resize, torchvisionResize } from '../../src/image/resample.ts';
import { cvResizeLinear } from '../../src/image/cv-resize.ts';
import { makeImage, type Image } from '../../src/image/image.ts';
import { fixtureCase, maxAbsDiff, u8Image } from './fixture.ts';

const { spec, file } = fixtureCase('pipeline_colorization');
const settings = (spec as unknown as { settings: { process_size: number } }).settings;

function swapRB(img: Image): Image {
  const d = img.data.slice();
  for (let i = 0; i < d.length; i += 3) [d[i], d[i + 2]] = [d[i + 2], d[i]];
  return makeImage(img.width, img.height, 3, d);
}

test("convert('L').convert('RGB') matches PIL exactly", () => {
  const gray = grayToRgb(rgbToGray(u8Image(file, 'input.rgb_u8')));
  assert.equal(maxAbsDiff(gray.data, u8Image(file, 'output.gray_input_u8').data).max, 0);
});

test('grayscale preprocessing: Resize(process_size, max_size=2·process_size) then multiple-of-8 resize', () => {
  const gray = u8Image(file, 'output.gray_input_u8');
  const p = settings.process_size;
  const r = torchvisionResize(gray, p, { maxSize: 2 * p });
  const got = resize(r, Math.floor(r.width / 8) * 8, Math.floor(r.height / 8) * 8);
  assert.equal(maxAbsDiff(got.data, u8Image(file, 'output.pipeline_input_u8').data).max, 0);
});

test('YUV merge keeps the grayscale luma and the generated chroma (cv2 8-bit, exact)', () => {
  const gray = u8Image(file, 'output.gray_input_u8');
  const chroma = swapRB(u8Image(file, 'output.color_resized_bgr_u8'));
  const got = mergeLumaChroma(gray, chroma);
  assert.equal(maxAbsDiff(got.data, u8Image(file, 'output.colorized_u8').data).max, 0);
});

test('YUV round trip is within 1 of the input and gray stays gray', () => {
  const img = makeImage(16, 16, 3, Uint8Array.from({ length: 768 }, (_, i) => (i * 53) & 255));
  assert.ok(maxAbsDiff(yuvToRgb(rgbToYuv(img)).data, img.data).max <= 2);
  const g = grayToRgb(makeImage(256, 1, 1, Uint8Array.from({ length: 256 }, (_, i) => i)));
  const yuv = rgbToYuv(g);
  for (let i = 0; i < 256; i++) assert.deepEqual([...yuv.data.subarray(i * 3, i * 3 + 3)], [i, 128, 128]);
});

test('cv2.resize INTER_LINEAR of the generated image to the input size matches OpenCV exactly', () => {
  const out = swapRB(u8Image(file, 'output.image_u8'));
  const expected = u8Image(file, 'output.color_resized_bgr_u8');
  const got = cvResizeLinear(out, expected.width, expected.height);
  assert.equal(maxAbsDiff(got.data, expected.data).max, 0);
});

test('cvResizeLinear: exact 2x reduction is the rounded 2x2 mean; constant images stay constant', () => {
  const img = makeImage(4, 2, 1, Uint8Array.from([0, 1, 10, 20, 2, 4, 30, 41]));
  assert.deepEqual([...cvResizeLinear(img, 2, 1).data], [2, 25]); // (0+1+2+4+2)>>2, (10+20+30+41+2)>>2
  const flat = cvResizeLinear(makeImage(13, 9, 3, new Uint8Array(13 * 9 * 3).fill(200)), 31, 5);
  assert.ok(flat.data.every((v) => v === 200));
});
