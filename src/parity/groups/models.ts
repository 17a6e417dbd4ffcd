/**
 * `models` / `models_light` groups (fixtures README, "models / models_light") and the `sdxl`
 * group's model cases (with `text_embeds` / `time_ids` and float timesteps): the case's
 * ControlNet runs on its inputs (`rgbs.*`, `down_block_res_samples.*`,
 * `mid_block_res_sample`), and its UNet runs on the *case's* residuals (`noise_pred`), so
 * each model is checked on its own. Which model runs is decided by the config class
 * (ControlNetModel / UNet2DConditionModel) and the original's package in the manifest's
 * `class_name` (`pasd.models.pasd…` or `pasd.models.pasd_light…`).
 */
import { parseControlNetConfig, parseUNetConfig } from '../../config/unet.ts';
import { UnsupportedError } from '../../core/errors.ts';
import { Graph } from '../../ir/graph.ts';
import { ControlNetModel, traceControlNet } from '../../models/controlnets/controlnet.ts';
import { PasdLightUNet2DConditionModel } from '../../models/pasd_light/unet.ts';
import { PasdUNet2DConditionModel } from '../../models/unets/pasd-unet.ts';
import type { ControlResiduals } from '../../models/unets/unet-base.ts';
import type { TextTimeConditions } from '../../nn/embeddings.ts';
import { Tensor } from '../../ops/tensor.ts';
import type { HostTensor } from '../../runtime/session.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { feedOf, loadModel, packageOf, runGraph, settle, theModel } from './load.ts';

const CONTROLNET_OUTPUT = /^output\.(rgbs\.\d+|down_block_res_samples\.\d+|mid_block_res_sample)$/;
const DOWN_RESIDUAL = /^output\.down_block_res_samples\.(\d+)$/;
const MID_RESIDUAL = 'output.mid_block_res_sample';

/** SDXL's added conditions (`added_cond_kwargs`), present in the `sdxl` group's model cases. */
const ADDED = ['text_embeds', 'time_ids'];

interface ControlledUNet {
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals | null, added: TextTimeConditions | null): Tensor;
}

function controlNetOf(ctx: CaseContext): ControlNetModel {
  const m = theModel(ctx, 'ControlNetModel');
  const pkg = packageOf(m);
  // PASD-light's ControlNetModel is PASD's (it differs only in a default the config sets).
  if (pkg !== 'pasd' && pkg !== 'pasd_light') throw new UnsupportedError(`ControlNet class ${m.className ?? '(no class_name)'} of "${m.name}" is not implemented`);
  return loadModel(ctx.fixtures, m, (c) => new ControlNetModel(parseControlNetConfig(c, `${m.name}/config.json`)));
}

function unetOf(ctx: CaseContext): ControlledUNet {
  const m = theModel(ctx, 'UNet2DConditionModel');
  const pkg = packageOf(m);
  const what = `${m.name}/config.json`;
  if (pkg === 'pasd') return loadModel(ctx.fixtures, m, (c) => new PasdUNet2DConditionModel(parseUNetConfig(c, what)));
  if (pkg === 'pasd_light') return loadModel(ctx.fixtures, m, (c) => new PasdLightUNet2DConditionModel(parseUNetConfig(c, what)));
  throw new UnsupportedError(`UNet class ${m.className ?? '(no class_name)'} of "${m.name}" is not implemented`);
}

async function runControlNet(ctx: CaseContext, out: CaseOutputs): Promise<void> {
  const net = controlNetOf(ctx);
  const [batch, , height, width] = ctx.shape('input.sample');
  const names = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond', 'conditioning_scale', ...ADDED.filter((n) => ctx.has(`input.${n}`))];
  const feeds: Record<string, HostTensor> = {};
  for (const n of names) {
    // diffusers' default conditioning_scale is 1.0.
    feeds[n] = n === 'conditioning_scale' && !ctx.has('input.conditioning_scale')
      ? { dtype: 'float32', shape: [1], data: Float32Array.of(1) }
      : feedOf(ctx, `input.${n}`);
  }
  const g = traceControlNet(net, {
    batch, height, width,
    contextLength: feeds.encoder_hidden_states.shape[1],
    timesteps: feeds.timestep.shape[0],
    condFactor: feeds.controlnet_cond.shape[2] / height,
    timestepDtype: feeds.timestep.dtype === 'int64' ? 'int64' : 'float32',
  });
  const r = await runGraph(g, feeds, ctx.runtime);
  for (const [k, v] of Object.entries(r)) out.set(`output.${k}`, { data: v.data as Float32Array, shape: v.shape });
}

/** The UNet on the case's stored ControlNet residuals (none stored: the UNet without control). */
async function runUNet(ctx: CaseContext, out: CaseOutputs): Promise<void> {
  const unet = unetOf(ctx);
  const g = new Graph(`unet_${ctx.meta.name}`);
  const feeds: Record<string, HostTensor> = {};
  const input = (name: string, key: string) => {
    feeds[name] = feedOf(ctx, key);
    return new Tensor(g, g.addInput(name, { dtype: feeds[name].dtype, shape: feeds[name].shape }));
  };
  const downNames = ctx.meta.tensors
    .map((t) => DOWN_RESIDUAL.exec(t.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[0]);
  const control = downNames.length && ctx.has(MID_RESIDUAL)
    ? { down: downNames.map((n, i) => input(`down_${i}`, n)), mid: input('mid', MID_RESIDUAL) }
    : null;
  const added = ADDED.every((n) => ctx.has(`input.${n}`)) ? { textEmbeds: input('text_embeds', 'input.text_embeds'), timeIds: input('time_ids', 'input.time_ids') } : null;
  const noise = unet.forward(input('sample', 'input.sample'), input('timestep', 'input.timestep'), input('encoder_hidden_states', 'input.encoder_hidden_states'), control, added);
  g.setOutputs({ noise_pred: noise.value });
  const r = await runGraph(g, feeds, ctx.runtime);
  out.set('output.noise_pred', { data: r.noise_pred.data as Float32Array, shape: r.noise_pred.shape });
}

export const models: GroupHandler = async (ctx) => {
  const out: CaseOutputs = new Map();
  const names = ctx.outputs().map((t) => t.name);
  const controlNames = names.filter((n) => CONTROLNET_OUTPUT.test(n));
  if (controlNames.length) await settle(out, controlNames, () => runControlNet(ctx, out));
  if (names.includes('output.noise_pred')) await settle(out, ['output.noise_pred'], () => runUNet(ctx, out));
  return out;
};
