/**
 * Image decode/encode in the browser (window or Worker) through the platform: the container
 * is sniffed from the first bytes, the size is read by `createImageBitmap` (the pixel cap is
 * checked before the pixels are copied out), the pixels come from an OffscreenCanvas with
 * colour-space conversion and alpha premultiplication off, so opaque pixels equal what
 * codec-node.ts decodes for PNG (JPEG decoders may differ by a level). EXIF orientation
 * follows `autoOrient` (the browser's `imageOrientation`).
 */
import { InputError } from '../core/errors.ts';
import type { Image } from './image.ts';
import { DECODABLE, type DecodeOptions, type DecodedImage, type EncodeOptions, checkSize, decodeRequest, decoded, encodable } from './codec.ts';

/** The container from magic bytes (the browser would also open formats we refuse, e.g. SVG, BMP). */
function sniff(b: Uint8Array): string | null {
  const at = (i: number, ...xs: number[]) => xs.every((x, k) => b[i + k] === x);
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  return null;
}

const MIME: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', tiff: 'image/tiff' };

/** Decodes PNG/JPEG/WebP/GIF bytes (first frame) as codec-node.ts does; TIFF only where the browser decodes it. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const { name, maxPixels } = decodeRequest(bytes, opts);
  const format = sniff(bytes);
  if (!format || !DECODABLE.has(format)) throw new InputError(`${name}: not a readable image (supported: ${[...DECODABLE].join(', ')})`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: MIME[format] }), {
      colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: (opts.autoOrient ?? true) ? 'from-image' : 'none',
    });
  } catch (e) {
    throw new InputError(`${name}: corrupt, truncated or (in this browser) undecodable ${format} image (${(e as Error).message})`, { cause: e });
  }
  try {
    checkSize(name, bitmap.width, bitmap.height, maxPixels);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { colorSpace: 'srgb', willReadFrequently: true })!;
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height, { colorSpace: 'srgb' }).data;
    const data = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
    let opaque = true;
    for (let i = 3; i < data.length && opaque; i += 4) opaque = data[i] === 255;
    return decoded(opaque ? dropAlpha(data) : data, bitmap.width, bitmap.height, opaque ? 3 : 4, format, opts);
  } finally {
    bitmap.close();
  }
}

function dropAlpha(rgba: Uint8Array): Uint8Array {
  const n = rgba.length / 4, out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = rgba[4 * i];
    out[3 * i + 1] = rgba[4 * i + 1];
    out[3 * i + 2] = rgba[4 * i + 2];
  }
  return out;
}

/** Encodes a 1- or 3-channel image (plus optional alpha) as PNG, JPEG or WebP bytes. */
export async function encodeImage(img: Image, opts: EncodeOptions): Promise<Uint8Array> {
  const full = encodable(img, opts);
  const c = full.channels, n = full.width * full.height;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const grey = c <= 2;
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = full.data[i * c + (grey ? 0 : k)];
    rgba[4 * i + 3] = c === 2 || c === 4 ? full.data[i * c + c - 1] : 255;
  }
  const canvas = new OffscreenCanvas(full.width, full.height);
  canvas.getContext('2d', { colorSpace: 'srgb' })!.putImageData(new ImageData(rgba, full.width, full.height), 0, 0);
  const q = opts.quality ?? (opts.format === 'jpeg' ? 95 : 90);
  const blob = await canvas.convertToBlob({ type: MIME[opts.format], quality: opts.lossless ? 1 : q / 100 });
  if (blob.type !== MIME[opts.format]) throw new InputError(`encode: this browser cannot write ${opts.format}; use png`);
  return new Uint8Array(await blob.arrayBuffer());
}
