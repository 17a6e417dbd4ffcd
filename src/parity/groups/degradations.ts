/**
 * `degradations` group (fixtures README, "degradations"): Real-ESRGAN pieces of PASD's
 * basicsr copy. Each output's manifest `meaning` is the original call with its parameters
 * (`bivariate_Gaussian(21, sig=1.7, isotropic=True)`, `F.interpolate(image, size=(14, 18),
 * mode='area')`, `USMSharp(radius=50, sigma=0)(image, weight=0.5, threshold=10)`, …); its
 * arguments name the case's `input.*` tensors, and noise draws are the stored
 * `input.<prefix>_draw<i>_<randn|poisson>` in consumption order.
 */
import { ConfigError, ShapeError, UnsupportedError } from '../../core/errors.ts';
import { type ImageBatch, imageBatch } from '../../degrade/batch.ts';
import { kernelFromCall } from '../../degrade/calls.ts';
import { diffJpeg } from '../../degrade/diffjpeg.ts';
import { filter2D } from '../../degrade/filter.ts';
import { type NoiseDraws, addGaussianNoise, addPoissonNoise } from '../../degrade/noise.ts';
import { RESIZE_MODES, type ResizeMode, interpolate } from '../../degrade/resize.ts';
import { usmSharp } from '../../degrade/usm.ts';
import type { CaseContext, CaseOutputs, GroupHandler, ManifestTensor, Produced } from '../types.ts';

function batch(ctx: CaseContext, name: string): ImageBatch {
  const s = ctx.shape(name);
  if (s.length !== 4) throw new ShapeError(`${ctx.meta.name}: ${name} must be NCHW, got [${s.join(', ')}]`);
  return imageBatch(ctx.f32(name), s[0], s[1], s[2], s[3], name);
}

function produced(b: ImageBatch): Produced {
  return { data: b.data, shape: [b.n, b.c, b.h, b.w] };
}

/** The leading `name(...)` call of a meaning, with balanced parentheses. */
function leadingCall(meaning: string): string {
  let depth = 0;
  for (let i = 0; i < meaning.length; i++) {
    if (meaning[i] === '(') depth++;
    else if (meaning[i] === ')' && --depth === 0) return meaning.slice(0, i + 1);
  }
  throw new ConfigError(`cannot read a call from ${JSON.stringify(meaning)}`);
}

/** Python boolean keyword `key=True|False` in a call, or the default. */
function flag(text: string, key: string, fallback: boolean): boolean {
  const m = new RegExp(`\\b${key}=(True|False)`).exec(text);
  return m ? m[1] === 'True' : fallback;
}

