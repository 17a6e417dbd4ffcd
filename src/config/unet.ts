/**
 * UNet2DConditionModel / ControlNetModel config (diffusers 0.29.2 defaults), as used by SD 1.5,
 * SDXL and PASD. Values neither family uses (class embeddings, other addition embeddings, …)
 * are accepted only at their defaults; anything else throws naming the key.
 */
import { ConfigError } from '../core/errors.ts';
import { ConfigReader, LAYER_COUNT_MAX, type Warn } from './reader.ts';

export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

/**
 * SDXL's `addition_embed_type: "text_time"`: the pooled text embedding and the sinusoidal
 * embedding of the 6 time ids (`addition_time_embed_dim` each) go through `add_embedding`
 * (input `projection_class_embeddings_input_dim`) and are added to the time embedding.
 */
export interface TextTimeAddition {
  readonly timeEmbedDim: number;
  readonly projectionInputDim: number;
}

export interface UNetConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly blockOutChannels: readonly number[];
  readonly downBlockTypes: readonly DownBlockType[];
  readonly upBlockTypes: readonly UpBlockType[];
  readonly layersPerBlock: readonly number[];
  readonly transformerLayersPerBlock: readonly number[];
  /** Attention heads per block. diffusers names this `attention_head_dim`; see parse. */
  readonly heads: readonly number[];
  readonly crossAttentionDim: number;
  readonly normNumGroups: number;
  readonly normEps: number;
  readonly downsamplePadding: number;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  readonly useLinearProjection: boolean;
  readonly midBlockScaleFactor: number;
  readonly convInKernel: number;
  readonly convOutKernel: number;
  /** `addition_embed_type: "text_time"` (SDXL); null without an addition embedding. */
  readonly addition: TextTimeAddition | null;
}

export interface ControlNetConfig extends Omit<UNetConfig, 'outChannels' | 'upBlockTypes' | 'convOutKernel'> {
  readonly conditioningChannels: number;
  readonly conditioningEmbeddingOutChannels: readonly number[];
  readonly returnRgbs: boolean;
  readonly useRrdb: boolean;
}

const isNull = (v: unknown) => v === null;

