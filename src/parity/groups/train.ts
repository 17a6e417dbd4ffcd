/**
 * `train` group (fixtures README, "train"): one optimisation step of train_pasd.py's loop
 * body on the case's models, inputs and recorded draws, through src/train (StepRunner: frozen
 * VAE + CLIP, the ControlNet → UNet → loss → gradients graph; clipGradNorm; AdamW). The
 * procedure follows the manifest: the models of the case by their classes, `settings`
 * (control_type, learning_rate, adam_*, max_grad_norm, trainable_modules, noise_scheduler),
 * `trainable_parameters` (the order of the per-parameter outputs) and the stored subsets
 * `grad.<parameter>` / `updated.<parameter>`, expanded from the case file.
 *
 * Bounds that are not an output's own `tolerance_max_abs`:
 * - `updated.*`: where the entry gives `tolerance_where_abs_clipped_grad_gt_<x>`, only the
 *   values whose clipped gradient exceeds <x> in magnitude are compared, with that bound (the
 *   first AdamW step ≈ −lr·g/(|g|+eps) is ill-conditioned where |g| is near eps);
 * - `clip_coef` (no tolerance in the manifest): `grad_global_norm`'s tolerance carried through
 *   coef = max/(total + 1e-6), i.e. coef²/max × tolerance.
 */
import { ConfigError, UnsupportedError } from '../../core/errors.ts';
import { Graph } from '../../ir/graph.ts';
import type { Parameter } from '../../nn/module.ts';
import { Tensor } from '../../ops/tensor.ts';
import { SD15_SCHEDULER_CONFIG } from '../../pipelines/load.ts';
import { DDPMScheduler } from '../../schedulers/ddpm.ts';
import { TRAIN_DEFAULTS } from '../../train/loop.ts';
import { loadTrainModels } from '../../train/models.ts';
import { AdamW, clipGradNorm } from '../../train/optimizer.ts';
import { parameterValues } from '../../train/params.ts';
import { type ControlType, DEFAULT_TRAINABLE_MODULES, trainableParameters } from '../../train/step-graph.ts';
import { type StepResult, StepRunner } from '../../train/step.ts';
import type { CaseContext, CaseOutputs, GroupHandler, ManifestTensor, OutputValue } from '../types.ts';
import { packageOf, runGraph, theModel } from './load.ts';

type Settings = Readonly<Record<string, unknown>>;

function numberSetting(ctx: CaseContext, st: Settings, key: string, fallback: number): number {
  const v = st[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${ctx.meta.name}: settings.${key} must be a number, got ${JSON.stringify(st[key])}`);
  return v;
}

/** The loop-body options this handler reproduces; anything else is "not supported". */
function stepSettings(ctx: CaseContext) {
  const raw = ctx.meta.settings ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${ctx.meta.name}: "settings" must be an object`);
  const st = raw as Settings;
  const controlType = st.control_type ?? TRAIN_DEFAULTS.controlType;
  if (controlType !== 'realisr' && controlType !== 'grayscale') throw new UnsupportedError(`${ctx.meta.name}: control_type ${JSON.stringify(controlType)} is not implemented`);
  if ((st.gradient_accumulation_steps ?? 1) !== 1) throw new UnsupportedError(`${ctx.meta.name}: gradient_accumulation_steps ${JSON.stringify(st.gradient_accumulation_steps)}: one batch per step is reproduced`);
  if (st.mixed_precision !== undefined && !/^no\b/.test(String(st.mixed_precision))) throw new UnsupportedError(`${ctx.meta.name}: mixed_precision ${JSON.stringify(st.mixed_precision)}: float32 only`);
  const modules = st.trainable_modules ?? DEFAULT_TRAINABLE_MODULES;
  if (!Array.isArray(modules) || !modules.every((m) => typeof m === 'string')) throw new ConfigError(`${ctx.meta.name}: settings.trainable_modules must be a list of strings`);
  const num = (key: string, fallback: number) => numberSetting(ctx, st, key, fallback);
  const d = TRAIN_DEFAULTS;
  return {
    controlType: controlType as ControlType,
    modules: modules as string[],
    learningRate: num('learning_rate', d.learningRate),
    maxGradNorm: num('max_grad_norm', d.maxGradNorm),
    adam: { beta1: num('adam_beta1', d.adam.beta1), beta2: num('adam_beta2', d.adam.beta2), eps: num('adam_epsilon', d.adam.eps), weightDecay: num('adam_weight_decay', d.adam.weightDecay) },
    scheduler: noiseScheduler(ctx, st.noise_scheduler),
  };
}

/**
 * train_pasd.py's `DDPMScheduler.from_pretrained(<SD1.5>, subfolder="scheduler")`: a
 * `{class_name, config}` object as given, or a text naming DDPMScheduler on SD1.5's config
 * (with its `prediction_type` where the text states one).
 */
