/**
 * The autoencoders a pipeline or a training run can sit on, chosen by config.json's
 * `_class_name`: diffusers' AutoencoderKL (SD1.5's VAE; the default) or our lossless
 * PixelShuffleAutoencoder (no weights; the mini model's).
 */
import { PIXEL_SHUFFLE_CLASS, parsePixelShuffleConfig, parseVaeConfig } from '../../config/vae.ts';
import type { Warn } from '../../config/reader.ts';
import { AutoencoderKL } from './autoencoder-kl.ts';
import { PixelShuffleAutoencoder } from './pixel-shuffle.ts';

export type Autoencoder = AutoencoderKL | PixelShuffleAutoencoder;

/** Whether this config describes a PixelShuffleAutoencoder (which has no weight file). */
export function isPixelShuffleConfig(raw: Readonly<Record<string, unknown>>): boolean {
  return raw._class_name === PIXEL_SHUFFLE_CLASS;
}

export function buildAutoencoder(raw: Readonly<Record<string, unknown>>, what = 'vae config.json', warn?: Warn): Autoencoder {
  return isPixelShuffleConfig(raw) ? new PixelShuffleAutoencoder(parsePixelShuffleConfig(raw, what, warn)) : new AutoencoderKL(parseVaeConfig(raw, what, warn));
}
