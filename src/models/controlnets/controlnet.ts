/**
 * PASD's ControlNetModel (pasd/models/pasd/controlnet.py; pasd_light/controlnet.py is the
 * same model — it differs only in a constructor default that ControlNetModel always
 * overrides — so this class serves both).
 *
 * It is diffusers' ControlNet with PASD's degradation removal module as the conditioning
 * embedding: the module's multi-scale to-RGB images are returned next to the residuals.
 * Forward (return_dict=False, guess_mode off, no fg_mask):
 *   emb = time_embedding(time_proj(t)) (+ add_embedding(text_embeds, time ids) for SDXL configs);  h = conv_in(sample) + cond_embedding(cond)
 *   down blocks (collecting every skip state), mid block;
 *   down[i] = controlnet_down_blocks[i](skip[i]) · scale,  mid = controlnet_mid_block(h) · scale.
 */
import { ShapeError } from '../../core/errors.ts';
import type { ControlNetConfig } from '../../config/unet.ts';
import { Graph } from '../../ir/graph.ts';
import { Tensor } from '../../ops/tensor.ts';
import { type TextTimeConditions, Timesteps, TimestepEmbedding } from '../../nn/embeddings.ts';
import { Conv2d } from '../../nn/layers.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { type DownBlock, type UNetMidBlock2DCrossAttn, buildAddition, buildDownBlocks, buildMidBlock, embedTimestep, runDownBlocks } from '../unets/blocks.ts';
import { ControlNetConditioningEmbedding } from './conditioning-embedding.ts';

export interface ControlNetOutput {
  /** to_rgbs[i] at cond/2, cond/4, cond/8 (empty without return_rgbs). */
  rgbs: Tensor[];
  /** One residual per UNet skip connection (12 for SD1.5), already × conditioning_scale. */
  down: Tensor[];
  mid: Tensor;
}

export class ControlNetModel extends Module {
  readonly conv_in: Conv2d;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly add_time_proj: Timesteps | null;
  readonly add_embedding: TimestepEmbedding | null;
  readonly controlnet_cond_embedding: ControlNetConditioningEmbedding;
  readonly down_blocks: ModuleList<DownBlock>;
  readonly controlnet_down_blocks: ModuleList<Conv2d>;
  readonly controlnet_mid_block: Conv2d;
  readonly mid_block: UNetMidBlock2DCrossAttn;

  constructor(readonly config: ControlNetConfig) {
    super();
    const ch = config.blockOutChannels;
    const c0 = ch[0], tembDim = 4 * c0;
    this.conv_in = new Conv2d(config.inChannels, c0, config.convInKernel, { padding: (config.convInKernel - 1) / 2 });
    this.time_proj = new Timesteps(c0, config.flipSinToCos, config.freqShift);
    this.time_embedding = new TimestepEmbedding(c0, tembDim);
    ({ add_time_proj: this.add_time_proj, add_embedding: this.add_embedding } = buildAddition(config, tembDim));
    this.controlnet_cond_embedding = new ControlNetConditioningEmbedding({
      embeddingChannels: c0,
      conditioningChannels: config.conditioningChannels,
      blockOutChannels: config.conditioningEmbeddingOutChannels,
      returnRgbs: config.returnRgbs,
      useRrdb: config.useRrdb,
    });
    this.down_blocks = buildDownBlocks(config, tembDim);
    // One zero-initialised 1×1 conv per skip state: conv_in's output, every layer, every downsampler.
    const zeroConvs = [new Conv2d(c0, c0, 1)];
    ch.forEach((c, i) => {
      const n = config.layersPerBlock[i] + (i < ch.length - 1 ? 1 : 0);
      for (let j = 0; j < n; j++) zeroConvs.push(new Conv2d(c, c, 1));
    });
    this.controlnet_down_blocks = new ModuleList(zeroConvs);
    const cLast = ch[ch.length - 1];
    this.controlnet_mid_block = new Conv2d(cLast, cLast, 1);
    this.mid_block = buildMidBlock(config, tembDim);
  }