function noiseScheduler(ctx: CaseContext, s: unknown): DDPMScheduler {
  if (s !== null && typeof s === 'object') {
    const { class_name: cls, config } = s as { class_name?: unknown; config?: unknown };
    if (cls !== 'DDPMScheduler') throw new UnsupportedError(`${ctx.meta.name}: noise scheduler ${JSON.stringify(cls)} is not implemented (train_pasd.py uses DDPMScheduler)`);
    return new DDPMScheduler(config, () => {});
  }
  const text = s === undefined ? 'DDPMScheduler from the SD1.5 scheduler_config.json' : String(s);
  if (!/^DDPMScheduler\b/.test(text) || !/SD ?1\.5/.test(text)) throw new UnsupportedError(`${ctx.meta.name}: noise_scheduler ${JSON.stringify(s)}: only DDPMScheduler on SD1.5's config is known`);
  const prediction = /prediction_type (\w+)/.exec(text)?.[1];
  return new DDPMScheduler({ ...SD15_SCHEDULER_CONFIG, ...(prediction ? { prediction_type: prediction } : {}) }, () => {});
}

/** The case's four models by config class: PASD's or PASD-light's UNet and ControlNet, diffusers' VAE, transformers' CLIP. */
function caseModels(ctx: CaseContext) {
  const unet = theModel(ctx, 'UNet2DConditionModel');
  const controlnet = theModel(ctx, 'ControlNetModel');
  const vae = theModel(ctx, 'AutoencoderKL');
  const text = theModel(ctx, 'CLIPTextModel');
  for (const [m, pkg] of [[vae, 'diffusers'], [text, 'transformers']] as const)
    if (packageOf(m) !== pkg) throw new UnsupportedError(`class ${m.className ?? '(no class_name)'} of "${m.name}" is not implemented`);
  const kind = packageOf(unet);
  if (kind !== 'pasd' && kind !== 'pasd_light') throw new UnsupportedError(`UNet class ${unet.className ?? '(no class_name)'} of "${unet.name}" is not implemented`);
  const ctrlKind = packageOf(controlnet);
  if (ctrlKind !== 'pasd' && ctrlKind !== 'pasd_light') throw new UnsupportedError(`ControlNet class ${controlnet.className ?? '(no class_name)'} of "${controlnet.name}" is not implemented`);
  const models = loadTrainModels({ unet: unet.dir, controlnet: controlnet.dir, vae: vae.dir, textEncoder: text.dir }, () => {});
  if (models.kind !== kind) throw new ConfigError(`${unet.name}: class ${unet.className} is ${kind}, but its weights are ${models.kind}'s`);
  return models;
}

/** The manifest's `trainable_parameters` as indices into ours; throws naming the names that differ. */
function manifestOrder(ctx: CaseContext, params: readonly Parameter[]): number[] {
  const order = ctx.meta.trainable_parameters;
  if (!Array.isArray(order) || !order.every((n) => typeof n === 'string')) throw new ConfigError(`${ctx.meta.name}: "trainable_parameters" must be a list of names`);
  const byName = new Map(params.map((p, i) => [p.name, i]));
  const listed = new Set<string>(order);
  const missing = order.filter((n) => !byName.has(n));
  const extra = params.filter((p) => !listed.has(p.name)).map((p) => p.name);
  if (missing.length || extra.length)
    throw new ConfigError(`${ctx.meta.name}: our trainable parameters differ from the manifest's (not ours: ${missing.slice(0, 3).join(', ') || '-'}; not listed: ${extra.slice(0, 3).join(', ') || '-'})`);
  return order.map((n) => byName.get(n)!);
}

/** `F.interpolate(pixel_values, rgb size, 'bilinear')`: the L1 targets, with the op the step graph uses. */
async function l1Targets(ctx: CaseContext, r: StepResult): Promise<Float32Array[]> {
  const g = new Graph(`l1_targets_${ctx.meta.name}`);
  const shape = ctx.shape('input.pixel_values');
  const px = new Tensor(g, g.addInput('pixel_values', { dtype: 'float32', shape }));
  g.setOutputs(Object.fromEntries(r.rgbs.map((rgb, i) => [`t${i}`, px.resize([...rgb.shape], 'linear').value])));
  const out = await runGraph(g, { pixel_values: { dtype: 'float32', shape, data: ctx.f32('input.pixel_values') } }, ctx.runtime);
  return r.rgbs.map((_, i) => out[`t${i}`].data as Float32Array);
}

