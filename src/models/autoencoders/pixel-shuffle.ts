/**
 * A lossless autoencoder with no parameters: encoding packs each factor×factor pixel block
 * into channels (torch `pixel_unshuffle` order: channel c·f² + i·f + j holds pixel (i, j) of
 * the block in image channel c), decoding unpacks it (`pixel_shuffle`). The posterior is a
 * point mass: logvar is −30, the clamp floor of AutoencoderKL's DiagonalGaussianDistribution,
 * so a posterior sample moves the mean by at most ~1e-6·|noise|. It lets a small latent
 * diffusion model (models/pasd-mini) work on the image itself instead of behind a lossy VAE.
 */
import type { PixelShuffleConfig } from '../../config/vae.ts';
import { ShapeError } from '../../core/errors.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../ops/tensor.ts';
import type { Posterior } from './autoencoder-kl.ts';

export class PixelShuffleAutoencoder extends Module {
  constructor(readonly config: PixelShuffleConfig) {
    super();
  }

  get factor(): number {
    return this.config.factor;
  }

  /** image [B, C, H, W] → mean [B, C·f², H/f, W/f] (the blocks), logvar −30. */
  encode(image: Tensor): Posterior {
    const f = this.factor, [b, c, h, w] = this.check('encode', image, this.config.inChannels, 'image');
    if (h % f || w % f) throw new ShapeError(`PixelShuffleAutoencoder.encode: image ${w}×${h} must be a multiple of the factor ${f}`);
    const mean = image.reshape([b, c, h / f, f, w / f, f]).transpose([0, 1, 3, 5, 2, 4]).reshape([b, c * f * f, h / f, w / f]);
    return { mean, logvar: mean.mul(0).sub(30) };
  }

  /** latent [B, C·f², h, w] → image [B, C, h·f, w·f]. */
  decode(latent: Tensor): Tensor {
    const f = this.factor, c = this.config.inChannels, [b, , h, w] = this.check('decode', latent, this.config.latentChannels, 'latent');
    return latent.reshape([b, c, f, f, h, w]).transpose([0, 1, 4, 2, 5, 3]).reshape([b, c, h * f, w * f]);
  }

  private check(fn: string, x: Tensor, channels: number, what: string): readonly number[] {
    if (x.rank !== 4 || x.shape[1] !== channels) throw new ShapeError(`PixelShuffleAutoencoder.${fn}: ${what} must be [B, ${channels}, H, W], got [${x.shape.join(',')}]`);
    if (x.dtype !== 'float32') throw new ShapeError(`PixelShuffleAutoencoder.${fn}: ${what} must be float32, got ${x.dtype}`);
    return x.shape;
  }
}
