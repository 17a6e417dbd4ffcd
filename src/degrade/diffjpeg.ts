/**
 * DiffJPEG(differentiable=False) of PASD's `pasd/dataloader/basicsr/utils/diffjpeg.py` (after
 * mlomnitz/DiffJPEG): a JPEG round trip in floating point with per-sample quality.
 *
 * Steps, per sample: zero-pad bottom/right to a multiple of 16 (F.pad constant 0), ×255, RGB →
 * YCbCr (JPEG matrix, +128 on chroma), 4:2:0 chroma by 2×2 average, 8×8 blocks −128, DCT,
 * divide by the quality-scaled table and round (torch.round, half to even), multiply back,
 * IDCT +128, chroma upsampled by repetition, YCbCr → RGB, clamp to [0, 255], /255, crop.
 *
 * Quirks kept for parity: the standard luminance table is used *transposed* (its rows index
 * horizontal frequency), the quality → factor map is libjpeg's but without integer rounding or
 * the clamp of table entries to ≥ 1, and the factor is computed in float32.
 *
 * Where the original is wrong: quality 100 gives factor 0, a zero table, and 0/0 = NaN pixels.
 * Here factor 0 means "no quantisation" (coefficients kept as they are), the limit of the
 * original as quality → 100; the result is then only chroma subsampling plus clamping.
 */
import { InputError } from '../core/errors.ts';
import { type ImageBatch, emptyBatch } from './batch.ts';
import { roundHalfEven } from '../core/round.ts';

const f = Math.fround;

/** Standard JPEG luminance table (ITU T.81 K.1), row = vertical frequency. */
const Y_TABLE_STD = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** DiffJPEG's tables as used: luminance transposed; chrominance 99 except the symmetric 4×4 corner. */
const Y_TABLE = Float64Array.from({ length: 64 }, (_, i) => Y_TABLE_STD[(i % 8) * 8 + (i >> 3)]);
const C_CORNER = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99];
const C_TABLE = Float64Array.from({ length: 64 }, (_, i) => ((i >> 3) < 4 && i % 8 < 4 ? C_CORNER[(i >> 3) * 4 + (i % 8)] : 99));

/** COS[u*8 + x] = cos((2x+1)uπ/16); ALPHA[u] = 1/√2 for u = 0 else 1. */
const COS = Float64Array.from({ length: 64 }, (_, i) => Math.cos(((2 * (i % 8) + 1) * (i >> 3) * Math.PI) / 16));
const ALPHA = Float64Array.from({ length: 8 }, (_, u) => (u === 0 ? 1 / Math.SQRT2 : 1));

/** quality_to_factor in float32 (the original's quality is a float32 tensor). */
export function qualityToFactor(quality: number): number {
  if (!(quality > 0 && quality <= 100)) throw new InputError(`DiffJPEG quality: ${quality} must be in (0, 100]`);
  const q = f(quality);
  return quality < 50 ? f(f(5000 / q) / 100) : f(f(200 - f(q * 2)) / 100);
}

/** COS transposed: COS_T[x*8 + u] = cos((2x+1)uπ/16), the IDCT matrix. */
const COS_T = Float64Array.from({ length: 64 }, (_, i) => COS[(i % 8) * 8 + (i >> 3)]);

/** dst[dOff + k·dStride] = Σ_j m[k·8 + j]·src[sOff + j·sStride] for k < 8 (one 8-point transform). */
function transform8(src: Float64Array, sOff: number, sStride: number, dst: Float64Array, dOff: number, dStride: number, m: Float64Array): void {
  const x0 = src[sOff], x1 = src[sOff + sStride], x2 = src[sOff + 2 * sStride], x3 = src[sOff + 3 * sStride];
  const x4 = src[sOff + 4 * sStride], x5 = src[sOff + 5 * sStride], x6 = src[sOff + 6 * sStride], x7 = src[sOff + 7 * sStride];
  for (let k = 0; k < 8; k++) {
    const r = k * 8;
    dst[dOff + k * dStride] = m[r] * x0 + m[r + 1] * x1 + m[r + 2] * x2 + m[r + 3] * x3 + m[r + 4] * x4 + m[r + 5] * x5 + m[r + 6] * x6 + m[r + 7] * x7;
  }
}

/**
 * In-place JPEG round trip of one plane ([h, w], both multiples of 8, values 0..255):
 * per 8×8 block (rows x, columns y), coef[u,v] = ¼·α(u)α(v)·Σ_x Σ_y (p[x,y] − 128)·cos((2x+1)uπ/16)·cos((2y+1)vπ/16),
 * quantise with `table` (null: keep coefficients), then p[x,y] = ¼·Σ_u Σ_v α(u)α(v)·coef[u,v]·cos(…)·cos(…) + 128.
 * Both 2-D transforms are done as 8-point transforms along columns, then rows.
 */
