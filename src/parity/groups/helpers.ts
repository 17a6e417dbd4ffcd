/**
 * `helpers` group (fixtures README, "helpers"): PASD's colour fixes
 * (`pasd/myutils/wavelet_color_fix.py`), the pipeline's Gaussian tile weights
 * (`pipeline_pasd.py` `_gaussian_weights`) and Pillow 9.4 / torchvision 0.14 resizes. Each
 * output is recognised by its name, which carries the procedure's parameters
 * (`weights_w<W>_h<H>`, `image<K>_<filter>_<tag>_u8`, `image<K>_tv_resize_<size>_<max|None>_u8`);
 * a resize's target size is the output's manifest shape.
 */
import { adainColorFix, adaptiveInstanceNormalization, waveletColorFix, waveletDecomposition, waveletReconstruction } from '../../image/colorfix.ts';
import { type Image, type ImageTensor, makeImage } from '../../image/image.ts';
import { resize, torchvisionResize } from '../../image/resample.ts';
import { gaussianTileWeights } from '../../image/tile-weights.ts';
import { ShapeError } from '../../core/errors.ts';
import type { CaseContext, CaseOutputs, GroupHandler, ManifestTensor, Produced } from '../types.ts';

function imageTensor(ctx: CaseContext, name: string): ImageTensor {
  const s = ctx.shape(name);
  if (s.length !== 4 || s[0] !== 1) throw new ShapeError(`${ctx.meta.name}: ${name} must be [1, C, H, W], got [${s.join(', ')}]`);
  return { shape: [1, s[1], s[2], s[3]], data: ctx.f32(name) };
}

/** A `*_u8` HWC tensor (uint8 values stored as float32) as an Image. */
function u8Image(ctx: CaseContext, name: string): Image {
  const [h, w, c] = ctx.shape(name);
  return makeImage(w, h, c, Uint8Array.from(ctx.f32(name)));
}

function fromImage(img: Image): Produced {
  return { data: img.data, shape: [img.height, img.width, img.channels] };
}

type Rule = (ctx: CaseContext, t: ManifestTensor, m: RegExpExecArray) => Produced | ArrayLike<number>;

const RULES: readonly (readonly [RegExp, Rule])[] = [
  [/^output\.wavelet_(high|low)_freq$/, (ctx, _t, m) => waveletDecomposition(imageTensor(ctx, 'input.target'))[m[1] as 'high' | 'low'].data],
  [/^output\.wavelet_reconstruction$/, (ctx) => waveletReconstruction(imageTensor(ctx, 'input.target'), imageTensor(ctx, 'input.source')).data],
  [/^output\.adaptive_instance_normalization$/, (ctx) => adaptiveInstanceNormalization(imageTensor(ctx, 'input.target'), imageTensor(ctx, 'input.source')).data],
  [/^output\.(wavelet|adain)_color_fix_u8$/, (ctx, _t, m) =>
    fromImage((m[1] === 'wavelet' ? waveletColorFix : adainColorFix)(u8Image(ctx, 'input.target_u8'), u8Image(ctx, 'input.source_u8')))],
  [/^output\.weights_w(\d+)_h(\d+)$/, (_ctx, _t, m) => ({ data: gaussianTileWeights(Number(m[1]), Number(m[2])), shape: [Number(m[2]), Number(m[1])] })],
  [/^output\.(image\d+)_tv_resize_(\d+)_(\d+|None)_u8$/, (ctx, _t, m) =>
    fromImage(torchvisionResize(u8Image(ctx, `input.${m[1]}_u8`), Number(m[2]), { maxSize: m[3] === 'None' ? undefined : Number(m[3]) }))],
  [/^output\.(image\d+)_(bicubic|bilinear|default)_\w+_u8$/, (ctx, t, m) => {
    const [h, w] = t.shape;
    const input = u8Image(ctx, `input.${m[1]}_u8`);
    // Pillow's default resample for Image.resize is BICUBIC.
    return fromImage(m[2] === 'default' ? resize(input, w, h) : resize(input, w, h, m[2] as 'bicubic' | 'bilinear'));
  }],
];

export const helpers: GroupHandler = async (ctx) => {
  const out: CaseOutputs = new Map();
  for (const t of ctx.outputs()) {
    for (const [re, rule] of RULES) {
      const m = re.exec(t.name);
      if (m) {
        try {
          out.set(t.name, rule(ctx, t, m));
        } catch (e) {
          out.set(t.name, e instanceof Error ? e : new Error(String(e)));
        }
        break;
      }
    }
  }
  return out;
};
