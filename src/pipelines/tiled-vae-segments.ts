/**
 * The pieces of the VAE between two GroupNorms, traced as per-tile graphs whose outputs are
 * exact, and their tile geometry.
 *
 * A segment starts at a GroupNorm (fed the image-wide mean and 1/std of its input map) and
 * ends before the next one: norm → SiLU → 3×3 conv, optionally + shortcut and a down/up
 * sampler (diffusers 0.29.2 `resnet.py` ResnetBlock2D, `downsampling.py`, `upsampling.py`).
 * Every 3×3 conv runs *valid* (no padding) on an input tile that carries the conv's halo,
 * and its input is first multiplied by a 0/1 mask of the positions inside the image. That
 * reproduces the model's zero padding exactly at the image border (including the encoder
 * downsampler's right/bottom pad) while interior tile edges read real neighbours, so all
 * tiles of a segment share one graph shape and agree with the untiled network to float error.
 */
import { UnsupportedError } from '../core/errors.ts';
import { Graph } from '../ir/graph.ts';
import type { Conv2d, GroupNorm } from '../nn/layers.ts';
import { Tensor } from '../ops/tensor.ts';

/** `conv`: norm → SiLU → conv. `res`: the same + shortcut of a second map; `resDown`/`resUp` then resample. */
export type SegmentKind = 'conv' | 'res' | 'resDown' | 'resUp';

/** A 1-D interval [start, start + len) of one axis of a map. */
export interface Interval {
  readonly start: number;
  readonly len: number;
}

/** Where a conv input's mask lives: at the segment's input resolution or its output's (after ×2 upsampling). */
export interface MaskSpec {
  readonly at: 'in' | 'out';
  readonly iv: Interval;
}

/** One axis of a tile: what to read from the main and residual maps, the masks, and the final crop. */
export interface AxisPlan {
  readonly main: Interval;
  readonly res: Interval | null;
  readonly masks: readonly MaskSpec[];
  /** Positions dropped from each side of the last result (the up path's odd halo). */
  readonly crop: number;
}

const iv = (start: number, len: number): Interval => ({ start, len });

/**
 * The input intervals giving output positions [a, a + t) of a segment along one axis.
 * Each valid 3×3 conv consumes one position per side; the stride-2 downsampler maps
 * [2a, 2a + 2t + 1) to [a, a + t); nearest ×2 upsampling needs `a`, `t` even and is followed
 * by a valid conv on [a − 2, a + t + 2), leaving one extra position per side to crop.
 */
export function axisPlan(kind: SegmentKind, a: number, t: number): AxisPlan {
  switch (kind) {
    case 'conv':
      return { main: iv(a - 1, t + 2), res: null, masks: [{ at: 'in', iv: iv(a - 1, t + 2) }], crop: 0 };
    case 'res':
      return { main: iv(a - 1, t + 2), res: iv(a, t), masks: [{ at: 'in', iv: iv(a - 1, t + 2) }], crop: 0 };
    case 'resDown':
      return {
        main: iv(2 * a - 1, 2 * t + 3), res: iv(2 * a, 2 * t + 1),
        masks: [{ at: 'in', iv: iv(2 * a - 1, 2 * t + 3) }, { at: 'in', iv: iv(2 * a, 2 * t + 1) }], crop: 0,
      };
    case 'resUp': {
      if (a % 2 || t % 2) throw new UnsupportedError(`tiled VAE: upsampling tiles must start and end on even positions, got [${a}, ${a + t})`);
      const p = a / 2 - 1, pl = t / 2 + 2; // pre-upsampling interval of the resnet output
      return { main: iv(p - 1, pl + 2), res: iv(p, pl), masks: [{ at: 'in', iv: iv(p - 1, pl + 2) }, { at: 'out', iv: iv(2 * p, 2 * pl) }], crop: 1 };
    }
  }
}

/** Output size of a segment along an axis of input size `n`. */
export function outputSize(kind: SegmentKind, n: number): number {
  // Encoder downsampler: pad (0, 1), 3×3 stride 2 → ⌊(n + 1 − 3) / 2⌋ + 1 = ⌊n / 2⌋.
  return kind === 'resDown' ? Math.floor(n / 2) : kind === 'resUp' ? 2 * n : n;
}

/** The 0/1 mask of an interval's positions inside [0, size). */
export function maskOf(i: Interval, size: number): Float32Array {
  const m = new Float32Array(i.len);
  for (let k = 0; k < i.len; k++) m[k] = i.start + k >= 0 && i.start + k < size ? 1 : 0;
  return m;
}

export interface SegmentSpec {
  /** Unique per model part (graph cache key). */
  readonly key: string;
  readonly kind: SegmentKind;
  /** The norm whose statistics are fed; null for the first segment (no norm, no SiLU). */
  readonly norm: GroupNorm | null;
  /** The 3×3 conv after the norm. */
  readonly conv: Conv2d;
  /** res kinds: the resnet's 1×1 shortcut, null for identity. */
  readonly shortcut?: Conv2d | null;
  /** resDown / resUp: the sampler's 3×3 conv. */
  readonly resampleConv?: Conv2d;
  /** Pointwise work on the raw input before the first conv (first segment only). */
  readonly prelude?: (x: Tensor) => Tensor;
  /** Pointwise work on the result (last segment only). */
  readonly post?: (y: Tensor) => Tensor;
}