function common(r: ConfigReader) {
  const blockOutChannels = r.ints('block_out_channels', [320, 640, 1280, 1280]);
  const n = blockOutChannels.length;
  const downBlockTypes = r.strings('down_block_types', ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
  for (const t of downBlockTypes)
    if (t !== 'CrossAttnDownBlock2D' && t !== 'DownBlock2D') throw new ConfigError(`${r.what}: down block type "${t}" is not supported (CrossAttnDownBlock2D, DownBlock2D)`);
  if (downBlockTypes.length !== n) throw new ConfigError(`${r.what}: down_block_types has ${downBlockTypes.length} entries but block_out_channels has ${n}`);
  // diffusers' historical naming quirk: `attention_head_dim` holds the number of heads for
  // SD1.x (num_attention_heads = num_attention_heads or attention_head_dim). We follow it once, here.
  const numHeads = r.perBlock('num_attention_heads', null, n);
  const headDim = r.perBlock('attention_head_dim', 8, n)!;
  if (numHeads !== null) throw new ConfigError(`${r.what}: "num_attention_heads" is not supported by diffusers' UNet2DConditionModel either; use attention_head_dim`);
  r.unsupportedUnless('class_embed_type', isNull);
  r.unsupportedUnless('num_class_embeds', isNull);
  r.unsupportedUnless('addition_embed_type', (v) => v === null || v === 'text_time', 'only SDXL\'s "text_time" is supported');
  r.unsupportedUnless('encoder_hid_dim', isNull);
  r.unsupportedUnless('encoder_hid_dim_type', isNull);
  r.unsupportedUnless('only_cross_attention', (v) => v === false);
  r.unsupportedUnless('upcast_attention', (v) => v === false || v === null, 'attention is computed in float32 already');
  r.unsupportedUnless('resnet_time_scale_shift', (v) => v === 'default');
  r.unsupportedUnless('act_fn', (v) => v === 'silu');
  r.unsupportedUnless('global_pool_conditions', (v) => v === false, 'guess-mode ControlNets are not supported');
  r.unsupportedUnless('controlnet_conditioning_channel_order', (v) => v === 'rgb', 'only RGB conditioning is supported');
  r.ignore('addition_embed_type_num_heads', 'sample_size', 'class_embeddings_concat', 'attention_type');
  return {
    addition: textTime(r),
    inChannels: r.int('in_channels', 4),
    blockOutChannels,
    downBlockTypes: downBlockTypes as DownBlockType[],
    layersPerBlock: r.perBlock('layers_per_block', 2, n, LAYER_COUNT_MAX)!,
    transformerLayersPerBlock: r.perBlock('transformer_layers_per_block', 1, n, LAYER_COUNT_MAX)!,
    heads: headDim,
    crossAttentionDim: r.int('cross_attention_dim', 1280),
    normNumGroups: r.int('norm_num_groups', 32),
    normEps: r.number('norm_eps', 1e-5),
    downsamplePadding: r.int('downsample_padding', 1),
    flipSinToCos: r.bool('flip_sin_to_cos', true),
    freqShift: r.int('freq_shift', 0),
    useLinearProjection: r.bool('use_linear_projection', false),
    midBlockScaleFactor: r.number('mid_block_scale_factor', 1),
    convInKernel: r.int('conv_in_kernel', 3),
  };
}

function textTime(r: ConfigReader): TextTimeAddition | null {
  if (r.raw.addition_embed_type !== 'text_time') {
    r.unsupportedUnless('projection_class_embeddings_input_dim', isNull);
    r.ignore('addition_time_embed_dim');
    return null;
  }
  const a = { timeEmbedDim: r.int('addition_time_embed_dim', 0), projectionInputDim: r.int('projection_class_embeddings_input_dim', 0) };
  if (a.timeEmbedDim < 1 || a.projectionInputDim < 1)
    throw new ConfigError(`${r.what}: addition_embed_type "text_time" needs positive "addition_time_embed_dim" and "projection_class_embeddings_input_dim", got ${a.timeEmbedDim} and ${a.projectionInputDim}`);
  if (a.projectionInputDim <= 6 * a.timeEmbedDim)
    throw new ConfigError(`${r.what}: "projection_class_embeddings_input_dim" ${a.projectionInputDim} must exceed 6 time ids × "addition_time_embed_dim" ${a.timeEmbedDim} (the rest is the pooled text embedding)`);
  return a;
}

export function parseUNetConfig(raw: Readonly<Record<string, unknown>>, what = 'unet config.json', warn?: Warn): UNetConfig {
  const r = new ConfigReader(raw, what);
  const c = common(r);
  const upBlockTypes = r.strings('up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']);
  for (const t of upBlockTypes)
    if (t !== 'CrossAttnUpBlock2D' && t !== 'UpBlock2D') throw new ConfigError(`${what}: up block type "${t}" is not supported (CrossAttnUpBlock2D, UpBlock2D)`);
  if (upBlockTypes.length !== c.blockOutChannels.length) throw new ConfigError(`${what}: up_block_types must have one entry per block_out_channels entry`);
  r.unsupportedUnless('mid_block_type', (v) => v === 'UNetMidBlock2DCrossAttn');
  r.unsupportedUnless('time_embedding_type', (v) => v === 'positional');
  r.unsupportedUnless('time_embedding_dim', isNull);
  r.unsupportedUnless('time_embedding_act_fn', isNull);
  r.unsupportedUnless('timestep_post_act', isNull);
  r.unsupportedUnless('time_cond_proj_dim', isNull, 'LCM-distilled UNets with w-embedding are not supported yet');
  r.unsupportedUnless('center_input_sample', (v) => v === false);
  r.unsupportedUnless('dual_cross_attention', (v) => v === false);
  r.unsupportedUnless('mid_block_only_cross_attention', isNull);
  r.unsupportedUnless('cross_attention_norm', isNull);
  r.unsupportedUnless('resnet_skip_time_act', (v) => v === false);
  r.unsupportedUnless('resnet_out_scale_factor', (v) => v === 1);
  const cfg: UNetConfig = {
    ...c,
    outChannels: r.int('out_channels', 4),
    upBlockTypes: upBlockTypes as UpBlockType[],
    convOutKernel: r.int('conv_out_kernel', 3),
  };
  r.finish(warn);
  return Object.freeze(cfg);
}

export function parseControlNetConfig(raw: Readonly<Record<string, unknown>>, what = 'controlnet config.json', warn?: Warn): ControlNetConfig {
  const r = new ConfigReader(raw, what);
  const c = common(r);
  const cfg: ControlNetConfig = {
    ...c,
    conditioningChannels: r.int('conditioning_channels', 3),
    conditioningEmbeddingOutChannels: r.ints('conditioning_embedding_out_channels', [16, 32, 96, 256]),
    returnRgbs: r.bool('return_rgbs', true),
    useRrdb: r.bool('use_rrdb', false),
  };
  r.finish(warn);
  return Object.freeze(cfg);
}
