/**
 * PASD-light's UNet2DConditionModel (yangxy/PASD `pasd/models/pasd_light/unet_2d_condition.py`):
 * the SD1.5 UNet (shared down/mid/head in ../unets/unet-base.ts) whose CrossAttnUpBlock2Ds
 * carry pixel-aware attention inside their transformer blocks; UpBlock2D is diffusers' plain
 * one. Unlike PASD's UNet it has no separate `pixel_attentions`, and the pixel context is the
 * ControlNet residual alone (not the skip it was added to).
 */
import type { UNetConfig } from '../../config/unet.ts';
import { ModuleList } from '../../nn/module.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { PasdUpBlock } from '../unets/pasd-up-blocks.ts';
import { type ControlResiduals, UNetBase } from '../unets/unet-base.ts';
import { LightCrossAttnUpBlock2D } from './up-blocks.ts';

export class PasdLightUNet2DConditionModel extends UNetBase {
  readonly up_blocks: ModuleList<PasdUpBlock | LightCrossAttnUpBlock2D>;

  constructor(config: UNetConfig) {
    super(config);
    const c = config;
    const rev = <T>(xs: readonly T[]) => [...xs].reverse();
    const ch = rev(c.blockOutChannels), heads = rev(c.heads), layers = rev(c.layersPerBlock), tl = rev(c.transformerLayersPerBlock);
    const n = ch.length;
    let out = ch[0];
    this.up_blocks = new ModuleList(c.upBlockTypes.map((type, i) => {
      const prev = out;
      out = ch[i];
      const o = {
        inChannels: ch[Math.min(i + 1, n - 1)], prevOutputChannels: prev, outChannels: out, tembChannels: c.blockOutChannels[0] * 4,
        numLayers: layers[i] + 1, transformerLayers: tl[i], heads: heads[i], crossAttentionDim: c.crossAttentionDim,
        groups: c.normNumGroups, eps: c.normEps, addUpsample: i < n - 1, useLinearProjection: c.useLinearProjection,
      };
      return type === 'CrossAttnUpBlock2D'
        ? new LightCrossAttnUpBlock2D(o)
        : new PasdUpBlock({ ...o, withAttention: false, withPixelAttention: false });
    }));
  }

  /**
   * sample [B, C, h, w], timestep int64 [1] or [B], context [B, 77, D], control: the ControlNet
   * residuals (already × conditioning scale; required — the original fails without them)
   * → noise prediction [B, C, h, w].
   */
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals): Tensor {
    return this.scoped(sample.graph, () => {
      const temb = this.embedTime(timestep);
      let { h, skips } = this.encode(sample, temb, context, control);
      let pixel = [...control.down];
      this.up_blocks.items.forEach((block) => {
        const k = block.resnets.length;
        const mine = skips.slice(-k), myPixel = pixel.slice(-k);
        skips = skips.slice(0, -k);
        pixel = pixel.slice(0, -k);
        // diffusers forwards the skip's size only when the latent is not a multiple of
        // 2^upsamplers; otherwise ×2 gives that same size, so passing it always is equivalent.
        const size = skips.length ? skips[skips.length - 1].shape.slice(2) : null;
        h = block.forward(h, mine, temb, context, myPixel, size);
      });
      return this.head(h);
    });
  }
}
