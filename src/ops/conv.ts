/**
 * 2-D convolution and transposed convolution (NCHW), ONNX semantics: pads are
 * [top, left, bottom, right]; Conv weights are [O, C/group, kh, kw], ConvTranspose weights
 * [C, O/group, kh, kw] (torch.nn.Conv2d / ConvTranspose2d store theirs the same way).
 *
 * The two ops are each other's input gradient, and both weight gradients are one more Conv
 * whose strides and dilations swap roles; groups are carried through by folding the group
 * index into the channel axis (`groupsToBatch`), so grouped convs differentiate too.
 */
import { ShapeError } from '../core/errors.ts';
import { type TensorType, fmtType } from '../ir/graph.ts';
import { attr } from '../onnx/encode.ts';
import { ref } from './ref-util.ts';
import { type Tensor, apply1 } from './tensor.ts';
import type { ConvAttrs, LowerCtx, OpAttrs, OpDef, RefTensor } from './types.ts';

type ConvOps = Pick<OpAttrs, 'Conv' | 'ConvTranspose'>;
type ConvTAttrs = OpAttrs['ConvTranspose'];

/** Output length of a convolution along one axis. */
function convOut(n: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

/** Output length of a transposed convolution along one axis. */
function convTOut(n: number, k: number, s: number, d: number, p0: number, p1: number, op: number): number {
  return s * (n - 1) + op + d * (k - 1) + 1 - p0 - p1;
}

function checkInputs(op: string, ins: readonly TensorType[], a: ConvAttrs): void {
  const all = () => ins.map(fmtType).join(', ');
  const ints = (v: readonly number[], n: number, min: number) => v.length === n && v.every((x) => Number.isInteger(x) && x >= min);
  if (!ints(a.strides, 2, 1) || !ints(a.dilations, 2, 1) || !ints(a.pads, 4, 0) || !ints([a.group], 1, 1))
    throw new ShapeError(`${op}: strides [${a.strides}] and dilations [${a.dilations}] need 2 positive ints, pads [${a.pads}] 4 non-negative ints (top, left, bottom, right), group ${a.group} a positive int`);
  const [x, w] = ins;
  if (ins.length < 2 || ins.length > 3 || x.shape.length !== 4 || w.shape.length !== 4)
    throw new ShapeError(`${op}: 2-D only: needs X [N,C,H,W], W [·,·,kh,kw] and an optional bias, got ${all()}`);
  if (ins.some((t) => t.dtype !== x.dtype)) throw new ShapeError(`${op}: dtypes differ (${all()})`);
}

function inferConv(ins: readonly TensorType[], a: ConvAttrs): TensorType[] {
  checkInputs('Conv', ins, a);
  const [x, w, b] = ins;
  const [n, c, h, wd] = x.shape, [o, cg, kh, kw] = w.shape;
  if (c !== cg * a.group || o % a.group !== 0)
    throw new ShapeError(`Conv: X ${fmtType(x)} and W ${fmtType(w)} do not fit group ${a.group} (W must be [O, C/group, kh, kw] with O divisible by group)`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) throw new ShapeError(`Conv: bias ${fmtType(b)} must be [${o}] for W ${fmtType(w)}`);
  const oh = convOut(h, kh, a.strides[0], a.dilations[0], a.pads[0], a.pads[2]);
  const ow = convOut(wd, kw, a.strides[1], a.dilations[1], a.pads[1], a.pads[3]);
  if (oh < 1 || ow < 1) throw new ShapeError(`Conv: kernel ${fmtType(w)} (dilations [${a.dilations}]) is larger than X ${fmtType(x)} padded by [${a.pads}]`);
  return [{ dtype: x.dtype, shape: [n, o, oh, ow] }];
}

function inferConvT(ins: readonly TensorType[], a: ConvTAttrs): TensorType[] {
  checkInputs('ConvTranspose', ins, a);
  const [x, w, b] = ins;
  const [n, c, h, wd] = x.shape, [cw, og, kh, kw] = w.shape;
  if (c !== cw || c % a.group !== 0)
    throw new ShapeError(`ConvTranspose: X ${fmtType(x)} and W ${fmtType(w)} do not fit group ${a.group} (W must be [C, O/group, kh, kw] with C divisible by group)`);
  const o = og * a.group;
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) throw new ShapeError(`ConvTranspose: bias ${fmtType(b)} must be [${o}] for W ${fmtType(w)}`);
  const op = a.outputPadding;
  // torch allows output_padding < max(stride, dilation); onnxruntime only < stride.
  if (op.length !== 2 || op.some((v, i) => !Number.isInteger(v) || v < 0 || v >= a.strides[i]))
    throw new ShapeError(`ConvTranspose: outputPadding [${op}] must be 2 non-negative ints below the strides [${a.strides}] (onnxruntime's limit)`);
  const oh = convTOut(h, kh, a.strides[0], a.dilations[0], a.pads[0], a.pads[2], op[0]);
  const ow = convTOut(wd, kw, a.strides[1], a.dilations[1], a.pads[1], a.pads[3], op[1]);
  if (oh < 1 || ow < 1) throw new ShapeError(`ConvTranspose: pads [${a.pads}] leave no output for X ${fmtType(x)} and W ${fmtType(w)}`);
  return [{ dtype: x.dtype, shape: [n, o, oh, ow] }];
}

