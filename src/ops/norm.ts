/**
 * GroupNormalization (opset 21: per-channel scale and bias, like torch.nn.GroupNorm) and
 * LayerNormalization (torch.nn.LayerNorm over the trailing axes [axis, rank)). Both use the
 * biased variance, as torch does. Their vjps are the usual normalisation gradient,
 *   dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)),  ĝ = g · scale,
 * written with Tensor ops over the normalised axes.
 */
import { ShapeError } from '../core/errors.ts';
import { numel, shapeEq } from '../core/shape.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr, onnxDataType } from '../onnx/encode.ts';
import { ref } from './ref-util.ts';
import type { Tensor } from './tensor.ts';
import type { OpAttrs, OpDef, RefTensor } from './types.ts';

type NormOps = Pick<OpAttrs, 'GroupNormalization' | 'LayerNormalization'>;

function checkDtypes(op: string, ins: readonly TensorType[]): void {
  if (ins.some((t) => t.dtype !== ins[0].dtype)) throw new ShapeError(`${op}: dtypes differ (${ins.map(fmtType).join(', ')})`);
}

/**
 * Normalises `x` viewed as [outer, inner] (each row separately), then applies the affine
 * y = x̂ · scale[a] + bias[a], with a = affineIndex(flat index).
 */
function refNormalize(x: RefTensor, outer: number, eps: number, affineIndex: (f: number) => number, scale: RefTensor, bias: RefTensor | undefined): RefTensor {
  const inner = x.data.length / outer;
  const out = ref(x.dtype, x.shape);
  for (let r = 0; r < outer; r++) {
    const row = x.data.subarray(r * inner, (r + 1) * inner);
    const mean = row.reduce((s, v) => s + v, 0) / inner;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / inner;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < inner; i++) {
      const f = r * inner + i, a = affineIndex(f);
      out.data[f] = (row[i] - mean) * rstd * scale.data[a] + (bias ? bias.data[a] : 0);
    }
  }
  return out;
}

/**
 * Gradients of y = x̂ · scale + bias, where x̂ normalises `x` over the last axis of its
 * [rows, m] view `xr`; `gs` is g · scale in that same view. Returns dx in the [rows, m] view
 * and x̂ in it (for dscale).
 */
function normalizeVjp(xr: Tensor, gs: Tensor, eps: number): { dx: Tensor; xhat: Tensor } {
  const xc = xr.sub(xr.mean([-1], true));
  const std = xc.mul(xc).mean([-1], true).add(eps).sqrt();
  const xhat = xc.div(std);
  const dx = gs.sub(gs.mean([-1], true)).sub(xhat.mul(gs.mul(xhat).mean([-1], true))).div(std);
  return { dx, xhat };
}

