/**
 * The UNet encoder side shared by UNet2DConditionModel and (PASD) ControlNetModel:
 * diffusers 0.29.2 `unet_2d_blocks.py` CrossAttnDownBlock2D, DownBlock2D and
 * UNetMidBlock2DCrossAttn, plus the config → blocks construction both models use.
 */
import type { Tensor } from '../../ops/tensor.ts';
import type { UNetConfig } from '../../config/unet.ts';
import { ShapeError } from '../../core/errors.ts';
import { type TextTimeConditions, TimestepEmbedding, Timesteps, textTimeEmbedding } from '../../nn/embeddings.ts';
import { Module, ModuleList } from '../../nn/module.ts';
import { Downsample2D, ResnetBlock2D } from '../../nn/resnet.ts';
import { Transformer2DModel } from '../../nn/transformer.ts';

/** The geometry every UNet block (down, mid, up) is built from. */
export interface BlockOptions {
  inChannels: number;
  outChannels: number;
  tembChannels: number;
  numLayers: number;
  transformerLayers: number;
  heads: number;
  crossAttentionDim: number;
  groups: number;
  eps: number;
  useLinearProjection: boolean;
  withAttention: boolean;
}

export interface DownBlockOptions extends BlockOptions {
  addDownsample: boolean;
  downsamplePadding: number;
}

/** A block's Transformer2DModel over `channels` features, heads of channels/heads, with a context of `crossAttentionDim`. */
export function blockTransformer(o: Pick<BlockOptions, 'heads' | 'transformerLayers' | 'groups' | 'useLinearProjection'>, channels: number, crossAttentionDim: number): Transformer2DModel {
  return new Transformer2DModel({
    heads: o.heads, dimHead: channels / o.heads, inChannels: channels, numLayers: o.transformerLayers,
    crossAttentionDim, normGroups: o.groups, useLinearProjection: o.useLinearProjection,
  });
}

/** CrossAttnDownBlock2D (withAttention) or DownBlock2D. Returns the final state and every skip state. */
export class DownBlock extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<Transformer2DModel> | null;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(o: DownBlockOptions) {
    super();
    this.resnets = new ModuleList(Array.from({ length: o.numLayers }, (_, i) =>
      new ResnetBlock2D({ inChannels: i === 0 ? o.inChannels : o.outChannels, outChannels: o.outChannels, tembChannels: o.tembChannels, groups: o.groups, eps: o.eps })));
    this.attentions = o.withAttention
      ? new ModuleList(Array.from({ length: o.numLayers }, () => blockTransformer(o, o.outChannels, o.crossAttentionDim)))
      : null;
    this.downsamplers = o.addDownsample ? new ModuleList([new Downsample2D(o.outChannels, o.outChannels, o.downsamplePadding)]) : null;
  }

  forward(h: Tensor, temb: Tensor, context: Tensor): { h: Tensor; skips: Tensor[] } {
    const skips: Tensor[] = [];
    this.resnets.items.forEach((resnet, i) => {
      h = resnet.forward(h, temb);
      if (this.attentions) h = this.attentions.at(i).forward(h, context);
      skips.push(h);
    });
    if (this.downsamplers) {
      h = this.downsamplers.at(0).forward(h);
      skips.push(h);
    }
    return { h, skips };
  }
}

export class UNetMidBlock2DCrossAttn extends Module {
  readonly attentions: ModuleList<Transformer2DModel>;
  readonly resnets: ModuleList<ResnetBlock2D>;

  constructor(o: { channels: number; tembChannels: number; heads: number; transformerLayers: number; crossAttentionDim: number; groups: number; eps: number; outputScaleFactor: number; useLinearProjection: boolean }) {
    super();
    const resnet = () => new ResnetBlock2D({ inChannels: o.channels, outChannels: o.channels, tembChannels: o.tembChannels, groups: o.groups, eps: o.eps, outputScaleFactor: o.outputScaleFactor });
    this.attentions = new ModuleList([blockTransformer(o, o.channels, o.crossAttentionDim)]);
    this.resnets = new ModuleList([resnet(), resnet()]);
  }

  forward(h: Tensor, temb: Tensor, context: Tensor): Tensor {
    h = this.resnets.at(0).forward(h, temb);
    this.attentions.items.forEach((attn, i) => {
      h = this.resnets.at(i + 1).forward(attn.forward(h, context), temb);
    });
    return h;
  }
}

type EncoderConfig = Pick<UNetConfig, 'blockOutChannels' | 'downBlockTypes' | 'layersPerBlock' | 'transformerLayersPerBlock' | 'heads' |
  'crossAttentionDim' | 'normNumGroups' | 'normEps' | 'downsamplePadding' | 'useLinearProjection' | 'midBlockScaleFactor'>;