/** Channels of a segment's output. */
export function outChannels(s: SegmentSpec): number {
  return (s.resampleConv ?? s.conv).outChannels;
}

/**
 * `conv` without padding. Stride 1: a 3×3 conv with padding 1; stride 2: the encoder
 * downsampler's conv (padding 0 after its own right/bottom pad, which the masks provide).
 */
function validConv(conv: Conv2d, x: Tensor, stride: 1 | 2): Tensor {
  const o = conv.opts;
  if (conv.kernelSize !== 3 || (o.stride ?? 1) !== stride || (o.padding ?? 0) !== (stride === 1 ? 1 : 0) || (o.dilation ?? 1) !== 1 || (o.groups ?? 1) !== 1)
    throw new UnsupportedError(`tiled VAE: ${conv.weight.name}: expected a 3×3 conv with stride ${stride} and padding ${stride === 1 ? 1 : 0}`);
  const g = x.graph;
  return x.conv2d(conv.weight.tensor(g), conv.bias ? conv.bias.tensor(g) : null, { strides: [stride, stride] });
}

function pointConv(conv: Conv2d, x: Tensor): Tensor {
  if (conv.kernelSize !== 1) throw new UnsupportedError(`tiled VAE: ${conv.weight.name}: expected a 1×1 conv`);
  return conv.forward(x);
}

/** x·mask_y·mask_x with the masks of conv input `k` as graph inputs. */
function masked(g: Graph, x: Tensor, k: number): Tensor {
  const [, , h, w] = x.shape;
  const my = new Tensor(g, g.addInput(`mask${k}_y`, { dtype: 'float32', shape: [1, 1, h, 1] }));
  const mx = new Tensor(g, g.addInput(`mask${k}_x`, { dtype: 'float32', shape: [1, 1, 1, w] }));
  return x.mul(my).mul(mx);
}

/** (x − mean)·rstd·γ + β with per-channel inputs `mean`, `rstd` shaped to broadcast along `channelAxis`. */
export function normWith(g: Graph, norm: GroupNorm, x: Tensor, channelAxis: number): Tensor {
  const stat = x.shape.map((_, i) => (i === channelAxis ? norm.numChannels : 1));
  const mean = new Tensor(g, g.addInput('mean', { dtype: 'float32', shape: stat }));
  const rstd = new Tensor(g, g.addInput('rstd', { dtype: 'float32', shape: stat }));
  const gamma = norm.weight.tensor(g).reshape(stat), beta = norm.bias.tensor(g).reshape(stat);
  return x.sub(mean).mul(rstd).mul(gamma).add(beta);
}

/** A channels-last tile input [1, h, w, C] as NCHW. */
function tileInput(g: Graph, name: string, c: number, h: number, w: number): Tensor {
  return new Tensor(g, g.addInput(name, { dtype: 'float32', shape: [1, h, w, c] })).transpose([0, 3, 1, 2]);
}

/**
 * Graph of a segment for output tiles of `ty × tx`: inputs `x` (the normed map's tile),
 * `res` (res kinds), both channels-last [1, h, w, C], `mean`/`rstd` [1, C, 1, 1] (when
 * normed), `mask{k}_y|x`; output `out` [1, ty, tx, C].
 */
export function traceSegment(s: SegmentSpec, inChannels: number, resChannels: number, ty: number, tx: number): Graph {
  const py = axisPlan(s.kind, 0, ty), px = axisPlan(s.kind, 0, tx);
  const g = new Graph(`tiled_vae_${s.key}_${ty}x${tx}`);
  let x = tileInput(g, 'x', inChannels, py.main.len, px.main.len);
  if (s.prelude) x = s.prelude(x);
  if (s.norm) x = normWith(g, s.norm, x, 1).silu();
  let h = validConv(s.conv, masked(g, x, 0), 1);
  if (py.res && px.res) {
    const r = tileInput(g, 'res', resChannels, py.res.len, px.res.len);
    h = (s.shortcut ? pointConv(s.shortcut, r) : r).add(h);
  }
  if (s.kind === 'resDown') h = validConv(s.resampleConv!, masked(g, h, 1), 2);
  if (s.kind === 'resUp') {
    const [b, c, hh, ww] = h.shape;
    h = validConv(s.resampleConv!, masked(g, h.resize([b, c, 2 * hh, 2 * ww], 'nearest'), 1), 1);
  }
  if (py.crop) h = h.slice(2, py.crop, py.crop + ty).slice(3, px.crop, px.crop + tx);
  if (s.post) h = s.post(h);
  g.setOutputs({ out: h.transpose([0, 2, 3, 1]).value });
  return g;
}
