/**
 * PASD's UNet2DConditionModel (yangxy/PASD `pasd/models/pasd/unet_2d_condition.py`): the
 * SD1.5 UNet whose up blocks carry pixel-aware cross attention to the ControlNet residuals.
 * Without residuals it is the plain SD1.5 UNet (pixel attention skipped), as upstream.
 */
import type { UNetConfig } from '../../config/unet.ts';
import { ModuleList } from '../../nn/module.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { PasdUpBlock } from './pasd-up-blocks.ts';
import { type ControlResiduals, UNetBase } from './unet-base.ts';

export class PasdUNet2DConditionModel extends UNetBase {
  readonly up_blocks: ModuleList<PasdUpBlock>;

  /** `pixelAttention` false builds the plain SD1.5 UNet (no `pixel_attentions` keys). */
  constructor(config: UNetConfig, readonly pixelAttention = true) {
    super(config);
    const c = config;
    const rev = <T>(xs: readonly T[]) => [...xs].reverse();
    const ch = rev(c.blockOutChannels), heads = rev(c.heads), layers = rev(c.layersPerBlock), tl = rev(c.transformerLayersPerBlock);
    const n = ch.length;
    let out = ch[0];
    this.up_blocks = new ModuleList(c.upBlockTypes.map((type, i) => {
      const prev = out;
      out = ch[i];
      return new PasdUpBlock({
        inChannels: ch[Math.min(i + 1, n - 1)], prevOutputChannels: prev, outChannels: out, tembChannels: c.blockOutChannels[0] * 4,
        numLayers: layers[i] + 1, transformerLayers: tl[i], heads: heads[i], crossAttentionDim: c.crossAttentionDim,
        groups: c.normNumGroups, eps: c.normEps, addUpsample: i < n - 1, useLinearProjection: c.useLinearProjection,
        withAttention: type === 'CrossAttnUpBlock2D', withPixelAttention: pixelAttention,
      });
    }));
  }

  /**
   * sample [B, C, h, w], timestep int64 [1] or [B], context [B, 77, D], control: the
   * ControlNet residuals (already × conditioning scale) → noise prediction [B, C, h, w].
   */
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals | null): Tensor {
    return this.scoped(sample.graph, () => {
      const temb = this.embedTime(timestep);
      let { h, skips } = this.encode(sample, temb, context, control);
      let pixel = control ? [...control.down] : null;
      this.up_blocks.items.forEach((block, i) => {
        const k = block.resnets.length;
        const mine = skips.slice(-k);
        skips = skips.slice(0, -k);
        const myPixel = pixel ? pixel.slice(-k) : null;
        if (pixel) pixel = pixel.slice(0, -k);
        // diffusers forwards the skip's size when the latent is not a multiple of 2^ups;
        // otherwise ×2 gives that same size, so passing it always is equivalent.
        const size = skips.length ? skips[skips.length - 1].shape.slice(2) : null;
        h = block.forward(h, mine, temb, context, myPixel, size);
      });
      return this.head(h);
    });
  }
}
