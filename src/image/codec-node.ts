/**
 * Image decode/encode in Node through sharp (libvips). The only file of src/image that
 * imports sharp, so the rest of the folder also runs in the browser.
 *
 * Decoding follows what test_pasd.py gets from `Image.open(path).convert('RGB')`, with two
 * deliberate differences, both switchable:
 * - EXIF orientation is applied (PIL's open ignores it, so the original upscales sideways
 *   photos sideways); `autoOrient: false` restores the original behaviour.
 * - alpha is not silently dropped: by default it is returned as its own 1-channel image, so the
 *   caller can upscale it separately (e.g. with `resize`) and re-attach it on encode; `alpha:
 *   'composite'` blends over a background colour instead. In both modes the RGB values equal
 *   PIL's `convert('RGB')` for opaque pixels.
 * Grayscale becomes RGB by replicating L (PIL `convert('RGB')`). 16-bit inputs are reduced to
 * 8 bits by libvips. Embedded ICC profiles are ignored, as PIL does, so pixel values match the
 * original's exactly.
 *
 * The pixel cap is checked from the header (sharp `metadata()`, which does not decode) before
 * any pixel buffer is allocated.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../core/atomic.ts';
import { InputError, ShapeError } from '../core/errors.ts';
import { makeImage, type Image, type RgbImage } from './image.ts';

/** 8192 × 8192 = 67 MP: ~200 MB as RGB bytes, ~800 MB as float32 tensors. */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

/** Containers we decode. SVG/PDF and others that sharp could open are refused on purpose. */
const DECODABLE = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff']);

export type AlphaMode = 'separate' | 'composite';

export interface DecodeOptions {
  /** Largest width·height accepted; raise it for bigger inputs, `Infinity` removes the cap. */
  maxPixels?: number;
  /** What to do with an alpha channel (see the file comment). Default 'separate'. */
  alpha?: AlphaMode;
  /** RGB background for `alpha: 'composite'`. Default white. */
  background?: readonly [number, number, number];
  /** Apply the EXIF orientation. Default true. */
  autoOrient?: boolean;
  /** Name used in error messages when decoding bytes (readImage passes the path). */
  name?: string;
}

export interface DecodedImage {
  readonly rgb: RgbImage;
  /** The alpha channel as a 1-channel image, or null if the input has none or was composited. */
  readonly alpha: Image | null;
  /** sharp's container name: png, jpeg, webp, gif, tiff. */
  readonly format: string;
}

function checkMaxPixels(maxPixels: number): void {
  if (!(maxPixels > 0)) throw new InputError(`decode: maxPixels must be a positive number or Infinity, got ${maxPixels}`);
}

/** Splits decoded interleaved bytes with 1–4 channels into RGB (L replicated) and alpha. */
function splitChannels(data: Uint8Array, w: number, h: number, c: number): { rgb: Uint8Array; alpha: Uint8Array | null } {
  const colour = c >= 3 ? 3 : 1;
  const n = w * h;
  const rgb = new Uint8Array(n * 3);
  const alpha = c === 2 || c === 4 ? new Uint8Array(n) : null;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) rgb[i * 3 + k] = data[i * c + (colour === 3 ? k : 0)];
    if (alpha) alpha[i] = data[i * c + colour];
  }
  return { rgb, alpha };
}

/** `c·a + bg·(1-a)` per channel, rounded, on 8-bit values. */
export function compositeOver(rgb: RgbImage, alpha: Image, background: readonly [number, number, number]): RgbImage {
  if (alpha.channels !== 1 || alpha.width !== rgb.width || alpha.height !== rgb.height) {
    throw new ShapeError(`compositeOver: alpha must be 1 channel of ${rgb.width}x${rgb.height}, got ${alpha.channels} of ${alpha.width}x${alpha.height}`);
  }
  const out = new Uint8Array(rgb.data.length);
  for (let i = 0; i < alpha.data.length; i++) {
    const a = alpha.data[i];
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round((rgb.data[i * 3 + k] * a + background[k] * (255 - a)) / 255);
  }
  return makeImage(rgb.width, rgb.height, 3, out) as RgbImage;
}

