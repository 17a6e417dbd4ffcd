/**
 * PASD-light's UNet2DConditionModel (yangxy/PASD `pasd/models/pasd_light/unet_2d_condition.py`):
 * the SD1.5 UNet (shared down/mid/head in ../unets/unet-base.ts) whose CrossAttnUpBlock2Ds
 * carry pixel-aware attention inside their transformer blocks; UpBlock2D is diffusers' plain
 * one. Unlike PASD's UNet it has no separate `pixel_attentions`, and the pixel context is the
 * ControlNet residual alone (not the skip it was added to).
 */
import type { UNetConfig } from '../../config/unet.ts';
import { ModuleList } from '../../nn/module.ts';
import type { TextTimeConditions } from '../../nn/embeddings.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { PasdUpBlock } from '../unets/pasd-up-blocks.ts';
import { type ControlResiduals, UNetBase, upBlockSpecs } from '../unets/unet-base.ts';
import { LightCrossAttnUpBlock2D } from './up-blocks.ts';

export class PasdLightUNet2DConditionModel extends UNetBase {
  readonly up_blocks: ModuleList<PasdUpBlock | LightCrossAttnUpBlock2D>;

  constructor(config: UNetConfig) {
    super(config);
    this.up_blocks = new ModuleList(upBlockSpecs(config).map((o) => o.type === 'CrossAttnUpBlock2D'
      ? new LightCrossAttnUpBlock2D(o)
      : new PasdUpBlock({ ...o, withAttention: false, withPixelAttention: false })));
  }

  /**
   * sample [B, C, h, w], timestep int64 [1] or [B], context [B, 77, D], control: the ControlNet
   * residuals (already × conditioning scale; required — the original fails without them)
   * → noise prediction [B, C, h, w].
   */
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals, added: TextTimeConditions | null = null): Tensor {
    return this.scoped(sample.graph, () => {
      const temb = this.embedTime(timestep, added);
      const { h, skips } = this.encode(sample, temb, context, control);
      return this.head(this.decode(this.up_blocks.items, h, skips, temb, context, [...control.down]));
    });
  }
}
