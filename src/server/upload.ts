/**
 * The request body of `POST /v1/jobs`: read with a byte cap (413 before anything is parsed),
 * bounded in time and rate per connection (408) and in memory across connections (503),
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

/**
 * How long and how slowly one upload may take. A connection that sends nothing for `idleMs`,
 * or less than `minBytesPerSecond` on average once `idleMs` has passed, gets a 408 and is
 * closed, so a stalled or trickling upload costs its own connection only.
 */
export interface UploadTiming {
  idleMs: number;
  minBytesPerSecond: number;
}

export const DEFAULT_UPLOAD_TIMING: UploadTiming = { idleMs: 10_000, minBytesPerSecond: 32 * 1024 };

/**
 * Request-body bytes held in memory by all connections together. Bodies are read concurrently
 * (no client waits behind another's upload); past `cap` a further upload gets a 503 at once,
 * so memory stays bounded however many clients post together.
 */
export class UploadBudget {
  private used = 0;
  constructor(readonly cap: number) {}

  take(bytes: number): boolean {
    if (this.used + bytes > this.cap) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/**
 * Reads a request body with a byte cap (413), the timing bounds (408) and the shared budget
 * (503). On success the body's bytes stay counted in `budget` until the caller releases
 * `body.length`; on failure they are released here.
 */
export function readBody(req: IncomingMessage, maxBytes: number, budget: UploadBudget, timing: UploadTiming = DEFAULT_UPLOAD_TIMING): Promise<Buffer> {
  const close = { connection: 'close' };
  const tooLarge = () => new HttpError(413, `image: the upload is larger than the server's cap of ${maxBytes} bytes (pasd serve --max-upload)`, 'image', close);
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes + DRAIN_LIMIT) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0, held = 0, finished = false;
    const start = Date.now();
    let last = start;
    const finish = (e: Error | null) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      req.off('data', onData);
      if (e) {
        budget.release(held);
        req.resume(); // the rest is dropped; the error response closes the connection
        reject(e);
      } else resolve(Buffer.concat(chunks, held));
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      last = Date.now();
      if (total > maxBytes + DRAIN_LIMIT) return finish(tooLarge());
      if (total > maxBytes || declared > maxBytes) return; // to be refused (413) once drained: nothing kept
      if (!budget.take(chunk.length))
        return finish(new HttpError(503, 'image: the server is receiving too many uploads at once; retry shortly', 'image', { ...close, 'retry-after': '5' }));
      held += chunk.length;
      chunks.push(chunk);
    };
    const timer = setInterval(() => {
      const now = Date.now();
      if (now - last > timing.idleMs)
        return finish(new HttpError(408, `image: the upload stalled (nothing received for ${timing.idleMs / 1000} s); send the body without pauses`, 'image', close));
      if (now - start > timing.idleMs && (total * 1000) / (now - start) < timing.minBytesPerSecond)
        finish(new HttpError(408, `image: the upload is slower than the server's minimum of ${timing.minBytesPerSecond} bytes/s`, 'image', close));
    }, Math.max(10, Math.min(1000, timing.idleMs / 4)));
    req.on('data', onData);
    req.once('end', () => finish(total > maxBytes ? tooLarge() : null));
    req.once('error', (e) => finish(new HttpError(400, `image: the upload was interrupted (${e.message})`, 'image')));
    req.once('close', () => finish(new HttpError(400, 'image: the upload was interrupted (the connection closed)', 'image')));
  });
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
