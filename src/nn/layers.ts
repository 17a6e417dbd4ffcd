/**
 * Leaf layers with torch/diffusers parameter names: Linear, Conv2d, GroupNorm, LayerNorm,
 * Dropout (identity at inference; the original never trains with dropout either).
 */
import type { Tensor } from '../ops/tensor.ts';
import { apply1 } from '../ops/tensor.ts';
import { Module, Parameter } from './module.ts';

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.weight = new Parameter([outFeatures, inFeatures]);
    this.bias = bias ? new Parameter([outFeatures]) : null;
  }

  /** y = x·Wᵀ + b over the last axis; one Gemm (transB) on the flattened rows, so W is used as stored. */
  forward(x: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      const g = x.graph;
      const rows = x.reshape([-1, this.inFeatures]);
      const ins = [rows, this.weight.tensor(g), ...(this.bias ? [this.bias.tensor(g)] : [])];
      const y = apply1('Gemm', ins, { transA: false, transB: true, alpha: 1, beta: 1 });
      return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly opts: { stride?: number; padding?: number; dilation?: number; groups?: number; bias?: boolean } = {},
  ) {
    super();
    const groups = opts.groups ?? 1;
    this.weight = new Parameter([outChannels, inChannels / groups, kernelSize, kernelSize]);
    this.bias = opts.bias === false ? null : new Parameter([outChannels]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      const g = x.graph;
      const s = this.opts.stride ?? 1, p = this.opts.padding ?? 0, d = this.opts.dilation ?? 1;
      const ins = [x, this.weight.tensor(g), ...(this.bias ? [this.bias.tensor(g)] : [])];
      return apply1('Conv', ins, { strides: [s, s], pads: [p, p, p, p], dilations: [d, d], group: this.opts.groups ?? 1 });
    });
  }
}

export class GroupNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  /** 'native': onnxruntime's GroupNormalization op (the before-case of bench/run.ts); see src/ops/norm.ts. */
  lowering: 'decomposed' | 'native' = 'decomposed';
  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5) {
    super();
    this.weight = new Parameter([numChannels]);
    this.bias = new Parameter([numChannels]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(x.graph, () =>
      apply1('GroupNormalization', [x, this.weight.tensor(x.graph), this.bias.tensor(x.graph)], {
        numGroups: this.numGroups, epsilon: this.eps, ...(this.lowering === 'native' ? { native: true } : {}),
      }));
  }
}

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = new Parameter([dim]);
    this.bias = new Parameter([dim]);
  }

  forward(x: Tensor): Tensor {
    return this.scoped(x.graph, () =>
      apply1('LayerNormalization', [x, this.weight.tensor(x.graph), this.bias.tensor(x.graph)], { axis: x.rank - 1, epsilon: this.eps }));
  }
}

/** Keeps upstream indices (`to_out.1`); identity because PASD never runs dropout. */
export class Dropout extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
