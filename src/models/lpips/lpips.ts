/**
 * LPIPS v0.1 (Zhang et al. 2018; richzhang/PerceptualSimilarity @ 082bb24, `lpips/lpips.py`
 * and `pretrained_networks.py`) for the AlexNet and VGG16 backbones:
 *
 *   x ∈ [0, 1] → 2x − 1 → (x − shift)/scale → torchvision `features` up to the 5 tapped ReLUs
 *   → per tap: f/(‖f‖_c + 1e-10) for both images, (f0 − f1)², 1×1 conv `linK` (no bias),
 *   spatial mean → 5 per-layer terms; the distance is their sum.
 *
 * Keys mirror the files users have: the backbone is torchvision's `features.N.*` (so the
 * ImageNet `alexnet`/`vgg16` checkpoints load as they are), the heads are LPIPS's
 * `linK.model.1.weight`. A backbone weight may be stored as int8 `q` with a power-of-two
 * scale (`weight_exp` in config.json; the fixtures do this): the graph casts and scales it,
 * which is exact in float32.
 */
import { ConfigReader } from '../../config/reader.ts';
import { ConfigError, ShapeError } from '../../core/errors.ts';
import { Graph } from '../../ir/graph.ts';
import { Conv2d, Dropout } from '../../nn/layers.ts';
import { Module, ModuleList, type Parameter } from '../../nn/module.ts';
import { Tensor, concat, constOf, where } from '../../ops/tensor.ts';

export type LpipsNet = 'alex' | 'vgg';
export const LPIPS_NETS: readonly LpipsNet[] = ['alex', 'vgg'];

export interface LpipsConfig {
  readonly net: LpipsNet;
  /** State-dict key → e: the stored (int8) weight times 2^e is the float weight. */
  readonly weightExp: Readonly<Record<string, number>>;
}

/** config.json of an LPIPS folder: `lpips_net` (alex | vgg), `lpips_version` (0.1), optional `weight_exp`. */
export function lpipsConfig(raw: Readonly<Record<string, unknown>>, what = 'LPIPS config', warn?: (m: string) => void): LpipsConfig {
  const r = new ConfigReader(raw, what);
  const net = r.string('lpips_net', 'alex', LPIPS_NETS);
  r.string('lpips_version', '0.1', ['0.1']);
  const exp = raw.weight_exp ?? {};
  if (exp === null || typeof exp !== 'object' || Array.isArray(exp) || !Object.values(exp).every((v) => Number.isInteger(v)))
    throw new ConfigError(`${what}: "weight_exp" must map weight keys to integer exponents, got ${JSON.stringify(exp)}`);
  r.ignore('weight_exp', 'torchvision_architecture', 'feature_channels', 'weight_storage', 'lin_heads');
  r.finish(warn);
  return { net, weightExp: exp as Record<string, number> };
}

/** torchvision `features` layers: convs (with their index), ReLUs, max pools, and where LPIPS taps. */
type Layer = { conv: [index: number, cin: number, cout: number, k: number, stride: number, pad: number] } | { pool: [k: number, stride: number] } | 'relu' | 'tap';

/** torchvision alexnet().features[0:12]; taps after relu1..relu5 (`pretrained_networks.alexnet` slices). */
const ALEX: readonly Layer[] = [
  { conv: [0, 3, 64, 11, 4, 2] }, 'relu', 'tap', { pool: [3, 2] },
  { conv: [3, 64, 192, 5, 1, 2] }, 'relu', 'tap', { pool: [3, 2] },
  { conv: [6, 192, 384, 3, 1, 1] }, 'relu', 'tap',
  { conv: [8, 384, 256, 3, 1, 1] }, 'relu', 'tap',
  { conv: [10, 256, 256, 3, 1, 1] }, 'relu', 'tap',
];

/** torchvision vgg16().features[0:30] (3×3 convs, pad 1); taps after relu1_2, 2_2, 3_3, 4_3, 5_3. */
const VGG: readonly Layer[] = (() => {
  const stages = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];
  const out: Layer[] = [];
  let index = 0, cin = 3;
  for (const [s, convs] of stages.entries()) {
    if (s > 0) {
      out.push({ pool: [2, 2] });
      index++;
    }
    for (const c of convs) {
      out.push({ conv: [index, cin, c, 3, 1, 1] }, 'relu');
      index += 2;
      cin = c;
    }
    out.push('tap');
  }
  return out;
})();

const LAYERS: Record<LpipsNet, readonly Layer[]> = { alex: ALEX, vgg: VGG };

/** A conv whose stored weight may need a power-of-two scale (int8 fixture weights). */
class ScaledConv2d extends Conv2d {
  weightScale = 1;
  override forward(x: Tensor): Tensor {
    if (this.weightScale === 1) return super.forward(x);
    return this.scoped(x.graph, () => {
      const s = this.opts.stride ?? 1, p = this.opts.padding ?? 0;
      const w = this.weight.tensor(x.graph).mul(this.weightScale);
      return x.conv2d(w, this.bias ? this.bias.tensor(x.graph) : null, { strides: [s, s], pads: [p, p, p, p] });
    });
  }
}

/** max(a, b) exactly (no MaxPool op in the IR): Where(a > b, a, b). */
function maximum(a: Tensor, b: Tensor): Tensor {
  return where(a.greater(b), a, b);
}

