/**
 * PASD's UNet2DConditionModel (yangxy/PASD `pasd/models/pasd/unet_2d_condition.py`): the
 * SD1.5 UNet whose up blocks carry pixel-aware cross attention to the ControlNet residuals.
 * Without residuals it is the plain SD1.5 UNet (pixel attention skipped), as upstream.
 */
import type { UNetConfig } from '../../config/unet.ts';
import { ModuleList } from '../../nn/module.ts';
import type { TextTimeConditions } from '../../nn/embeddings.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { PasdUpBlock } from './pasd-up-blocks.ts';
import { type ControlResiduals, UNetBase, upBlockSpecs } from './unet-base.ts';

export class PasdUNet2DConditionModel extends UNetBase {
  readonly up_blocks: ModuleList<PasdUpBlock>;

  /** `pixelAttention` false builds the plain SD1.5 UNet (no `pixel_attentions` keys). */
  constructor(config: UNetConfig, readonly pixelAttention = true) {
    super(config);
    this.up_blocks = new ModuleList(upBlockSpecs(config).map((o) =>
      new PasdUpBlock({ ...o, withAttention: o.type === 'CrossAttnUpBlock2D', withPixelAttention: pixelAttention })));
  }

  /**
   * sample [B, C, h, w], timestep int64 [1] or [B], context [B, 77, D], control: the
   * ControlNet residuals (already × conditioning scale) → noise prediction [B, C, h, w].
   */
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals | null, added: TextTimeConditions | null = null): Tensor {
    return this.scoped(sample.graph, () => {
      const temb = this.embedTime(timestep, added);
      const { h, skips } = this.encode(sample, temb, context, control);
      return this.head(this.decode(this.up_blocks.items, h, skips, temb, context, control ? [...control.down] : null));
    });
  }
}
