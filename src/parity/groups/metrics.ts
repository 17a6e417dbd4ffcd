/**
 * `metrics` group (fixtures README, "metrics"): BasicSR v1.4.2 PSNR/SSIM/NIQE, MATLAB
 * `imresize` and `rgb2ycbcr`. Each output's manifest `meaning` is the original call
 * (`calculate_psnr(sr, hr, crop_border=4, …, test_y_channel=True)`,
 * `imresize(input.resize_small_u8/255, 4)`, …); PSNR/SSIM read `input.<stem>_{sr,hr}_u8`
 * and NIQE `input.<stem>_u8` for an output `output.<stem>_…`. Inputs are HWC RGB uint8
 * (handed to BasicSR as BGR, which ycbcr.ts accounts for).
 */
import { ConfigError, UnsupportedError } from '../../core/errors.ts';
import { type Image, makeImage } from '../../image/image.ts';
import { toFloatImage } from '../../metrics/float-image.ts';
import { imresize, quantize01 } from '../../metrics/imresize.ts';
import { niqe } from '../../metrics/niqe.ts';
import { psnr, ssim } from '../../metrics/psnr-ssim.ts';
import { rgb2ycbcrFloat, rgb2ycbcrU8 } from '../../metrics/ycbcr.ts';
import type { CaseContext, CaseOutputs, GroupHandler, ManifestTensor, Produced } from '../types.ts';

function u8Image(ctx: CaseContext, name: string): Image {
  const [h, w, c] = ctx.shape(name);
  return makeImage(w, h, c, Uint8Array.from(ctx.f32(name)));
}

function intArg(call: string, key: string): number {
  const m = new RegExp(`\\b${key}=(\\d+)`).exec(call);
  if (!m) throw new ConfigError(`cannot read ${key} from ${JSON.stringify(call)}`);
  return Number(m[1]);
}

/** "4", "0.5", "1/4" → number. */
function scaleArg(s: string): number {
  const [a, b] = s.split('/');
  return b === undefined ? Number(a) : Number(a) / Number(b);
}

type Rule = (ctx: CaseContext, t: ManifestTensor, stem: string, produced: CaseOutputs) => Produced | ArrayLike<number>;

const RULES: readonly (readonly [RegExp, Rule])[] = [
  [/^calculate_(psnr|ssim)\(sr, hr,/, (ctx, t, stem) => {
    const meaning = t.meaning ?? '';
    const opts = { cropBorder: intArg(meaning, 'crop_border'), testY: /test_y_channel=True/.test(meaning) };
    const fn = /^calculate_psnr/.test(meaning) ? psnr : ssim;
    return [fn(u8Image(ctx, `input.${stem}_sr_u8`), u8Image(ctx, `input.${stem}_hr_u8`), opts)];
  }],
  [/^calculate_niqe\(img,/, (ctx, t, stem) => {
    if (!/convert_to='y'/.test(t.meaning ?? '')) throw new UnsupportedError(`NIQE other than convert_to='y': ${t.meaning}`);
    return [niqe(u8Image(ctx, `input.${stem}_u8`), { cropBorder: intArg(t.meaning ?? '', 'crop_border') })];
  }],
  [/^imresize\(/, (ctx, t) => {
    const m = /^imresize\(input\.(\w+)\/255, ([\d./]+)\)/.exec(t.meaning ?? '');
    if (!m) throw new UnsupportedError(`imresize call ${t.meaning}`);
    const r = imresize(toFloatImage(u8Image(ctx, `input.${m[1]}`), 1 / 255), scaleArg(m[2]));
    return { data: r.data, shape: [r.height, r.width, r.channels] };
  }],
  [/^round\(clip\(x\*255, 0, 255\)\) of output\.[\w.]+/, (_ctx, t, _stem, produced) => {
    const src = /of (output\.[\w.]+?),? HWC/.exec(t.meaning ?? '')?.[1] ?? '';
    const v = produced.get(src);
    if (v === undefined || v instanceof Error || !('data' in v)) throw new ConfigError(`${t.name}: rounds ${src}, which was not computed`);
    return { data: quantize01(Float64Array.from(v.data as ArrayLike<number>)), shape: v.shape };
  }],
  [/^rgb2ycbcr\(/, (ctx, t) => {
    const m = /^output\.rgb2ycbcr_(\w+?)_(y_u8|u8|float)$/.exec(t.name);
    if (!m) throw new UnsupportedError(`rgb2ycbcr output ${t.name}`);
    const img = u8Image(ctx, `input.${m[1]}_u8`);
    if (m[2] === 'float') {
      const f = rgb2ycbcrFloat(toFloatImage(img, 1 / 255));
      return { data: f.data, shape: [f.height, f.width, 3] };
    }
    const y = rgb2ycbcrU8(img, m[2] === 'y_u8');
    return { data: y.data, shape: m[2] === 'y_u8' ? [y.height, y.width] : [y.height, y.width, 3] };
  }],
];

export const metrics: GroupHandler = async (ctx) => {
  const out: CaseOutputs = new Map();
  for (const t of ctx.outputs()) {
    const rule = RULES.find(([re]) => re.test(t.meaning ?? ''));
    if (!rule) continue;
    const stem = /^output\.([a-z]+\d*)/.exec(t.name)?.[1] ?? '';
    try {
      out.set(t.name, rule[1](ctx, t, stem, out));
    } catch (e) {
      out.set(t.name, e instanceof Error ? e : new Error(String(e)));
    }
  }
  return out;
};
