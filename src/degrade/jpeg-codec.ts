/**
 * JPEG through a real codec (sharp's libjpeg), the alternative to DiffJPEG and the equivalent of
 * BasicSR's numpy path (`add_jpg_compression`, cv2.imencode): integer quantisation tables clamped
 * to ≥ 1, 8-bit input, the codec's own integer DCT. Offered for users who want the artefacts of
 * an actual encoder; quality 100 is well defined there.
 */
import sharp from 'sharp';
import { InputError } from '../core/errors.ts';
import { type ImageBatch, emptyBatch } from './batch.ts';
import { roundHalfEven } from '../core/round.ts';

/**
 * Encodes every sample as a baseline JPEG (4:2:0 chroma, like cv2's default) at its quality
 * rounded to an integer in 1..100, and decodes it back to [0, 1].
 */
export async function codecJpeg(img: ImageBatch, quality: ArrayLike<number>): Promise<ImageBatch> {
  const { n, c, h, w } = img;
  if (c !== 3) throw new InputError(`codecJpeg: expected an RGB batch (3 channels), got ${c}`);
  if (quality.length !== n) throw new InputError(`codecJpeg quality: got ${quality.length} values for a batch of ${n}`);
  const hw = h * w;
  const out = emptyBatch(n, 3, h, w);
  for (let b = 0; b < n; b++) {
    const q = quality[b];
    if (!(q > 0 && q <= 100)) throw new InputError(`codecJpeg quality: ${q} must be in (0, 100]`);
    const hwc = Buffer.alloc(hw * 3);
    for (let i = 0; i < hw; i++)
      for (let k = 0; k < 3; k++) {
        const v = roundHalfEven(Math.fround(img.data[(b * 3 + k) * hw + i] * 255));
        hwc[i * 3 + k] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    const jpeg = await sharp(hwc, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: Math.min(100, Math.max(1, Math.round(q))), chromaSubsampling: '4:2:0' })
      .toBuffer();
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== w || info.height !== h)
      throw new InputError(`codecJpeg: the codec returned ${info.width}×${info.height}×${info.channels}, expected ${w}×${h}×3`);
    for (let i = 0; i < hw; i++) for (let k = 0; k < 3; k++) out.data[(b * 3 + k) * hw + i] = data[i * 3 + k] / 255;
  }
  return out;
}