function roundTripPlane(plane: Float64Array, h: number, w: number, table: Float64Array | null): void {
  const blk = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let by = 0; by < h; by += 8) {
    for (let bx = 0; bx < w; bx += 8) {
      for (let x = 0; x < 8; x++) for (let y = 0; y < 8; y++) blk[x * 8 + y] = plane[(by + x) * w + bx + y] - 128;
      for (let y = 0; y < 8; y++) transform8(blk, y, 8, tmp, y, 8, COS);
      for (let u = 0; u < 8; u++) transform8(tmp, u * 8, 1, blk, u * 8, 1, COS);
      for (let i = 0; i < 64; i++) {
        const aa = ALPHA[i >> 3] * ALPHA[i % 8];
        let coef = 0.25 * aa * blk[i];
        if (table !== null) coef = roundHalfEven(coef / table[i]) * table[i];
        blk[i] = coef * aa;
      }
      for (let v = 0; v < 8; v++) transform8(blk, v, 8, tmp, v, 8, COS_T);
      for (let x = 0; x < 8; x++) transform8(tmp, x * 8, 1, blk, x * 8, 1, COS_T);
      for (let x = 0; x < 8; x++) for (let y = 0; y < 8; y++) plane[(by + x) * w + bx + y] = 0.25 * blk[x * 8 + y] + 128;
    }
  }
}

/** float32 table × factor, as the original's `table * factor` on float32 tensors. */
function scaledTable(table: Float64Array, factor: number): Float64Array | null {
  if (factor === 0) return null;
  return table.map((t) => f(t * factor));
}

/**
 * DiffJPEG(differentiable=False)(img, quality): `img` RGB in [0, 1], `quality` one value per
 * sample in (0, 100]. Returns a new batch of the same size.
 */
export function diffJpeg(img: ImageBatch, quality: ArrayLike<number>): ImageBatch {
  const { n, c, h, w } = img;
  if (c !== 3) throw new InputError(`DiffJPEG: expected an RGB batch (3 channels), got ${c}`);
  if (quality.length !== n) throw new InputError(`DiffJPEG quality: got ${quality.length} values for a batch of ${n}`);
  const hp = Math.ceil(h / 16) * 16;
  const wp = Math.ceil(w / 16) * 16;
  const hc = hp / 2, wc = wp / 2;
  const out = emptyBatch(n, 3, h, w);
  const hw = h * w;
  const yP = new Float64Array(hp * wp);
  const cbP = new Float64Array(hc * wc);
  const crP = new Float64Array(hc * wc);
  const cbFull = new Float64Array(hp * wp);
  const crFull = new Float64Array(hp * wp);
  for (let b = 0; b < n; b++) {
    const factor = qualityToFactor(quality[b]);
    const src = b * 3 * hw;
    // RGB → YCbCr of the zero-padded image (padding is black: Y 0, Cb = Cr = 128).
    for (let y = 0; y < hp; y++)
      for (let x = 0; x < wp; x++) {
        const inside = y < h && x < w;
        const i = y * w + x;
        const r = inside ? img.data[src + i] * 255 : 0;
        const g = inside ? img.data[src + hw + i] * 255 : 0;
        const bl = inside ? img.data[src + 2 * hw + i] * 255 : 0;
        const o = y * wp + x;
        yP[o] = 0.299 * r + 0.587 * g + 0.114 * bl;
        cbFull[o] = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128;
        crFull[o] = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128;
      }
    for (let y = 0; y < hc; y++)
      for (let x = 0; x < wc; x++) {
        const o = 2 * y * wp + 2 * x;
        cbP[y * wc + x] = (cbFull[o] + cbFull[o + 1] + cbFull[o + wp] + cbFull[o + wp + 1]) / 4;
        crP[y * wc + x] = (crFull[o] + crFull[o + 1] + crFull[o + wp] + crFull[o + wp + 1]) / 4;
      }
    roundTripPlane(yP, hp, wp, scaledTable(Y_TABLE, factor));
    const ct = scaledTable(C_TABLE, factor);
    roundTripPlane(cbP, hc, wc, ct);
    roundTripPlane(crP, hc, wc, ct);
    const dst = b * 3 * hw;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const yy = yP[y * wp + x];
        const cb = cbP[(y >> 1) * wc + (x >> 1)] - 128;
        const cr = crP[(y >> 1) * wc + (x >> 1)] - 128;
        const rgb = [yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb];
        for (let k = 0; k < 3; k++) {
          const v = rgb[k];
          out.data[dst + k * hw + y * w + x] = (v < 0 ? 0 : v > 255 ? 255 : v) / 255;
        }
      }
  }
  return out;
}
