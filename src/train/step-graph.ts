/**
 * The training-step graph of train_pasd.py: ControlNet → UNet → loss, differentiated in
 * reverse mode on our IR. The trainable parameters are graph INPUTS (fed from the host
 * optimizer's arrays every step); every frozen weight stays an initializer in its file.
 *
 *   inputs : noisy_latents [B,C,h,w], timesteps int64 [B], encoder_hidden_states [B,S,D],
 *            controlnet_cond [B,3,H,W] in [0,1], target [B,C,h,w] (noise or velocity),
 *            pixel_values [B,3,H,W] in [-1,1], and one input per trainable parameter
 *   outputs: loss, loss_mse, loss_l1.<i>, [colorful_loss_sum], model_pred, rgbs.<i>, grad.<param>
 *
 * The loss is the loop body's, term by term: mse(pred, target) + Σᵢ l1(bilinear(pixel_values,
 * size of rgbᵢ), rgbᵢ), and for grayscale (colorization) 0.001·Σⱼ colorful_loss(rgbⱼ) added
 * after EVERY l1 term — so n_rgbs times, as the original's loop does.
 */
import { UnsupportedError } from '../core/errors.ts';
import { gradOrNull } from '../autodiff/grad.ts';
import { Graph, type Value } from '../ir/graph.ts';
import type { ControlNetModel } from '../models/controlnets/controlnet.ts';
import type { ControlResiduals } from '../models/unets/unet-base.ts';
import type { Module, Parameter } from '../nn/module.ts';
import { Tensor } from '../ops/tensor.ts';
import { colorfulLoss, l1Loss, mseLoss } from './losses.ts';

/** A UNet that takes ControlNet residuals (PASD and PASD-light). */
export interface ControlledUNet extends Module {
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals): Tensor;
}

export type ControlType = 'realisr' | 'grayscale';

/** train_pasd.py's `--trainable_modules` default: UNet parameters whose name contains one of these train. */
export const DEFAULT_TRAINABLE_MODULES = Object.freeze(['pixel_attentions', 'norm2_plus', 'attn2_plus', 'proj_in_plus']);

/** Every ControlNet parameter, then the UNet parameters whose key contains a trainable module name. */
export function trainableParameters(controlnet: ControlNetModel, unet: Module, modules: readonly string[] = DEFAULT_TRAINABLE_MODULES): Parameter[] {
  const fromUNet = unet.namedParameters().filter(([k]) => modules.some((m) => k.includes(m)));
  return [...controlnet.namedParameters(), ...fromUNet].map(([, p]) => p);
}

export interface StepShapes {
  batch: number;
  /** HR crop size in pixels. */
  height: number;
  width: number;
  /** VAE downsampling factor (8 for SD). */
  latentFactor: number;
  latentChannels: number;
  seqLen: number;
  contextDim: number;
}

export interface TrainStepGraph {
  readonly graph: Graph;
  /** The trainable parameters, in the order of `hasGrad`. */
  readonly params: readonly Parameter[];
  /** false where a parameter does not reach the loss (torch: grad is None; no clipping term, no decay). */
  readonly hasGrad: readonly boolean[];
  readonly rgbCount: number;
}

export const gradName = (p: Parameter) => `grad.${p.name}`;

export function traceTrainStep(controlnet: ControlNetModel, unet: ControlledUNet, params: readonly Parameter[], s: StepShapes, controlType: ControlType = 'realisr'): TrainStepGraph {
  const g = new Graph(`pasd_train_${s.batch}x${s.height}x${s.width}`);
  const names = new Set(params.map((p) => p.name));
  g.paramAsInput = (name) => names.has(name);
  const h = s.height / s.latentFactor, w = s.width / s.latentFactor;
  const input = (name: string, shape: number[], dtype: 'float32' | 'int64' = 'float32') => new Tensor(g, g.addInput(name, { dtype, shape }));
  const noisy = input('noisy_latents', [s.batch, s.latentChannels, h, w]);
  const t = input('timesteps', [s.batch], 'int64');
  const ehs = input('encoder_hidden_states', [s.batch, s.seqLen, s.contextDim]);
  const cond = input('controlnet_cond', [s.batch, controlnet.config.conditioningChannels, s.height, s.width]);
  const target = input('target', [s.batch, s.latentChannels, h, w]);
  const pixels = input('pixel_values', [s.batch, 3, s.height, s.width]);
  // Trace every trainable parameter up front so each is a graph input even if unused.
  const values: Value[] = params.map((p) => p.tensor(g).value);

  const control = controlnet.forward(noisy, t, ehs, cond, 1);
  if (!control.rgbs.length) throw new UnsupportedError('train: the ControlNet has no to-RGB outputs (return_rgbs false); train_pasd.py trains them with an L1 loss');
  const pred = unet.forward(noisy, t, ehs, control);
  const outputs: Record<string, Value> = { model_pred: pred.value };
  control.rgbs.forEach((rgb, i) => { outputs[`rgbs.${i}`] = rgb.value; });
  const mse = mseLoss(pred, target);
  outputs.loss_mse = mse.value;
  let loss = mse;
  const colorful = controlType === 'grayscale' ? control.rgbs.map(colorfulLoss).reduce((a, b) => a.add(b)) : null;
  control.rgbs.forEach((rgb, i) => {
    const l1 = l1Loss(pixels.resize([...rgb.shape], 'linear'), rgb);
    outputs[`loss_l1.${i}`] = l1.value;
    loss = loss.add(l1);
    if (colorful) loss = loss.add(colorful.mul(0.001));
  });
  if (colorful) outputs.colorful_loss_sum = colorful.value;
  outputs.loss = loss.value;
  const grads = gradOrNull(g, loss.value, values);
  grads.forEach((gr, i) => { if (gr) outputs[gradName(params[i])] = gr.value; });
  g.setOutputs(outputs);
  return { graph: g, params, hasGrad: grads.map((x) => x !== null), rgbCount: control.rgbs.length };
}
