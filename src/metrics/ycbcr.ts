/**
 * BT.601 studio-swing YCbCr as BasicSR v1.4.2 computes it (`basicsr/utils/color_util.py`,
 * MATLAB's `rgb2ycbcr`): Y = 16 + (65.481 R + 128.553 G + 24.966 B) with R, G, B in [0, 1].
 *
 * BasicSR's scripts read images with cv2 (BGR) and measure Y with `bgr2ycbcr`; our images are
 * RGB, so `metricY` applies the same weights to the right channels (feeding RGB to
 * `bgr2ycbcr`, as some scripts do by mistake, would swap the R and B weights).
 */
import { ShapeError } from '../core/errors.ts';
import { roundHalfEven } from '../core/round.ts';
import { type Image, makeImage } from '../image/image.ts';
import { type FloatImage, floatImage } from './float-image.ts';

const f32 = Math.fround;

/** Rows: Y, Cb, Cr; columns: the weights of R, G, B (values in [0, 1] → [0, 255] scale). */
const YCBCR = [
  [65.481, 128.553, 24.966],
  [-37.797, -74.203, 112.0],
  [112.0, -93.786, -18.214],
] as const;
const OFFSET = [16, 128, 128] as const;

/**
 * BasicSR's `to_y_channel` (metric_util.py) on an RGB uint8 image: the Y plane on the
 * [0, 255] scale, without rounding, with BasicSR's float32 steps (`u8/255` and the result
 * stored as float32, the dot product in float64). Other channel counts pass through as
 * float, as BasicSR leaves them.
 */
export function metricY(img: Image): FloatImage {
  const { width, height, channels, data } = img;
  if (channels !== 3) {
    const out = new Float64Array(data.length);
    out.set(data);
    return floatImage(width, height, channels, out);
  }
  const n = width * height;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = f32(data[3 * i] / 255), g = f32(data[3 * i + 1] / 255), b = f32(data[3 * i + 2] / 255);
    // np.dot over BGR order, float64; + 16; `/ 255.` then astype(float32); `* 255.` stays float32.
    const y = b * 24.966 + g * 128.553 + r * 65.481 + 16.0;
    out[i] = f32(f32(y / 255) * 255);
  }
  return floatImage(width, height, 1, out);
}

function checkRgb(img: { channels: number }, what: string): void {
  if (img.channels !== 3) throw new ShapeError(`${what}: expected an RGB image (3 channels), got ${img.channels}`);
}

/** The three weighted sums of one pixel (R, G, B in [0, 1]) in the numpy order, float64. */
function ycbcrOf(r: number, g: number, b: number, row: readonly number[]): number {
  return r * row[0] + g * row[1] + b * row[2];
}

/**
 * `rgb2ycbcr(uint8, y_only)`: uint8 in → uint8 out, rounded half to even (numpy `round`).
 * `yOnly` gives a 1-channel image.
 */
export function rgb2ycbcrU8(img: Image, yOnly = false): Image {
  checkRgb(img, 'rgb2ycbcr');
  const n = img.width * img.height;
  const c = yOnly ? 1 : 3;
  const out = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) {
    const r = f32(img.data[3 * i] / 255), g = f32(img.data[3 * i + 1] / 255), b = f32(img.data[3 * i + 2] / 255);
    for (let k = 0; k < c; k++) out[i * c + k] = roundHalfEven(ycbcrOf(r, g, b, YCBCR[k]) + OFFSET[k]);
  }
  return makeImage(img.width, img.height, c, out);
}

/**
 * `rgb2ycbcr(float32 in [0, 1], y_only)`: float32 YCbCr in [0, 1] (Y in [16, 235]/255),
 * returned as float32-rounded float64 values.
 */
export function rgb2ycbcrFloat(img: FloatImage, yOnly = false): FloatImage {
  checkRgb(img, 'rgb2ycbcr');
  const n = img.width * img.height;
  const c = yOnly ? 1 : 3;
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    const r = f32(img.data[3 * i]), g = f32(img.data[3 * i + 1]), b = f32(img.data[3 * i + 2]);
    for (let k = 0; k < c; k++) out[i * c + k] = f32((ycbcrOf(r, g, b, YCBCR[k]) + OFFSET[k]) / 255);
  }
  return floatImage(img.width, img.height, c, out);
}
