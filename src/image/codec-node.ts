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
import { InputError } from '../core/errors.ts';
import type { Image } from './image.ts';
import { DECODABLE, type DecodeOptions, type DecodedImage, type EncodeFormat, type EncodeOptions, checkSize, decodeRequest, decoded, encodable } from './codec.ts';

export { DEFAULT_MAX_PIXELS, compositeOver, type AlphaMode, type DecodeOptions, type DecodedImage, type EncodeFormat, type EncodeOptions } from './codec.ts';

/** Decodes PNG/JPEG/WebP/GIF/TIFF bytes (first frame). Throws InputError naming `opts.name`. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const { name, maxPixels } = decodeRequest(bytes, opts);

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
  checkSize(name, width, height, maxPixels);

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
  return decoded(new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length), w, h, c, meta.format, opts);
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

/** Encodes a 1- or 3-channel image (plus optional alpha) as PNG, JPEG or WebP. */
export async function encodeImage(img: Image, opts: EncodeOptions): Promise<Buffer> {
  const full = encodable(img, opts);
  const q = opts.quality;
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