/** nn.MaxPool2d(k, stride) without padding (floor mode), separably over H then W. */
function maxPool(x: Tensor, k: number, stride: number, what: string): Tensor {
  let y = x;
  for (const axis of [2, 3]) {
    const n = y.shape[axis];
    const out = Math.floor((n - k) / stride) + 1;
    if (out < 1) throw new ShapeError(`${what}: the image is too small (a ${x.shape[2]}x${x.shape[3]} feature map reaches a ${k}x${k} max pool)`);
    const taps = Array.from({ length: k }, (_, j) => y.slice(axis, j, j + stride * (out - 1) + 1, stride));
    y = taps.reduce(maximum);
  }
  return y;
}

/** torchvision's `features` Sequential, holding only the layers with weights under their indices. */
class Features extends Module {
  readonly convs = new Map<number, ScaledConv2d>();
  constructor(readonly net: LpipsNet) {
    super();
    for (const l of LAYERS[net]) if (typeof l === 'object' && 'conv' in l) {
      const [i, cin, cout, k, stride, padding] = l.conv;
      this.convs.set(i, new ScaledConv2d(cin, cout, k, { stride, padding }));
    }
  }
  override children(): [string, Module | Parameter][] {
    return [...this.convs].map(([i, c]) => [String(i), c]);
  }

  /** [B, 3, H, W] (already scaled) → the 5 tapped feature maps. */
  forward(x: Tensor): Tensor[] {
    const taps: Tensor[] = [];
    let h = x;
    for (const l of LAYERS[this.net]) {
      if (l === 'relu') h = h.relu();
      else if (l === 'tap') taps.push(h);
      else if ('pool' in l) h = maxPool(h, l.pool[0], l.pool[1], `LPIPS-${this.net}`);
      else h = this.convs.get(l.conv[0])!.forward(h);
    }
    return taps;
  }
}

/** LPIPS `NetLinLayer`: Sequential(Dropout, Conv2d(C, 1, 1, bias=False)); dropout is off at eval. */
class NetLinLayer extends Module {
  readonly model: ModuleList<Module>;
  constructor(channels: number) {
    super();
    this.model = new ModuleList<Module>([new Dropout(), new Conv2d(channels, 1, 1, { bias: false })]);
  }
  forward(x: Tensor): Tensor {
    return (this.model.at(1) as Conv2d).forward(x);
  }
}

/** LPIPS ScalingLayer constants (float32 in the original). */
const SHIFT = [-0.03, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.45];

export class Lpips extends Module {
  readonly features: Features;
  readonly lin0: NetLinLayer;
  readonly lin1: NetLinLayer;
  readonly lin2: NetLinLayer;
  readonly lin3: NetLinLayer;
  readonly lin4: NetLinLayer;

  constructor(readonly config: LpipsConfig) {
    super();
    this.features = new Features(config.net);
    const ch = LAYERS[config.net].flatMap((l, i, all) => (l === 'tap' ? [tapChannels(all.slice(0, i))] : []));
    [this.lin0, this.lin1, this.lin2, this.lin3, this.lin4] = ch.map((c) => new NetLinLayer(c));
  }

  /** Applies `weight_exp` to the named convs (after `nameTree`/`loadWeights`). */
  applyWeightScales(): void {
    const known = new Set<string>();
    for (const [i, conv] of this.features.convs) {
      const key = `features.${i}.weight`;
      known.add(key);
      const e = this.config.weightExp[key];
      conv.weightScale = e === undefined ? 1 : 2 ** e;
    }
    const stray = Object.keys(this.config.weightExp).filter((k) => !known.has(k));
    if (stray.length) throw new ConfigError(`LPIPS config: "weight_exp" names keys that are not ${this.config.net} conv weights: ${stray.join(', ')}`);
  }

  /** in0, in1: [N, 3, H, W] in [0, 1] → per-layer terms [N, 5]. */
  forward(in0: Tensor, in1: Tensor): Tensor {
    const g = in0.graph;
    const n = in0.shape[0];
    const shift = constOf(g, SHIFT, 'float32', [1, 3, 1, 1]), scale = constOf(g, SCALE, 'float32', [1, 3, 1, 1]);
    // Both images in one batch: [2N, 3, H, W].
    const x = concat([in0, in1], 0).mul(2).sub(1).sub(shift).div(scale);
    const heads = [this.lin0, this.lin1, this.lin2, this.lin3, this.lin4];
    const terms = this.features.forward(x).map((f, k) => {
      const norm = f.div(f.mul(f).sum([1], true).sqrt().add(1e-10));
      const d = norm.slice(0, 0, n).sub(norm.slice(0, n, 2 * n));
      return heads[k].forward(d.mul(d)).mean([2, 3]); // [N, 1]
    });
    return concat(terms, 1);
  }
}

function tapChannels(before: readonly Layer[]): number {
  for (let i = before.length - 1; i >= 0; i--) {
    const l = before[i];
    if (typeof l === 'object' && 'conv' in l) return l.conv[2];
  }
  throw new ConfigError('LPIPS: a tap before any conv');
}

/** Graph `lpips`: inputs `in0`, `in1` [N, 3, H, W] in [0, 1] → `per_layer` [N, 5] and `distance` [N]. */
export function traceLpips(model: Lpips, s: { batch: number; height: number; width: number }): Graph {
  const g = new Graph(`lpips_${model.config.net}`);
  const type = { dtype: 'float32' as const, shape: [s.batch, 3, s.height, s.width] };
  const in0 = new Tensor(g, g.addInput('in0', type)), in1 = new Tensor(g, g.addInput('in1', type));
  const perLayer = model.forward(in0, in1);
  g.setOutputs({ per_layer: perLayer.value, distance: perLayer.sum([1]).value });
  return g;
}
