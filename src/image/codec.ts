/**
 * What image decoding and encoding mean on every platform: the options, the decoded result
 * (RGB plus a separate alpha), the pixel cap, channel splitting and alpha compositing. The
 * codecs themselves are per platform: codec-node.ts (sharp) and codec-web.ts (the browser's
 * createImageBitmap / OffscreenCanvas); see codec-node.ts for the rules they follow.
 */
import { InputError, ShapeError } from '../core/errors.ts';
import { makeImage, type Image, type RgbImage } from './image.ts';

/** 8192 × 8192 = 67 MP: ~200 MB as RGB bytes, ~800 MB as float32 tensors. */
export const DEFAULT_MAX_PIXELS = 8192 * 8192;

/** Containers we decode. SVG/PDF and others that sharp or a browser could open are refused on purpose. */
export const DECODABLE = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff']);

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
  /** The container: png, jpeg, webp, gif, tiff. */
  readonly format: string;
}

/** The name errors use and the pixel cap of a decode, checked; an empty input is refused here. */
export function decodeRequest(bytes: Uint8Array, opts: DecodeOptions): { name: string; maxPixels: number } {
  const name = opts.name ?? '<buffer>';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkMaxPixels(maxPixels);
  if (bytes.length === 0) throw new InputError(`${name}: the file is empty`);
  return { name, maxPixels };
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


/** Refuses an empty or over-cap image from its header size, before any pixel is decoded. */
export function checkSize(name: string, width: number, height: number, maxPixels: number): void {
  if (!(width > 0 && height > 0)) throw new InputError(`${name}: the image has zero size (${width}x${height})`);
  if (width * height > maxPixels) {
    throw new InputError(
      `${name}: ${width}x${height} = ${width * height} pixels exceeds the cap of ${maxPixels} pixels; ` +
        `raise maxPixels (CLI: --max-pixels) to process it`,
    );
  }
}

/** Decoded interleaved bytes (1–4 channels) as the DecodedImage the options ask for. */
export function decoded(data: Uint8Array, w: number, h: number, c: number, format: string, opts: DecodeOptions): DecodedImage {
  const { rgb, alpha } = splitChannels(data, w, h, c);
  const rgbImage = makeImage(w, h, 3, rgb) as RgbImage;
  const alphaImage = alpha ? makeImage(w, h, 1, alpha) : null;
  if (alphaImage && (opts.alpha ?? 'separate') === 'composite') {
    return { rgb: compositeOver(rgbImage, alphaImage, opts.background ?? [255, 255, 255]), alpha: null, format };
  }
  return { rgb: rgbImage, alpha: alphaImage, format };
}

/** Checks an encode request and returns the pixels to encode (alpha attached). */
export function encodable(img: Image, opts: EncodeOptions): Image {
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
  return opts.alpha ? attachAlpha(img, opts.alpha) : img;
}