/** Decodes PNG/JPEG/WebP/GIF/TIFF bytes (first frame). Throws InputError naming `opts.name`. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const name = opts.name ?? '<buffer>';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkMaxPixels(maxPixels);
  const background = opts.background ?? [255, 255, 255];
  if (bytes.length === 0) throw new InputError(`${name}: the file is empty`);

  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new InputError(`${name}: not a readable image (${(e as Error).message})`, { cause: e });
  }
  if (!DECODABLE.has(meta.format)) {
    throw new InputError(`${name}: unsupported image format '${meta.format}' (supported: ${[...DECODABLE].join(', ')})`);
  }
  const width = meta.width;
  const height = meta.pageHeight ?? meta.height;
  if (!(width > 0 && height > 0)) throw new InputError(`${name}: the image has zero size (${width}x${height})`);
  if (width * height > maxPixels) {
    throw new InputError(
      `${name}: ${width}x${height} = ${width * height} pixels exceeds the cap of ${maxPixels} pixels; ` +
        `raise maxPixels (CLI: --max-pixels) to process it`,
    );
  }

  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    raw = await sharp(bytes, {
      limitInputPixels: maxPixels === Infinity ? false : Math.max(1, Math.floor(maxPixels)),
      ignoreIcc: true,
      autoOrient: opts.autoOrient ?? true,
    })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new InputError(`${name}: corrupt or truncated ${meta.format} image (${(e as Error).message})`, { cause: e });
  }
  const { width: w, height: h, channels: c } = raw.info;
  const { rgb, alpha } = splitChannels(new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length), w, h, c);
  const rgbImage = makeImage(w, h, 3, rgb) as RgbImage;
  const alphaImage = alpha ? makeImage(w, h, 1, alpha) : null;
  if (alphaImage && (opts.alpha ?? 'separate') === 'composite') {
    return { rgb: compositeOver(rgbImage, alphaImage, background), alpha: null, format: meta.format };
  }
  return { rgb: rgbImage, alpha: alphaImage, format: meta.format };
}

/** Reads and decodes an image file; missing/unreadable files raise InputError naming the path. */
export async function readImage(path: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new InputError(`${path}: cannot read image (${why})`, { cause: e });
  }
  return decodeImage(bytes, { ...opts, name: opts.name ?? path });
}

/**
 * An image file's size from its header (no pixels decoded; the first frame's height for
 * animations), or null when it cannot be read as an image (readImage then says why).
 */
export async function readImageSize(path: string): Promise<{ width: number; height: number } | null> {
  try {
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    const height = meta.pageHeight ?? meta.height;
    return meta.width > 0 && height > 0 ? { width: meta.width, height } : null;
  } catch {
    return null;
  }
}

export type EncodeFormat = 'png' | 'jpeg' | 'webp';

export interface EncodeOptions {
  format: EncodeFormat;
  /** JPEG/WebP quality 1–100 (default 95 for JPEG, 90 for WebP). */
  quality?: number;
  /** Lossless WebP. */
  lossless?: boolean;
  /** An alpha channel (1 channel, same size) to attach; PNG and WebP only. */
  alpha?: Image | null;
}

/** Interleaves colour channels with an alpha image: L+A or RGB+A. */
function attachAlpha(img: Image, alpha: Image): Image {
  if (alpha.channels !== 1 || alpha.width !== img.width || alpha.height !== img.height) {
    throw new ShapeError(`encode: alpha must be 1 channel of ${img.width}x${img.height}, got ${alpha.channels} of ${alpha.width}x${alpha.height}`);
  }
  const c = img.channels;
  const n = img.width * img.height;
  const out = new Uint8Array(n * (c + 1));
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) out[i * (c + 1) + k] = img.data[i * c + k];
    out[i * (c + 1) + c] = alpha.data[i];
  }
  return makeImage(img.width, img.height, c + 1, out);
}

/** Encodes a 1- or 3-channel image (plus optional alpha) as PNG, JPEG or WebP. */
export async function encodeImage(img: Image, opts: EncodeOptions): Promise<Buffer> {
  if (img.channels !== 1 && img.channels !== 3) {
    throw new ShapeError(`encode: expected a 1- or 3-channel image, got ${img.channels} channels (pass alpha separately)`);
  }
  const q = opts.quality;
  if (q !== undefined && !(Number.isInteger(q) && q >= 1 && q <= 100)) {
    throw new InputError(`encode: quality must be an integer in 1..100, got ${q}`);
  }
  if (opts.alpha && opts.format === 'jpeg') {
    throw new InputError('encode: JPEG cannot store alpha; write PNG or WebP, or composite the alpha first (alpha: "composite")');
  }
  const full = opts.alpha ? attachAlpha(img, opts.alpha) : img;
  const s = sharp(full.data, { raw: { width: full.width, height: full.height, channels: full.channels as 1 | 2 | 3 | 4 } });
  switch (opts.format) {
    case 'png':
      return s.png().toBuffer();
    case 'jpeg':
      return s.jpeg({ quality: q ?? 95, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp':
      return s.webp({ quality: q ?? 90, lossless: opts.lossless ?? false }).toBuffer();
    default:
      throw new InputError(`encode: unknown format '${String(opts.format)}' (png, jpeg, webp)`);
  }
}

const EXTENSIONS: Readonly<Record<string, EncodeFormat>> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' };

/** The output format implied by a file name's extension. */
export function formatFromPath(path: string): EncodeFormat {
  const f = EXTENSIONS[extname(path).toLowerCase()];
  if (f === undefined) throw new InputError(`${path}: cannot tell the output format from the extension (use .png, .jpg, .jpeg or .webp)`);
  return f;
}

/**
 * Encodes and writes `img` to `path` (format from the extension unless given), atomically
 * (core/atomic.ts: random exclusive temp file + rename), so an interrupted run never leaves a
 * half-written image and a planted symlink cannot redirect the write.
 */
export async function writeImage(path: string, img: Image, opts: Partial<EncodeOptions> = {}): Promise<void> {
  const bytes = await encodeImage(img, { ...opts, format: opts.format ?? formatFromPath(path) });
  writeFileAtomic(path, [bytes], InputError);
}
