/**
 * PASD-light's CrossAttnUpBlock2D (yangxy/PASD `pasd/models/pasd_light/unet_2d_blocks.py`):
 * diffusers' block whose attentions are pixel-aware transformers. Layer j concatenates the
 * j-th skip from the end, runs the resnet, then the transformer with the j-th ControlNet
 * residual from the end as pixel context (its channels = the skip's channels).
 */
import { InputError } from '../../core/errors.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { ResnetBlock2D, Upsample2D } from '../../nn/resnet.ts';
import { type Tensor, concat } from '../../ops/tensor.ts';
import type { UpBlockOptions } from '../unets/pasd-up-blocks.ts';
import { PixelAwareTransformer2DModel } from './transformer.ts';

/** The shared up-block geometry (pixel-aware attention is always on here). */
export type LightCrossAttnUpBlockOptions = Omit<UpBlockOptions, 'withAttention' | 'withPixelAttention'>;

export class LightCrossAttnUpBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<PixelAwareTransformer2DModel>;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(o: LightCrossAttnUpBlockOptions) {
    super();
    // diffusers: the last layer's skip comes from the previous level (in_channels).
    const skipCh = (j: number) => (j === o.numLayers - 1 ? o.inChannels : o.outChannels);
    this.resnets = new ModuleList(Array.from({ length: o.numLayers }, (_, j) => new ResnetBlock2D({
      inChannels: (j === 0 ? o.prevOutputChannels : o.outChannels) + skipCh(j), outChannels: o.outChannels,
      tembChannels: o.tembChannels, groups: o.groups, eps: o.eps,
    })));
    this.attentions = new ModuleList(Array.from({ length: o.numLayers }, (_, j) => new PixelAwareTransformer2DModel({
      heads: o.heads, dimHead: o.outChannels / o.heads, inChannels: o.outChannels, numLayers: o.transformerLayers,
      crossAttentionDim: o.crossAttentionDim, pixelChannels: skipCh(j), normGroups: o.groups, useLinearProjection: o.useLinearProjection,
    })));
    this.upsamplers = o.addUpsample ? new ModuleList([new Upsample2D(o.outChannels)]) : null;
  }

  /**
   * skips / pixel: this block's skip states and ControlNet residuals in down order, consumed
   * from the end (the original pops both). upsampleSize: the next block's last skip size.
   * Same signature as the PASD up blocks so one UNet loop drives either.
   */
  forward(h: Tensor, skips: readonly Tensor[], temb: Tensor, context: Tensor, pixel: readonly Tensor[] | null, upsampleSize: readonly number[] | null): Tensor {
    return this.scoped(h.graph, () => {
      const n = this.resnets.length;
      if (!pixel || pixel.length !== n) throw new InputError(`${this.path}: needs ${n} ControlNet residuals (PASD-light's up blocks attend to them), got ${pixel ? pixel.length : 'none'}`);
      for (let j = 0; j < n; j++) {
        h = this.resnets.at(j).forward(concat([h, skips[skips.length - 1 - j]], 1), temb);
        h = this.attentions.at(j).forward(h, context, pixel[pixel.length - 1 - j]);
      }
      return this.upsamplers ? this.upsamplers.at(0).forward(h, upsampleSize) : h;
    });
  }
}
