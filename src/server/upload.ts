/**
 * The request body of `POST /v1/jobs`: read with a byte cap (413 before anything is parsed),
 * split into image bytes + options (multipart/form-data with an `image` file and an
 * `options` JSON field, or the raw image as the body with `?options=` JSON in the query),
 * then decoded with the pixel cap checked from the header first (413 before any pixel
 * buffer exists), so a decompression bomb costs a header read.
 */
import type { IncomingMessage } from 'node:http';
import sharp from 'sharp';
import { PasdError } from '../core/errors.ts';
import { type DecodedImage, decodeImage } from '../image/codec-node.ts';
import { HttpError, badField } from './errors.ts';

/** Past the cap the body is still read (and dropped) this far, so the client sees the 413 instead of a reset. */
const DRAIN_LIMIT = 16 * 1024 * 1024;
const RAW_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/tiff', 'application/octet-stream'];

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `image: the upload is larger than the server's cap of ${maxBytes} bytes (pasd serve --max-upload)`, 'image', { connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes + DRAIN_LIMIT) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes + DRAIN_LIMIT) break; // ends the iteration and destroys the stream
      if (total <= maxBytes) chunks.push(chunk);
    }
  } catch (e) {
    throw new HttpError(400, `image: the upload was interrupted (${(e as Error).message})`, 'image');
  }
  if (total > maxBytes) throw tooLarge();
  return Buffer.concat(chunks, total);
}

function parseOptionsJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badField('options', `not valid JSON (${(e as Error).message})`);
  }
}

/** Image bytes and the raw (unchecked) options object of one upload. */
export async function parseUpload(contentType: string | undefined, body: Buffer, query: URLSearchParams): Promise<{ image: Uint8Array; options: unknown }> {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      // Node's own fetch implementation parses multipart; the body is already capped.
      form = await new Response(new Blob([new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length)]), { headers: { 'content-type': contentType! } }).formData();
    } catch {
      throw badField('image', 'malformed multipart/form-data body');
    }
    const file = form.get('image');
    if (!file || typeof file === 'string') throw badField('image', 'the multipart body needs a file field named "image"');
    const opts = form.get('options');
    if (opts !== null && typeof opts !== 'string') throw badField('options', 'expected a JSON text field');
    return { image: new Uint8Array(await file.arrayBuffer()), options: opts ? parseOptionsJson(opts) : {} };
  }
  if (RAW_TYPES.includes(type)) {
    const opts = query.get('options');
    return { image: body, options: opts ? parseOptionsJson(opts) : {} };
  }
  throw new HttpError(415, `content-type "${type || '(none)'}": send multipart/form-data (fields image, options) or the raw image (${RAW_TYPES.join(', ')})`, 'image');
}

/** Decodes an uploaded image; 413 above `maxPixels` (read from the header), 400 when unreadable. */
export async function decodeUpload(bytes: Uint8Array, maxPixels: number): Promise<DecodedImage> {
  if (bytes.length === 0) throw badField('image', 'the image is empty');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw badField('image', 'not a readable image (PNG, JPEG, WebP, GIF or TIFF)');
  }
  const w = meta.width ?? 0, h = meta.pageHeight ?? meta.height ?? 0;
  if (w * h > maxPixels) throw new HttpError(413, `image: ${w}x${h} is more than the server's cap of ${maxPixels} pixels (pasd serve --max-pixels)`, 'image');
  try {
    return await decodeImage(bytes, { maxPixels, name: 'image' });
  } catch (e) {
    if (e instanceof PasdError) throw badField('image', e.message.replace(/^image: /, ''));
    throw e;
  }
}