  /**
   * sample [B, in, h, w]; timestep int64 [1] or [B]; context [B, M, cross_attention_dim];
   * cond [B, conditioning_channels, H, W] with H/h = W/w = 2^stages (8 for SD);
   * scale: a graph value of shape [1] (so one graph serves every scale) or a number;
   * added: SDXL's text_embeds / time_ids (configs with addition_embed_type "text_time").
   */
  forward(sample: Tensor, timestep: Tensor, context: Tensor, cond: Tensor, scale: Tensor | number, added: TextTimeConditions | null = null): ControlNetOutput {
    return this.scoped(sample.graph, () => {
      const [b] = sample.shape;
      if (timestep.rank !== 1 || (timestep.shape[0] !== 1 && timestep.shape[0] !== b))
        throw new ShapeError(`ControlNet: timestep must have shape [1] or [${b}] (the batch), got [${timestep.shape.join(', ')}]`);
      const emb = embedTimestep(this, timestep, added);
      const x = this.conv_in.forward(sample);
      const { embedding, rgbs } = this.controlnet_cond_embedding.forward(cond);
      if (embedding.shape.join() !== x.shape.join())
        throw new ShapeError(`ControlNet: controlnet_cond [${cond.shape.join(', ')}] embeds to [${embedding.shape.join(', ')}], which does not match the latent features [${x.shape.join(', ')}]; the condition image must be ${2 ** (this.config.conditioningEmbeddingOutChannels.length - 1)}× the latent size`);
      const { h, skips } = runDownBlocks(this.down_blocks, x.add(embedding), emb, context);
      const mid = this.mid_block.forward(h, emb, context);
      const down = skips.map((s, i) => this.controlnet_down_blocks.at(i).forward(s).mul(scale));
      return { rgbs, down, mid: this.controlnet_mid_block.forward(mid).mul(scale) };
    });
  }
}

export interface ControlNetTraceShapes {
  batch: number;
  /** Latent height and width. */
  height: number;
  width: number;
  /** Text tokens per prompt (77 for CLIP). */
  contextLength?: number;
  /** Timestep entries: 1 (broadcast, the pipeline's case) or the batch (training). */
  timesteps?: number;
  /** Condition image size over latent size (8 for SD: the VAE factor). */
  condFactor?: number;
  /** int64 (DDPM-family timesteps, the default) or float32 (Euler's, as the SDXL pipeline passes them). */
  timestepDtype?: 'int64' | 'float32';
}

/** The ControlNet's graph inputs, in order (the fixture names). */
export interface ControlNetInputs {
  sample: Tensor;
  /** int64, or float32 (timestepDtype) */
  timestep: Tensor;
  encoder_hidden_states: Tensor;
  controlnet_cond: Tensor;
  /** [1] */
  conditioning_scale: Tensor;
  /** SDXL's text_embeds / time_ids (configs with an addition embedding); null otherwise. */
  added: TextTimeConditions | null;
}

/**
 * Adds the ControlNet's inputs for fixed shapes to `g` (its own graph, or the one it shares with the UNet).
 * `added`: how the extra conditioning inputs are made (the denoiser passes its model family's);
 * by default, from the config's addition embedding.
 */
export function controlNetInputs(
  g: Graph,
  model: ControlNetModel,
  s: ControlNetTraceShapes,
  added?: (g: Graph, batch: number) => TextTimeConditions | null,
): ControlNetInputs {
  const c = model.config, f = s.condFactor ?? 8;
  const input = (name: string, dtype: 'float32' | 'int64', shape: number[]) => new Tensor(g, g.addInput(name, { dtype, shape }));
  return {
    sample: input('sample', 'float32', [s.batch, c.inChannels, s.height, s.width]),
    timestep: input('timestep', s.timestepDtype ?? 'int64', [s.timesteps ?? 1]),
    encoder_hidden_states: input('encoder_hidden_states', 'float32', [s.batch, s.contextLength ?? 77, c.crossAttentionDim]),
    controlnet_cond: input('controlnet_cond', 'float32', [s.batch, c.conditioningChannels, f * s.height, f * s.width]),
    conditioning_scale: input('conditioning_scale', 'float32', [1]),
    added: added
      ? added(g, s.batch)
      : c.addition
        ? { textEmbeds: input('text_embeds', 'float32', [s.batch, c.addition.projectionInputDim - 6 * c.addition.timeEmbedDim]), timeIds: input('time_ids', 'float32', [s.batch, 6]) }
        : null,
  };
}

/**
 * Traces the ControlNet for fixed shapes. Inputs: controlNetInputs (with, for SDXL configs, text_embeds
 * and time_ids). Outputs: rgbs.i, down_block_res_samples.i, mid_block_res_sample (the fixture names).
 */
export function traceControlNet(model: ControlNetModel, s: ControlNetTraceShapes): Graph {
  const g = new Graph('controlnet');
  const x = controlNetInputs(g, model, s);
  const out = model.forward(x.sample, x.timestep, x.encoder_hidden_states, x.controlnet_cond, x.conditioning_scale, x.added);
  g.setOutputs({
    ...Object.fromEntries(out.rgbs.map((t, i) => [`rgbs.${i}`, t.value])),
    ...Object.fromEntries(out.down.map((t, i) => [`down_block_res_samples.${i}`, t.value])),
    mid_block_res_sample: out.mid.value,
  });
  return g;
}
