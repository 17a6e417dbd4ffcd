/**
 * PASD's up blocks (yangxy/PASD `pasd/models/pasd/unet_2d_blocks.py`): diffusers'
 * UpBlock2D / CrossAttnUpBlock2D plus `pixel_attentions[j]`, a Transformer2DModel that
 * cross-attends from the UNet features to the ControlNet residual of the same resolution
 * (`b c h w -> b (h w) c`), applied after the resnet (and after the text attention).
 */
import { Module, ModuleList } from '../../nn/module.ts';
import { ResnetBlock2D, Upsample2D } from '../../nn/resnet.ts';
import { Transformer2DModel, toTokens } from '../../nn/transformer.ts';
import { type Tensor, concat } from '../../ops/tensor.ts';
import { type BlockOptions, blockTransformer } from './blocks.ts';

export interface UpBlockOptions extends BlockOptions {
  prevOutputChannels: number;
  addUpsample: boolean;
  /** PASD: pixel-aware cross attention per layer. */
  withPixelAttention: boolean;
}

export class PasdUpBlock extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<Transformer2DModel> | null;
  readonly pixel_attentions: ModuleList<Transformer2DModel> | null;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(o: UpBlockOptions) {
    super();
    const skipCh = (i: number) => (i === o.numLayers - 1 ? o.inChannels : o.outChannels);
    const transformer = (crossAttentionDim: number) => blockTransformer(o, o.outChannels, crossAttentionDim);
    this.resnets = new ModuleList(Array.from({ length: o.numLayers }, (_, i) => new ResnetBlock2D({
      inChannels: (i === 0 ? o.prevOutputChannels : o.outChannels) + skipCh(i), outChannels: o.outChannels,
      tembChannels: o.tembChannels, groups: o.groups, eps: o.eps,
    })));
    this.attentions = o.withAttention ? new ModuleList(Array.from({ length: o.numLayers }, () => transformer(o.crossAttentionDim))) : null;
    // The original sizes the context of UpBlock2D's pixel attention by out_channels and
    // CrossAttnUpBlock2D's by the skip channels; for SD1.5 layouts both equal the residual's.
    this.pixel_attentions = o.withPixelAttention
      ? new ModuleList(Array.from({ length: o.numLayers }, (_, i) => transformer(o.withAttention ? skipCh(i) : o.outChannels)))
      : null;
    this.upsamplers = o.addUpsample ? new ModuleList([new Upsample2D(o.outChannels)]) : null;
  }

  /**
   * skips / pixel: this block's skip states and ControlNet residuals, in down order; both are
   * consumed from the end. upsampleSize: spatial size of the next block's last skip.
   */
  forward(h: Tensor, skips: readonly Tensor[], temb: Tensor, context: Tensor, pixel: readonly Tensor[] | null, upsampleSize: readonly number[] | null): Tensor {
    const n = this.resnets.length;
    for (let j = 0; j < n; j++) {
      h = concat([h, skips[skips.length - 1 - j]], 1);
      h = this.resnets.at(j).forward(h, temb);
      if (this.attentions) h = this.attentions.at(j).forward(h, context);
      if (pixel && this.pixel_attentions) h = this.pixel_attentions.at(j).forward(h, toTokens(pixel[pixel.length - 1 - j]));
    }
    return this.upsamplers ? this.upsamplers.at(0).forward(h, upsampleSize) : h;
  }
}
