/**
 * The AutoencoderKL encoder and decoder (diffusers 0.29.2 `models/autoencoders/vae.py`
 * Encoder/Decoder, with `unets/unet_2d_blocks.py` DownEncoderBlock2D, UpDecoderBlock2D and
 * UNetMidBlock2D). No time embedding anywhere; every GroupNorm uses eps 1e-6.
 */
import type { AutoencoderKLConfig } from '../../config/vae.ts';
import { Attention } from '../../nn/attention.ts';
import { Conv2d, GroupNorm } from '../../nn/layers.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { Downsample2D, ResnetBlock2D, Upsample2D } from '../../nn/resnet.ts';
import { fromTokens, toTokens } from '../../nn/transformer.ts';
import type { Tensor } from '../../ops/tensor.ts';

/** diffusers hard-codes this eps for every norm of the VAE (vae.py, get_down_block calls). */
const VAE_EPS = 1e-6;

function resnet(inChannels: number, outChannels: number, groups: number): ResnetBlock2D {
  return new ResnetBlock2D({ inChannels, outChannels, tembChannels: null, groups, eps: VAE_EPS });
}

/**
 * The mid-block's spatial self-attention: diffusers `Attention` built with
 * `norm_num_groups`, `residual_connection=True`, `bias=True` and one head of the full channel
 * width (`attention_head_dim = channels`), so `group_norm` sits beside `to_q`/`to_k`/`to_v`
 * in the state dict.
 */
export class SpatialSelfAttention extends Attention {
  readonly group_norm: GroupNorm;
  constructor(channels: number, groups: number) {
    super({ queryDim: channels, heads: 1, dimHead: channels, qkvBias: true });
    this.group_norm = new GroupNorm(groups, channels, VAE_EPS);
  }

  /** x [B, C, H, W] → x + attention(group_norm(x)), [B, C, H, W] */
  forwardImage(x: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      const [, , h, w] = x.shape;
      // diffusers normalises the [B, C, H·W] view; on NCHW the groups and statistics are the same.
      const tokens = toTokens(this.group_norm.forward(x)); // [B, H·W, C]
      return fromTokens(this.forward(tokens), h, w).add(x);
    });
  }
}

/** UNetMidBlock2D without time embedding: resnet, then (attention, resnet). */
export class UNetMidBlock2D extends Module {
  /** Empty when the config sets `mid_block_add_attention` false (diffusers keeps a None). */
  readonly attentions: ModuleList<SpatialSelfAttention>;
  readonly resnets: ModuleList<ResnetBlock2D>;
  constructor(channels: number, groups: number, addAttention: boolean) {
    super();
    this.attentions = new ModuleList(addAttention ? [new SpatialSelfAttention(channels, groups)] : []);
    this.resnets = new ModuleList([resnet(channels, channels, groups), resnet(channels, channels, groups)]);
  }

  forward(x: Tensor): Tensor {
    const [first, second] = this.resnets.items;
    const h = first.forward(x);
    const attended = this.attentions.length ? this.attentions.at(0).forwardImage(h) : h;
    return second.forward(attended);
  }
}

export class DownEncoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly downsamplers: ModuleList<Downsample2D> | null;
  constructor(inChannels: number, outChannels: number, layers: number, groups: number, addDownsample: boolean) {
    super();
    this.resnets = new ModuleList(Array.from({ length: layers }, (_, i) => resnet(i === 0 ? inChannels : outChannels, outChannels, groups)));
    // Encoder blocks downsample with padding 0: pad right/bottom by one, stride-2 3×3 conv.
    this.downsamplers = addDownsample ? new ModuleList([new Downsample2D(outChannels, outChannels, 0)]) : null;
  }

  forward(x: Tensor): Tensor {
    const h = this.resnets.items.reduce((acc, r) => r.forward(acc), x);
    return this.downsamplers ? this.downsamplers.at(0).forward(h) : h;
  }
}

export class UpDecoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly upsamplers: ModuleList<Upsample2D> | null;
  constructor(inChannels: number, outChannels: number, layers: number, groups: number, addUpsample: boolean) {
    super();
    this.resnets = new ModuleList(Array.from({ length: layers }, (_, i) => resnet(i === 0 ? inChannels : outChannels, outChannels, groups)));
    this.upsamplers = addUpsample ? new ModuleList([new Upsample2D(outChannels)]) : null;
  }

  forward(x: Tensor): Tensor {
    const h = this.resnets.items.reduce((acc, r) => r.forward(acc), x);
    return this.upsamplers ? this.upsamplers.at(0).forward(h) : h;
  }
}

/** image [B, in, H, W] → moments [B, 2·latent, H/f, W/f] (before quant_conv; f = 2^(blocks−1)). */
export class Encoder extends Module {
  readonly conv_in: Conv2d;
  readonly down_blocks: ModuleList<DownEncoderBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(c: AutoencoderKLConfig) {
    super();
    const ch = c.blockOutChannels, g = c.normNumGroups, last = ch[ch.length - 1];
    this.conv_in = new Conv2d(c.inChannels, ch[0], 3, { padding: 1 });
    this.down_blocks = new ModuleList(ch.map((out, i) => new DownEncoderBlock2D(i === 0 ? ch[0] : ch[i - 1], out, c.layersPerBlock, g, i < ch.length - 1)));
    this.mid_block = new UNetMidBlock2D(last, g, c.midBlockAddAttention);
    this.conv_norm_out = new GroupNorm(g, last, VAE_EPS);
    // double_z: mean and logvar channels.
    this.conv_out = new Conv2d(last, 2 * c.latentChannels, 3, { padding: 1 });
  }

  forward(x: Tensor): Tensor {
    let h = this.conv_in.forward(x);
    for (const b of this.down_blocks.items) h = b.forward(h);
    h = this.mid_block.forward(h);
    return this.conv_out.forward(this.conv_norm_out.forward(h).silu());
  }
}

/** latent [B, latent, h, w] (after post_quant_conv) → image [B, out, h·f, w·f] */
export class Decoder extends Module {
  readonly conv_in: Conv2d;
  readonly up_blocks: ModuleList<UpDecoderBlock2D>;
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(c: AutoencoderKLConfig) {
    super();
    const rev = [...c.blockOutChannels].reverse(), g = c.normNumGroups;
    this.conv_in = new Conv2d(c.latentChannels, rev[0], 3, { padding: 1 });
    this.mid_block = new UNetMidBlock2D(rev[0], g, c.midBlockAddAttention);
    this.up_blocks = new ModuleList(rev.map((out, i) => new UpDecoderBlock2D(i === 0 ? rev[0] : rev[i - 1], out, c.layersPerBlock + 1, g, i < rev.length - 1)));
    this.conv_norm_out = new GroupNorm(g, rev[rev.length - 1], VAE_EPS);
    this.conv_out = new Conv2d(rev[rev.length - 1], c.outChannels, 3, { padding: 1 });
  }

  forward(z: Tensor): Tensor {
    let h = this.mid_block.forward(this.conv_in.forward(z));
    for (const b of this.up_blocks.items) h = b.forward(h);
    return this.conv_out.forward(this.conv_norm_out.forward(h).silu());
  }
}