export const normOps: { [K in keyof NormOps]: OpDef<NormOps[K]> } = {
  GroupNormalization: {
    infer: (ins, a) => {
      const [x, scale, bias] = ins;
      const all = () => ins.map(fmtType).join(', ');
      if (ins.length !== 3 || x.shape.length < 2) throw new ShapeError(`GroupNormalization: needs X [N,C,…], scale [C] and bias [C], got ${all()}`);
      checkDtypes('GroupNormalization', ins);
      const c = x.shape[1];
      if (!Number.isInteger(a.numGroups) || a.numGroups < 1 || c % a.numGroups !== 0)
        throw new ShapeError(`GroupNormalization: ${c} channels of ${fmtType(x)} do not split into ${a.numGroups} groups`);
      if (!shapeEq(scale.shape, [c]) || !shapeEq(bias.shape, [c])) throw new ShapeError(`GroupNormalization: scale and bias must be [${c}], got ${all()}`);
      return [x];
    },
    /*
     * Reshape → InstanceNormalization → Reshape → per-channel Mul/Add rather than
     * onnxruntime 1.30's GroupNormalization-21. bench/groupnorm.ts, 2 threads, 32 groups,
     * median ms of two runs on a shared machine, native vs decomposed: [2,320,64,64] 37–62 vs
     * 17–23; [1,512,128,128] 196–206 vs 62–153; [1,128,512,512] 541–622 vs 334–336; the
     * float32 error against float64 is no worse (3.4e-5 vs 1.6e-5 at the largest shape).
     */
    lower: (ctx, ins, outs, a, [x]) => {
      // onnxruntime's CPU InstanceNormalization is float32-only; the statistics of other dtypes
      // are taken in float32 (stash_type's default), float64 in float64.
      if (x.dtype !== 'float32' || a.native || ctx.target.groupNorm === 'native') {
        const stash = onnxDataType(x.dtype === 'float64' ? 'float64' : 'float32');
        ctx.node('GroupNormalization', ins, [attr('epsilon', a.epsilon, 'float'), attr('num_groups', a.numGroups), attr('stash_type', stash)], outs);
        return;
      }
      const [n, c] = x.shape, g = a.numGroups;
      const perChannel = ctx.constI64([c, ...x.shape.slice(2).map(() => 1)]); // [C, 1, 1…]
      const [grouped] = ctx.node('Reshape', [ins[0], ctx.constI64([n, g, -1])]); // [N, G, C/G·spatial]
      const unit = ctx.constFloat(new Array<number>(g).fill(1), 'float32'), zero = ctx.constFloat(new Array<number>(g).fill(0), 'float32');
      const [normed] = ctx.node('InstanceNormalization', [grouped, unit, zero], [attr('epsilon', a.epsilon, 'float')]);
      const [full] = ctx.node('Reshape', [normed, ctx.constI64(x.shape)]);
      const [scale] = ctx.node('Reshape', [ins[1], perChannel]);
      const [bias] = ctx.node('Reshape', [ins[2], perChannel]);
      const [scaled] = ctx.node('Mul', [full, scale]);
      ctx.node('Add', [scaled, bias], [], outs);
    },
    vjp: ({ inputs: [x, scale], grads: [g], attrs: a }) => {
      if (!g) return [null, null, null];
      const [n, c] = x.shape;
      const perChannel = [c, ...x.shape.slice(2).map(() => 1)]; // [C, 1, 1…] broadcasts over X
      const grouped = [n, a.numGroups, -1]; // [N, G, C/G·spatial]
      const { dx, xhat } = normalizeVjp(x.reshape(grouped), g.mul(scale.reshape(perChannel)).reshape(grouped), a.epsilon);
      const axes = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)]; // all but C
      return [dx.reshape([...x.shape]), g.mul(xhat.reshape([...x.shape])).sum(axes), g.sum(axes)];
    },
    ref: ([x, scale, bias], a) => {
      const spatial = numel(x.shape.slice(2)), c = x.shape[1];
      return [refNormalize(x, x.shape[0] * a.numGroups, a.epsilon, (f) => Math.floor(f / spatial) % c, scale, bias)];
    },
  },
  LayerNormalization: {
    infer: (ins, a) => {
      const [x, scale, bias] = ins;
      const all = () => ins.map(fmtType).join(', ');
      if (ins.length < 2 || ins.length > 3 || !Number.isInteger(a.axis) || a.axis < 0 || a.axis >= x.shape.length)
        throw new ShapeError(`LayerNormalization: needs X, scale and an optional bias, with 0 ≤ axis ${a.axis} < rank, got ${all()}`);
      checkDtypes('LayerNormalization', ins);
      const norm = x.shape.slice(a.axis);
      if (!shapeEq(scale.shape, norm) || (bias && !shapeEq(bias.shape, norm)))
        throw new ShapeError(`LayerNormalization: scale and bias must be [${norm}] (X's axes from ${a.axis}), got ${all()}`);
      return [x];
    },
    lower: (ctx, ins, outs, a, [x]) => {
      const stash = onnxDataType(x.dtype === 'float64' ? 'float64' : 'float32'); // statistics' precision
      ctx.node('LayerNormalization', ins, [attr('axis', a.axis), attr('epsilon', a.epsilon, 'float'), attr('stash_type', stash)], outs);
    },
    vjp: ({ inputs: [x, scale, bias], grads: [g], attrs: a }) => {
      if (!g) return [null, null, null];
      const rows = [numel(x.shape.slice(0, a.axis)), numel(x.shape.slice(a.axis))];
      const { dx, xhat } = normalizeVjp(x.reshape(rows), g.mul(scale).reshape(rows), a.epsilon);
      const lead = [...Array(a.axis).keys()];
      const sumLead = (t: Tensor) => (lead.length ? t.sum(lead) : t);
      return [dx.reshape([...x.shape]), sumLead(g.mul(xhat.reshape([...x.shape]))), bias ? sumLead(g) : null];
    },
    ref: ([x, scale, bias], a) => {
      const inner = numel(x.shape.slice(a.axis));
      return [refNormalize(x, x.data.length / inner, a.epsilon, (f) => f % inner, scale, bias)];
    },
  },
};
