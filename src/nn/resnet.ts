/**
 * diffusers 0.29.2 `resnet.py` / `upsampling.py` / `downsampling.py`: ResnetBlock2D (with or
 * without a time embedding), Upsample2D (nearest ×2 or to a given size, then 3×3 conv) and
 * Downsample2D (stride-2 3×3 conv; with padding 0 it pads right/bottom by one first).
 */
import type { Tensor } from '../ops/tensor.ts';
import { Conv2d, Dropout, GroupNorm, Linear } from './layers.ts';
import { Module } from './module.ts';

export interface ResnetOptions {
  inChannels: number;
  outChannels: number;
  /** Time-embedding channels, or null for none (VAE). */
  tembChannels: number | null;
  groups: number;
  /** GroupNorm groups of norm2 (defaults to `groups`). */
  groupsOut?: number;
  eps: number;
  outputScaleFactor?: number;
}

export class ResnetBlock2D extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly time_emb_proj: Linear | null;
  readonly norm2: GroupNorm;
  readonly dropout = new Dropout();
  readonly conv2: Conv2d;
  readonly conv_shortcut: Conv2d | null;
  readonly outputScaleFactor: number;

  constructor(o: ResnetOptions) {
    super();
    this.norm1 = new GroupNorm(o.groups, o.inChannels, o.eps);
    this.conv1 = new Conv2d(o.inChannels, o.outChannels, 3, { padding: 1 });
    this.time_emb_proj = o.tembChannels === null ? null : new Linear(o.tembChannels, o.outChannels);
    this.norm2 = new GroupNorm(o.groupsOut ?? o.groups, o.outChannels, o.eps);
    this.conv2 = new Conv2d(o.outChannels, o.outChannels, 3, { padding: 1 });
    this.conv_shortcut = o.inChannels !== o.outChannels ? new Conv2d(o.inChannels, o.outChannels, 1) : null;
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  /** x [B, Cin, H, W], temb [N, T] (N = 1 or B) → [B, Cout, H, W] */
  forward(x: Tensor, temb: Tensor | null = null): Tensor {
    let h = this.conv1.forward(this.norm1.forward(x).silu());
    if (this.time_emb_proj && temb) {
      const t = this.time_emb_proj.forward(temb.silu());
      h = h.add(t.reshape([t.shape[0], t.shape[1], 1, 1]));
    }
    h = this.conv2.forward(this.dropout.forward(this.norm2.forward(h).silu()));
    const skip = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
    const out = skip.add(h);
    return this.outputScaleFactor === 1 ? out : out.div(this.outputScaleFactor);
  }
}

export class Upsample2D extends Module {
  readonly conv: Conv2d;
  constructor(channels: number, outChannels = channels) {
    super();
    this.conv = new Conv2d(channels, outChannels, 3, { padding: 1 });
  }

  /** Nearest ×2, or to `size` [h, w] when the skip tensor is not exactly twice as large. */
  forward(x: Tensor, size: readonly number[] | null = null): Tensor {
    const [b, c, h, w] = x.shape;
    const [oh, ow] = size ?? [2 * h, 2 * w];
    return this.conv.forward(x.resize([b, c, oh, ow], 'nearest'));
  }
}

export class Downsample2D extends Module {
  readonly conv: Conv2d;
  constructor(channels: number, outChannels: number, readonly padding: number) {
    super();
    this.conv = new Conv2d(channels, outChannels, 3, { stride: 2, padding });
  }

  forward(x: Tensor): Tensor {
    // padding 0 (VAE encoder): F.pad(x, (0, 1, 0, 1)) before the stride-2 conv.
    const xp = this.padding === 0 ? x.pad([0, 0, 0, 0, 0, 0, 1, 1]) : x;
    return this.conv.forward(xp);
  }
}
