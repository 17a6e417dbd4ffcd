/**
 * BasicSR `archs/rrdbnet_arch.py` ResidualDenseBlock and RRDB (ESRGAN), used by PASD's
 * degradation removal module when `use_rrdb` is set (`preprocesser`, 2 × RRDB(c0, c0)).
 */
import { concat, type Tensor } from '../../ops/tensor.ts';
import { Conv2d } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';

/** BasicSR scales every residual branch by 0.2 ("empirically … for better performance"). */
const RESIDUAL_SCALE = 0.2;
const LRELU_SLOPE = 0.2;

/**
 * Five 3×3 convs, each seeing the input and every earlier output (dense connections):
 * conv_k takes num_feat + (k−1)·num_grow_ch channels; conv5 maps back to num_feat.
 */
export class ResidualDenseBlock extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly conv5: Conv2d;

  constructor(numFeat: number, numGrowCh: number) {
    super();
    const conv = (k: number, out: number) => new Conv2d(numFeat + k * numGrowCh, out, 3, { padding: 1 });
    this.conv1 = conv(0, numGrowCh);
    this.conv2 = conv(1, numGrowCh);
    this.conv3 = conv(2, numGrowCh);
    this.conv4 = conv(3, numGrowCh);
    this.conv5 = conv(4, numFeat);
  }

  /** x [B, num_feat, H, W] → same shape */
  forward(x: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      const feats = [x];
      for (const conv of [this.conv1, this.conv2, this.conv3, this.conv4]) feats.push(conv.forward(concat(feats, 1)).leakyRelu(LRELU_SLOPE));
      return this.conv5.forward(concat(feats, 1)).mul(RESIDUAL_SCALE).add(x);
    });
  }
}

/** Residual in Residual Dense Block: three RDBs in sequence, with a scaled outer residual. */
export class RRDB extends Module {
  readonly rdb1: ResidualDenseBlock;
  readonly rdb2: ResidualDenseBlock;
  readonly rdb3: ResidualDenseBlock;

  constructor(numFeat: number, numGrowCh: number) {
    super();
    this.rdb1 = new ResidualDenseBlock(numFeat, numGrowCh);
    this.rdb2 = new ResidualDenseBlock(numFeat, numGrowCh);
    this.rdb3 = new ResidualDenseBlock(numFeat, numGrowCh);
  }

  forward(x: Tensor): Tensor {
    const out = this.rdb3.forward(this.rdb2.forward(this.rdb1.forward(x)));
    return out.mul(RESIDUAL_SCALE).add(x);
  }
}