function convOnnxAttrs(a: ConvAttrs, w: TensorType) {
  return [attr('kernel_shape', w.shape.slice(2)), attr('strides', a.strides), attr('pads', a.pads), attr('dilations', a.dilations), attr('group', a.group)];
}

function lowerConv(ctx: LowerCtx, ins: readonly string[], outs: readonly string[], a: ConvAttrs, types: readonly TensorType[]): void {
  ctx.node('Conv', ins, convOnnxAttrs(a, types[1]), outs);
}

function lowerConvT(ctx: LowerCtx, ins: readonly string[], outs: readonly string[], a: ConvTAttrs, types: readonly TensorType[]): void {
  ctx.node('ConvTranspose', ins, [...convOnnxAttrs(a, types[1]), attr('output_padding', a.outputPadding)], outs);
}

/**
 * [N, G·K, H, W] → [K, G·N, H, W]: the batch becomes the channel axis within each group, so a
 * Conv with `group` G correlates each group's channels separately (weight gradients).
 */
function groupsToBatch(t: Tensor, group: number): Tensor {
  const [n, c, h, w] = t.shape;
  if (group === 1) return t.transpose([1, 0, 2, 3]);
  return t.reshape([n, group, c / group, h, w]).transpose([2, 1, 0, 3, 4]).reshape([c / group, group * n, h, w]);
}

/**
 * Weight gradient of both ops as one Conv: `input` [B, G·I, ·, ·] (already batch-folded) is
 * correlated with `kernel` [G·J, I', ·, ·] using the forward dilations as strides and the
 * forward strides as dilations; the result [B, G·J, k', k'] is trimmed to the kernel size.
 * `excess` (rows past the last forward window, per axis) is first taken off the end pads so
 * no unneeded kernel rows are computed.
 */
function weightGrad(input: Tensor, kernel: Tensor, a: ConvAttrs, k: readonly number[], excess: readonly number[]): Tensor {
  const pads = [a.pads[0], a.pads[1], a.pads[2] - Math.min(a.pads[2], excess[0]), a.pads[3] - Math.min(a.pads[3], excess[1])];
  let r = apply1('Conv', [input, kernel], { strides: a.dilations, dilations: a.strides, pads, group: a.group });
  if (r.shape[2] > k[0]) r = r.slice(2, 0, k[0]);
  if (r.shape[3] > k[1]) r = r.slice(3, 0, k[1]);
  return r.transpose([1, 0, 2, 3]);
}

function refConv(x: RefTensor, w: RefTensor, b: RefTensor | undefined, a: ConvAttrs): RefTensor {
  const [n, c, h, wd] = x.shape, [o, cg, kh, kw] = w.shape;
  const [sh, sw] = a.strides, [dh, dw] = a.dilations, [pt, pl] = a.pads;
  const oh = convOut(h, kh, sh, dh, a.pads[0], a.pads[2]), ow = convOut(wd, kw, sw, dw, a.pads[1], a.pads[3]);
  const og = o / a.group;
  const out = ref(x.dtype, [n, o, oh, ow]);
  let f = 0;
  for (let ni = 0; ni < n; ni++)
    for (let oi = 0; oi < o; oi++) {
      const c0 = Math.floor(oi / og) * cg;
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b.data[oi] : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++) {
              const iy = y * sh - pt + i * dh;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = xx * sw - pl + j * dw;
                if (ix < 0 || ix >= wd) continue;
                s += x.data[((ni * c + c0 + ci) * h + iy) * wd + ix] * w.data[((oi * cg + ci) * kh + i) * kw + j];
              }
            }
          out.data[f++] = s;
        }
    }
  return out;
}