/**
 * The down path of a UNet and of its ControlNet alike (diffusers' forward loop): `h` (conv_in's
 * output, plus the condition embedding in the ControlNet) through the down blocks. Returns the
 * last hidden state and every skip state in order, `h` itself first.
 */
export function runDownBlocks(blocks: ModuleList<DownBlock>, h: Tensor, temb: Tensor, context: Tensor): { h: Tensor; skips: Tensor[] } {
  const skips = [h];
  for (const block of blocks.items) {
    const r = block.forward(h, temb, context);
    h = r.h;
    skips.push(...r.skips);
  }
  return { h, skips };
}

/** The down blocks of a UNet / ControlNet built from its config (diffusers' constructor loop). */
export function buildDownBlocks(c: EncoderConfig, tembChannels: number): ModuleList<DownBlock> {
  const n = c.blockOutChannels.length;
  return new ModuleList(c.downBlockTypes.map((type, i) => new DownBlock({
    inChannels: i === 0 ? c.blockOutChannels[0] : c.blockOutChannels[i - 1],
    outChannels: c.blockOutChannels[i],
    tembChannels,
    numLayers: c.layersPerBlock[i],
    transformerLayers: c.transformerLayersPerBlock[i],
    heads: c.heads[i],
    crossAttentionDim: c.crossAttentionDim,
    groups: c.normNumGroups,
    eps: c.normEps,
    addDownsample: i < n - 1,
    downsamplePadding: c.downsamplePadding,
    useLinearProjection: c.useLinearProjection,
    withAttention: type === 'CrossAttnDownBlock2D',
  })));
}

export function buildMidBlock(c: EncoderConfig, tembChannels: number): UNetMidBlock2DCrossAttn {
  const n = c.blockOutChannels.length;
  return new UNetMidBlock2DCrossAttn({
    channels: c.blockOutChannels[n - 1], tembChannels, heads: c.heads[n - 1], transformerLayers: c.transformerLayersPerBlock[n - 1],
    crossAttentionDim: c.crossAttentionDim, groups: c.normNumGroups, eps: c.normEps, outputScaleFactor: c.midBlockScaleFactor,
    useLinearProjection: c.useLinearProjection,
  });
}

/** The time-embedding modules UNet and ControlNet share: `time_proj`, `time_embedding` and SDXL's `add_*`. */
export interface TimeEmbedder {
  readonly path: string;
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly add_time_proj: Timesteps | null;
  readonly add_embedding: TimestepEmbedding | null;
}

/** SDXL's `add_time_proj` / `add_embedding` for a config with `addition_embed_type: "text_time"`, else nulls. */
export function buildAddition(c: Pick<UNetConfig, 'addition' | 'flipSinToCos' | 'freqShift'>, tembChannels: number): Pick<TimeEmbedder, 'add_time_proj' | 'add_embedding'> {
  const a = c.addition;
  return a
    ? { add_time_proj: new Timesteps(a.timeEmbedDim, c.flipSinToCos, c.freqShift), add_embedding: new TimestepEmbedding(a.projectionInputDim, tembChannels) }
    : { add_time_proj: null, add_embedding: null };
}

/**
 * time_embedding(time_proj(t)) [1|B, temb], plus the "text_time" embedding when the model has
 * one (then `added` is required; without one it must be null).
 */
export function embedTimestep(m: TimeEmbedder, timestep: Tensor, added: TextTimeConditions | null): Tensor {
  const what = m.path || 'model';
  if (!m.add_time_proj || !m.add_embedding) {
    if (added) throw new ShapeError(`${what}: text_embeds / time_ids given, but the config has no addition_embed_type "text_time"`);
    return m.time_embedding.forward(m.time_proj.forward(timestep));
  }
  if (!added) throw new ShapeError(`${what}: addition_embed_type "text_time" needs text_embeds and time_ids (SDXL's added_cond_kwargs)`);
  const [b, p] = added.textEmbeds.shape;
  const want = m.add_embedding.linear_1.inFeatures - 6 * m.add_time_proj.dim;
  if (added.textEmbeds.rank !== 2 || p !== want || added.timeIds.shape.join() !== `${b},6`)
    throw new ShapeError(`${what}: text_embeds must be [B, ${want}] and time_ids [B, 6], got [${added.textEmbeds.shape}] and [${added.timeIds.shape}]`);
  return m.time_embedding.forward(m.time_proj.forward(timestep)).add(textTimeEmbedding(m.add_time_proj, m.add_embedding, added));
}
