/**
 * AutoencoderKL config (diffusers 0.29.2 `models/autoencoders/autoencoder_kl.py` defaults).
 * Only the SD-family layout is supported: DownEncoderBlock2D / UpDecoderBlock2D blocks with
 * SiLU; any other block type or activation throws naming the key.
 */
import { ConfigError } from '../core/errors.ts';
import { ConfigReader, LAYER_COUNT_MAX, type Warn } from './reader.ts';

export interface AutoencoderKLConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  /** One entry per encoder down block; the decoder uses them reversed. */
  readonly blockOutChannels: readonly number[];
  /** Resnets per encoder block (the decoder has one more per block). */
  readonly layersPerBlock: number;
  readonly latentChannels: number;
  readonly normNumGroups: number;
  readonly scalingFactor: number;
  /** Subtracted before scaling by newer (SD3-style) VAEs; null for SD1.5. */
  readonly shiftFactor: number | null;
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
  readonly midBlockAddAttention: boolean;
}

export function parseVaeConfig(raw: Readonly<Record<string, unknown>>, what = 'vae config.json', warn?: Warn): AutoencoderKLConfig {
  const r = new ConfigReader(raw, what);
  const blockOutChannels = r.ints('block_out_channels', [64]);
  const n = blockOutChannels.length;
  if (n === 0 || blockOutChannels.some((c) => c <= 0)) throw new ConfigError(`${what}: "block_out_channels" must be a non-empty list of positive integers`);
  const blockTypes = (key: string, type: string) => {
    const types = r.strings(key, [type]);
    if (types.length !== n) throw new ConfigError(`${what}: "${key}" has ${types.length} entries but "block_out_channels" has ${n}; give one ${type} per block`);
    const bad = types.find((t) => t !== type);
    if (bad !== undefined) throw new ConfigError(`${what}: "${key}" entry "${bad}" is not supported (only ${type})`);
  };
  blockTypes('down_block_types', 'DownEncoderBlock2D');
  blockTypes('up_block_types', 'UpDecoderBlock2D');
  r.unsupportedUnless('act_fn', (v) => v === 'silu');
  // Irrelevant here: sample_size is a tiling hint, force_upcast matters for float16 runs only
  // (we compute in float32), latents_mean/std are used by SDXL-family pipelines, not SD1.5's.
  r.ignore('sample_size', 'force_upcast', 'latents_mean', 'latents_std');
  const normNumGroups = r.int('norm_num_groups', 32);
  const uneven = blockOutChannels.find((c) => c % normNumGroups !== 0);
  if (uneven !== undefined) throw new ConfigError(`${what}: "norm_num_groups" = ${normNumGroups} does not divide block channel count ${uneven}`);
  const cfg: AutoencoderKLConfig = {
    inChannels: r.int('in_channels', 3),
    outChannels: r.int('out_channels', 3),
    blockOutChannels,
    layersPerBlock: r.int('layers_per_block', 1, LAYER_COUNT_MAX),
    latentChannels: r.int('latent_channels', 4),
    normNumGroups,
    scalingFactor: r.number('scaling_factor', 0.18215),
    shiftFactor: nullableNumber(r, 'shift_factor'),
    useQuantConv: r.bool('use_quant_conv', true),
    usePostQuantConv: r.bool('use_post_quant_conv', true),
    midBlockAddAttention: r.bool('mid_block_add_attention', true),
  };
  if (cfg.layersPerBlock < 1) throw new ConfigError(`${what}: "layers_per_block" must be at least 1, got ${cfg.layersPerBlock}`);
  r.finish(warn);
  return Object.freeze(cfg);
}

function nullableNumber(r: ConfigReader, key: string): number | null {
  if (r.raw[key] !== undefined && r.raw[key] !== null) return r.number(key, 0);
  r.ignore(key);
  return null;
}

/**
 * Our lossless autoencoder (models/autoencoders/pixel-shuffle.ts), `_class_name`
 * "PixelShuffleAutoencoder": `factor`×`factor` pixel blocks packed into channels
 * (torch.nn.functional.pixel_unshuffle order), latent channels = in_channels·factor².
 */
export interface PixelShuffleConfig {
  readonly inChannels: number;
  readonly factor: number;
  readonly latentChannels: number;
  readonly scalingFactor: number;
}

export const PIXEL_SHUFFLE_CLASS = 'PixelShuffleAutoencoder';

export function parsePixelShuffleConfig(raw: Readonly<Record<string, unknown>>, what = 'vae config.json', warn?: Warn): PixelShuffleConfig {
  const r = new ConfigReader(raw, what);
  const inChannels = r.int('in_channels', 3);
  const factor = r.int('factor', 4);
  if (inChannels < 1) throw new ConfigError(`${what}: "in_channels" must be at least 1, got ${inChannels}`);
  if (factor < 1 || (factor & (factor - 1)) !== 0) throw new ConfigError(`${what}: "factor" must be a power of two (1, 2, 4, 8, …), got ${factor}`);
  const latentChannels = r.int('latent_channels', inChannels * factor * factor);
  if (latentChannels !== inChannels * factor * factor)
    throw new ConfigError(`${what}: "latent_channels" = ${latentChannels} but a pixel shuffle of ${inChannels} channels by ${factor} has ${inChannels * factor * factor}`);
  const scalingFactor = r.number('scaling_factor', 1);
  if (!(scalingFactor > 0)) throw new ConfigError(`${what}: "scaling_factor" must be positive, got ${scalingFactor}`);
  r.finish(warn);
  return Object.freeze({ inChannels, factor, latentChannels, scalingFactor });
}