/** Transposed convolution as a scatter: each input pixel adds its weighted kernel to the output. */
function refConvT(x: RefTensor, w: RefTensor, b: RefTensor | undefined, a: ConvTAttrs): RefTensor {
  const [n, c, h, wd] = x.shape, [, og, kh, kw] = w.shape;
  const [sh, sw] = a.strides, [dh, dw] = a.dilations, [pt, pl] = a.pads;
  const o = og * a.group, cpg = c / a.group;
  const oh = convTOut(h, kh, sh, dh, a.pads[0], a.pads[2], a.outputPadding[0]);
  const ow = convTOut(wd, kw, sw, dw, a.pads[1], a.pads[3], a.outputPadding[1]);
  const out = ref(x.dtype, [n, o, oh, ow]);
  if (b) for (let i = 0; i < out.data.length; i++) out.data[i] = b.data[Math.floor(i / (oh * ow)) % o];
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++) {
      const o0 = Math.floor(ci / cpg) * og;
      for (let oj = 0; oj < og; oj++) {
        const ob = (ni * o + o0 + oj) * oh * ow;
        for (let y = 0; y < h; y++)
          for (let xx = 0; xx < wd; xx++) {
            const v = x.data[((ni * c + ci) * h + y) * wd + xx];
            for (let i = 0; i < kh; i++) {
              const oy = y * sh - pt + i * dh;
              if (oy < 0 || oy >= oh) continue;
              for (let j = 0; j < kw; j++) {
                const ox = xx * sw - pl + j * dw;
                if (ox >= 0 && ox < ow) out.data[ob + oy * ow + ox] += v * w.data[((ci * og + oj) * kh + i) * kw + j];
              }
            }
          }
      }
    }
  return out;
}

export const convOps: { [K in keyof ConvOps]: OpDef<ConvOps[K]> } = {
  Conv: {
    infer: inferConv,
    lower: lowerConv,
    vjp: ({ inputs: [x, w, b], grads: [g], attrs: a }) => {
      if (!g) return [null, null, null];
      const [, , kh, kw] = w.shape;
      // Rows/cols at the end of X that no window reaches (e.g. H 13, k 3, s 2, p 1 leaves none;
      // H 14 leaves one): the transposed conv recreates them through output_padding.
      const rest = [0, 1].map((i) => (x.shape[2 + i] + a.pads[i] + a.pads[2 + i] - a.dilations[i] * ((i ? kw : kh) - 1) - 1) % a.strides[i]);
      const dx = apply1('ConvTranspose', [g, w], { ...a, outputPadding: rest });
      // dW[o,c,i,j] = Σ_n,y,x g[n,o,y,x]·Xpad[n,c,y·s+i·d,x·s+j·d]
      const dw = weightGrad(groupsToBatch(x, a.group), g.transpose([1, 0, 2, 3]), a, [kh, kw], rest);
      return [dx, dw, b ? g.sum([0, 2, 3]) : null];
    },
    ref: ([x, w, b], a) => [refConv(x, w, b, a)],
  },
  ConvTranspose: {
    infer: inferConvT,
    lower: lowerConvT,
    vjp: ({ inputs: [x, w, b], grads: [g], attrs: a }) => {
      if (!g) return [null, null, null];
      const { outputPadding, ...conv } = a;
      // The adjoint of a transposed conv is the conv with the same geometry (outputPadding <
      // stride, so the conv's output has exactly X's size).
      const dx = apply1('Conv', [g, w], conv);
      // dW[c,o,i,j] = Σ_n,y,x X[n,c,y,x]·gpad[n,o,y·s+i·d,x·s+j·d]
      const dw = weightGrad(groupsToBatch(g, a.group), x.transpose([1, 0, 2, 3]), conv, w.shape.slice(2), outputPadding);
      return [dx, dw, b ? g.sum([0, 2, 3]) : null];
    },
    ref: ([x, w, b], a) => [refConvT(x, w, b, a)],
  },
};