/** `tolerance_where_abs_clipped_grad_gt_<x>` of an `updated.*` entry: the bound and x (`1em6` = 1e-6). */
function clippedGradBound(t: ManifestTensor): { value: number; kind: string; threshold: number } | undefined {
  for (const [k, v] of Object.entries(t)) {
    const m = /^tolerance_where_abs_clipped_grad_gt_(\d+(?:p\d+)?)em(\d+)$/.exec(k);
    if (m && typeof v === 'number') return { value: v, kind: k, threshold: Number(m[1].replace('p', '.')) * 10 ** -Number(m[2]) };
  }
  return undefined;
}

const sum = (a: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; };
const norm = (a: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * a[i]; return Math.sqrt(s); };

export const train: GroupHandler = async (ctx) => {
  const s = stepSettings(ctx);
  const models = caseModels(ctx);
  const params = trainableParameters(models.controlnet, models.unet, s.modules);
  const order = manifestOrder(ctx, params);
  const values = parameterValues(params);
  // One run per compiled graph: onnxruntime's graph optimisation would cost more than it saves.
  const runner = new StepRunner(models, params, s.scheduler, { ...ctx.runtime, cache: false, optimization: 'disabled', controlType: s.controlType });
  const [batch, , height, width] = ctx.shape('input.pixel_values');
  let r: StepResult;
  try {
    r = await runner.run({
      pixelValues: ctx.f32('input.pixel_values'), cond: ctx.f32('input.conditioning_pixel_values'),
      inputIds: BigInt64Array.from(ctx.ints('input.input_ids'), BigInt), batch, height, width,
      posteriorNoise: ctx.f32('input.posterior_noise'), noise: ctx.f32('input.noise'), timesteps: ctx.ints('input.timesteps'),
    }, values);
  } finally {
    await runner.release();
  }
  const out: CaseOutputs = new Map<string, OutputValue>([
    ['output.latents', r.latents], ['output.noisy_latents', r.noisyLatents],
    ['output.encoder_hidden_states', r.encoderHiddenStates.data as Float32Array],
    ['output.model_pred', r.modelPred], ['output.loss_mse', [r.lossMse]], ['output.loss', [r.loss]],
  ]);
  if (r.colorfulLossSum !== null) out.set('output.colorful_loss_sum', [r.colorfulLossSum]);
  r.rgbs.forEach((x, i) => out.set(`output.rgbs.${i}`, { data: x.data as Float32Array, shape: x.shape }));
  r.lossL1.forEach((x, i) => out.set(`output.loss_l1.${i}`, [x]));
  if (ctx.outputs().some((t) => t.name.startsWith('output.l1_target.'))) (await l1Targets(ctx, r)).forEach((x, i) => out.set(`output.l1_target.${i}`, x));

  // Gradients before clipping; a parameter ours does not reach has none (torch: grad None, norm 0).
  const perParam = (fn: (g: Float32Array) => number) => order.map((i) => (r.grads[i] ? fn(r.grads[i]!) : 0));
  out.set('output.grad_norm_per_param', perParam(norm));
  out.set('output.grad_sum_per_param', perParam(sum));
  const grads = r.grads.map((g) => g && g.slice());
  const { totalNorm, clipCoef } = clipGradNorm(grads, s.maxGradNorm);
  out.set('output.grad_global_norm', [totalNorm]);
  const normTol = ctx.meta.tensors.find((t) => t.name === 'output.grad_global_norm')?.tolerance_max_abs;
  out.set('output.clip_coef', { data: [clipCoef], tolerance: typeof normTol === 'number' ? { value: (clipCoef * clipCoef / s.maxGradNorm) * normTol, kind: 'grad_global_norm tolerance × coef²/max_grad_norm' } : undefined });

  const before = values.map((v) => v.slice());
  new AdamW(values.map((v) => v.length), s.adam).update(values, grads, s.learningRate);
  out.set('output.update_sum_per_param', order.map((i) => sum(values[i].map((x, j) => x - before[i][j]))));

  const index = new Map(params.map((p, i) => [p.name, i]));
  for (const t of ctx.outputs()) {
    const prefix = /^(grad|updated)\.</.exec(t.name)?.[1];
    if (prefix === undefined) continue;
    const bound = prefix === 'updated' ? clippedGradBound(t) : undefined;
    for (const name of ctx.expand(t)) {
      const i = index.get(name.slice(prefix.length + 1));
      if (i === undefined) out.set(name, new ConfigError(`${name}: no trainable parameter of ours has this name`));
      else if (prefix === 'grad') out.set(name, r.grads[i] ?? new Error(`${name}: the original has a gradient; this parameter does not reach our loss`));
      else if (bound && grads[i]) {
        const g = grads[i]!;
        out.set(name, { data: values[i], tolerance: { value: bound.value, kind: bound.kind, where: Uint8Array.from(g, (x) => (Math.abs(x) > bound.threshold ? 1 : 0)) } });
      } else out.set(name, values[i]);
    }
  }
  return out;
};