/** Replays the case's stored draws `input.<prefix>_draw<i>_<kind>` in order, checking kind and size. */
function replayDraws(ctx: CaseContext, prefix: string): NoiseDraws & { left(): number } {
  const re = new RegExp(`^input\\.${prefix}_draw(\\d+)_(randn|poisson)$`);
  const names = ctx.meta.tensors
    .map((t) => re.exec(t.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  let i = 0;
  const next = (kind: string, count: number) => {
    const m = names[i++];
    if (m === undefined || m[2] !== kind) throw new ConfigError(`${ctx.meta.name}: draw #${i - 1} asked for as ${kind}, the fixture stores ${m ? m[0] : 'no more draws'}`);
    const d = ctx.f32(m[0]);
    if (d.length !== count) throw new ConfigError(`${ctx.meta.name}: ${m[0]} holds ${d.length} values, ${count} were drawn`);
    return d;
  };
  return { randn: (n) => next('randn', n), poisson: (rates) => next('poisson', rates.length), left: () => names.length - i };
}

type Rule = (ctx: CaseContext, t: ManifestTensor, call: string) => Produced | ArrayLike<number>;

const RULES: readonly (readonly [RegExp, Rule])[] = [
  [/^(bivariate_|circular_lowpass_kernel)/, (_ctx, _t, call) => {
    const k = kernelFromCall(call);
    return { data: k.data, shape: [k.size, k.size] };
  }],
  [/^filter2D\(/, (ctx, _t, call) => {
    const m = /^filter2D\((\w+),\s*(\w+)(\[None\])?\)$/.exec(call);
    if (!m) throw new UnsupportedError(`filter2D call ${call}`);
    const ks = ctx.shape(`input.${m[2]}`);
    const data = ctx.f32(`input.${m[2]}`);
    const size = ks[ks.length - 1];
    // [k, k]: one kernel for the batch; [n, k, k]: one per item.
    const kernels = ks.length === 2 ? { size, data } : Array.from({ length: ks[0] }, (_, i) => ({ size, data: data.subarray(i * size * size, (i + 1) * size * size) }));
    return produced(filter2D(batch(ctx, `input.${m[1]}`), kernels));
  }],
  [/^F\.interpolate\(/, (ctx, _t, call) => {
    const m = /^F\.interpolate\((\w+),\s*(?:scale_factor=([\d.]+)|size=\((\d+),\s*(\d+)\)),\s*mode='(\w+)'\)$/.exec(call);
    if (!m || !(RESIZE_MODES as readonly string[]).includes(m[5])) throw new UnsupportedError(`interpolate call ${call}`);
    const mode = m[5] as ResizeMode;
    const img = batch(ctx, `input.${m[1]}`);
    return produced(m[2] !== undefined ? interpolate(img, { mode, scaleFactor: Number(m[2]) }) : interpolate(img, { mode, size: [Number(m[3]), Number(m[4])] }));
  }],
  [/^add_(gaussian|poisson)_noise_pt\(/, (ctx, t, call) => {
    const m = /^add_(gaussian|poisson)_noise_pt\((\w+),\s*(\w+),\s*(\w+)/.exec(call)!;
    const prefix = /^output\.(\w+?)_noise_added$/.exec(t.name)?.[1] ?? m[1];
    const draws = replayDraws(ctx, prefix);
    const opts = { clip: flag(call, 'clip', true), rounds: flag(call, 'rounds', false) };
    const args = [batch(ctx, `input.${m[2]}`), ctx.f32(`input.${prefix}_${m[3]}`), ctx.f32(`input.${prefix}_${m[4]}`), draws, opts] as const;
    const out = m[1] === 'gaussian' ? addGaussianNoise(...args) : addPoissonNoise(...args);
    if (draws.left() !== 0) throw new ConfigError(`${ctx.meta.name}: ${draws.left()} stored draws of ${prefix} were not consumed`);
    return produced(out);
  }],
  [/^DiffJPEG\(/, (ctx, t) => {
    const m = /^DiffJPEG\([^)]*\)\((\w+),\s*quality(?:=([\d.]+))?\)/.exec(t.meaning ?? '');
    if (!m) throw new UnsupportedError(`DiffJPEG call ${t.meaning}`);
    const img = batch(ctx, `input.${m[1]}`);
    // quality: a literal, or the per-sample `input.<output stem>_quality`.
    const quality = m[2] !== undefined ? Array<number>(img.n).fill(Number(m[2])) : ctx.f32(`${t.name.replace(/^output\./, 'input.')}_quality`);
    return produced(diffJpeg(img, quality));
  }],
  [/^USMSharp\(/, (ctx, t) => {
    const m = /^USMSharp\(radius=([\d.]+),\s*sigma=([\d.]+)\)\((\w+),\s*weight=([\d.]+),\s*threshold=([\d.]+)\)/.exec(t.meaning ?? '');
    if (!m) throw new UnsupportedError(`USMSharp call ${t.meaning}`);
    const [radius, sigma, , weight, threshold] = m.slice(1).map(Number);
    return produced(usmSharp(batch(ctx, `input.${m[3]}`), { radius, sigma, weight, threshold }));
  }],
];

export const degradations: GroupHandler = async (ctx) => {
  const out: CaseOutputs = new Map();
  for (const t of ctx.outputs()) {
    const meaning = t.meaning ?? '';
    const rule = RULES.find(([re]) => re.test(meaning));
    if (!rule) continue;
    try {
      out.set(t.name, rule[1](ctx, t, leadingCall(meaning)));
    } catch (e) {
      out.set(t.name, e instanceof Error ? e : new Error(String(e)));
    }
  }
  return out;
};
