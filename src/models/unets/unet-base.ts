/**
 * What every SD1.5-family UNet2DConditionModel shares (diffusers 0.29.2
 * `unet_2d_condition.py`): time embedding, conv_in, the down and mid blocks with the
 * ControlNet residual additions, and the output head. Subclasses own `up_blocks`
 * (PASD adds pixel-aware attention there; PASD-light inside the transformer blocks).
 */
import type { UNetConfig } from '../../config/unet.ts';
import { ShapeError } from '../../core/errors.ts';
import { shapeEq } from '../../core/shape.ts';
import { Conv2d, GroupNorm } from '../../nn/layers.ts';
import { Module, type ModuleList } from '../../nn/module.ts';
import { type TextTimeConditions, TimestepEmbedding, Timesteps } from '../../nn/embeddings.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { type DownBlock, type UNetMidBlock2DCrossAttn, buildAddition, buildDownBlocks, buildMidBlock, embedTimestep, runDownBlocks } from './blocks.ts';
import type { UpBlockOptions } from './pasd-up-blocks.ts';
import type { UpBlockType } from '../../config/unet.ts';

/** What the shared up path needs of an up block (PASD's and PASD-light's alike). */
export interface UpBlockLike {
  readonly resnets: { readonly length: number };
  forward(h: Tensor, skips: readonly Tensor[], temb: Tensor, context: Tensor, pixel: readonly Tensor[] | null, upsampleSize: readonly number[] | null): Tensor;
}

export type UpBlockSpec = Omit<UpBlockOptions, 'withAttention' | 'withPixelAttention'> & { readonly type: UpBlockType };

/** diffusers' up-block constructor loop: channels, heads and layers of each up block. */
export function upBlockSpecs(c: UNetConfig): UpBlockSpec[] {
  const rev = <T>(xs: readonly T[]) => [...xs].reverse();
  const ch = rev(c.blockOutChannels), heads = rev(c.heads), layers = rev(c.layersPerBlock), tl = rev(c.transformerLayersPerBlock);
  const n = ch.length;
  return c.upBlockTypes.map((type, i) => ({
    type, inChannels: ch[Math.min(i + 1, n - 1)], prevOutputChannels: ch[Math.max(i - 1, 0)], outChannels: ch[i],
    tembChannels: c.blockOutChannels[0] * 4, numLayers: layers[i] + 1, transformerLayers: tl[i], heads: heads[i],
    crossAttentionDim: c.crossAttentionDim, groups: c.normNumGroups, eps: c.normEps, addUpsample: i < n - 1,
    useLinearProjection: c.useLinearProjection,
  }));
}

/** ControlNet outputs fed to the UNet: 3·levels+… down residuals and the mid residual. */
export interface ControlResiduals {
  readonly down: readonly Tensor[];
  readonly mid: Tensor;
}

export abstract class UNetBase extends Module {
  readonly conv_in: Conv2d;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly add_time_proj: Timesteps | null;
  readonly add_embedding: TimestepEmbedding | null;
  readonly down_blocks: ModuleList<DownBlock>;
  readonly mid_block: UNetMidBlock2DCrossAttn;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(readonly config: UNetConfig) {
    super();
    const c = config;
    const c0 = c.blockOutChannels[0];
    const tembChannels = c0 * 4;
    this.conv_in = new Conv2d(c.inChannels, c0, c.convInKernel, { padding: (c.convInKernel - 1) >> 1 });
    this.time_proj = new Timesteps(c0, c.flipSinToCos, c.freqShift);
    this.time_embedding = new TimestepEmbedding(c0, tembChannels);
    ({ add_time_proj: this.add_time_proj, add_embedding: this.add_embedding } = buildAddition(c, tembChannels));
    this.down_blocks = buildDownBlocks(c, tembChannels);
    this.mid_block = buildMidBlock(c, tembChannels);
    this.conv_norm_out = new GroupNorm(c.normNumGroups, c0, c.normEps);
    this.conv_out = new Conv2d(c0, c.outChannels, c.convOutKernel, { padding: (c.convOutKernel - 1) >> 1 });
  }

  /** Timestep(s) [1] or [B] (plus SDXL's text_embeds / time_ids) → embedding [1|B, 4·c0]. */
  protected embedTime(timestep: Tensor, added: TextTimeConditions | null): Tensor {
    return embedTimestep(this, timestep, added);
  }

  /**
   * conv_in → down blocks → mid block, adding the ControlNet residuals to the skips and to
   * the mid output as diffusers does. Returns the mid output and the skips (in order).
   */
  protected encode(sample: Tensor, temb: Tensor, context: Tensor, control: ControlResiduals | null): { h: Tensor; skips: Tensor[] } {
    let { h, skips } = runDownBlocks(this.down_blocks, this.conv_in.forward(sample), temb, context);
    if (control) {
      if (control.down.length !== skips.length)
        throw new ShapeError(`${this.path || 'unet'}: ${control.down.length} ControlNet down residuals given, the UNet has ${skips.length} skip connections`);
      skips = skips.map((s, i) => {
        if (!shapeEq(s.shape, control.down[i].shape))
          throw new ShapeError(`${this.path || 'unet'}: ControlNet residual ${i} has shape [${control.down[i].shape}] but skip ${i} has [${s.shape}]`);
        return s.add(control.down[i]);
      });
    }
    h = this.mid_block.forward(h, temb, context);
    if (control) h = h.add(control.mid);
    return { h, skips };
  }

  /**
   * The up path: each block takes the last `len(resnets)` skips and ControlNet residuals
   * (popped from the end) and upsamples to the size of the next block's last skip.
   */
  protected decode(blocks: readonly UpBlockLike[], h: Tensor, skips: Tensor[], temb: Tensor, context: Tensor, pixel: Tensor[] | null): Tensor {
    for (const block of blocks) {
      const k = block.resnets.length;
      const mine = skips.slice(-k);
      skips = skips.slice(0, -k);
      const myPixel = pixel ? pixel.slice(-k) : null;
      if (pixel) pixel = pixel.slice(0, -k);
      // diffusers forwards the skip's size when the latent is not a multiple of 2^ups;
      // otherwise ×2 gives that same size, so passing it always is equivalent.
      const size = skips.length ? skips[skips.length - 1].shape.slice(2) : null;
      h = block.forward(h, mine, temb, context, myPixel, size);
    }
    return h;
  }

  /** conv_norm_out → SiLU → conv_out */
  protected head(h: Tensor): Tensor {
    return this.conv_out.forward(this.conv_norm_out.forward(h).silu());
  }
}
