/**
 * PASD's degradation removal module: `ControlNetConditioningEmbedding` of
 * pasd/models/pasd/controlnet.py (identical in pasd_light/controlnet.py).
 *
 * conv_in → SiLU → [2 × RRDB] → for each stage i: (3×3 conv, SiLU, stride-2 3×3 conv, SiLU)
 * and, after every stride-2 conv, a `to_rgbs[i]` 3×3 conv head → `conv_out` (zero-initialised
 * upstream). The to-RGB images (cond/2, cond/4, cond/8) are what train_pasd.py fits with L1
 * to the HR image in [-1, 1]; the features are added to the ControlNet's conv_in output.
 */
import { ConfigError } from '../../core/errors.ts';
import type { Tensor } from '../../ops/tensor.ts';
import { Conv2d } from '../../nn/layers.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { RRDB } from './rrdb.ts';

/** PASD hard-codes two RRDBs (`num_rrdb_block = 2`). */
const NUM_RRDB = 2;

export interface ConditioningEmbeddingOptions {
  /** Output channels: the ControlNet's block_out_channels[0]. */
  embeddingChannels: number;
  conditioningChannels: number;
  /** `conditioning_embedding_out_channels`: c0 … c_{n−1}; n−1 stride-2 stages. */
  blockOutChannels: readonly number[];
  returnRgbs: boolean;
  useRrdb: boolean;
}

export class ControlNetConditioningEmbedding extends Module {
  readonly conv_in: Conv2d;
  readonly preprocesser: ModuleList<RRDB> | null;
  /** Pairs per stage: [2i] 3×3 conv c_i → c_i, [2i+1] stride-2 3×3 conv c_i → c_{i+1}. */
  readonly blocks: ModuleList<Conv2d>;
  readonly to_rgbs: ModuleList<Conv2d>;
  readonly conv_out: Conv2d;

  constructor(o: ConditioningEmbeddingOptions) {
    super();
    const ch = o.blockOutChannels;
    if (ch.length < 1) throw new ConfigError('conditioning_embedding_out_channels must have at least one entry');
    this.conv_in = new Conv2d(o.conditioningChannels, ch[0], 3, { padding: 1 });
    this.preprocesser = o.useRrdb ? new ModuleList(Array.from({ length: NUM_RRDB }, () => new RRDB(ch[0], ch[0]))) : null;
    const blocks: Conv2d[] = [], rgbs: Conv2d[] = [];
    for (let i = 0; i + 1 < ch.length; i++) {
      blocks.push(new Conv2d(ch[i], ch[i], 3, { padding: 1 }), new Conv2d(ch[i], ch[i + 1], 3, { padding: 1, stride: 2 }));
      if (o.returnRgbs) rgbs.push(new Conv2d(ch[i + 1], 3, 3, { padding: 1 }));
    }
    this.blocks = new ModuleList(blocks);
    this.to_rgbs = new ModuleList(rgbs);
    this.conv_out = new Conv2d(ch[ch.length - 1], o.embeddingChannels, 3, { padding: 1 });
  }

  /** cond [B, C, H, W] → features [B, embeddingChannels, H/2^s, W/2^s] and the s to-RGB images (none without return_rgbs). */
  forward(cond: Tensor): { embedding: Tensor; rgbs: Tensor[] } {
    return this.scoped(cond.graph, () => {
      let h = this.conv_in.forward(cond).silu();
      for (const rrdb of this.preprocesser?.items ?? []) h = rrdb.forward(h);
      const rgbs: Tensor[] = [];
      this.blocks.items.forEach((conv, i) => {
        h = conv.forward(h).silu();
        if (i % 2 === 1 && this.to_rgbs.length) rgbs.push(this.to_rgbs.at((i - 1) / 2).forward(h));
      });
      return { embedding: this.conv_out.forward(h), rgbs };
    });
  }
}
