/**
 * The models of a training run, as train_pasd.py sets them up:
 *   - UNet: the base's UNet config (or --init-from's) as a PASD / PASD-light UNet; weights from
 *     --init-from's `unet/`, else the base's, where the pixel-aware modules (absent from SD1.5)
 *     start from torch's default initialisation;
 *   - ControlNet: --init-from's `controlnet/`, else `ControlNetModel.from_unet(unet)`: the
 *     UNet's config, conv_in / time embedding / down / mid blocks copied, zero convolutions;
 *   - VAE and text encoder: the base's, frozen.
 * A component folder with a config.json but no weights is initialised at random (training
 * from scratch, e.g. a mini model); such frozen components are saved with each checkpoint.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFolder } from '../checkpoint/folder.ts';
import { parseClipTextConfig } from '../config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../config/unet.ts';
import { ConfigError, InputError } from '../core/errors.ts';
import type { RandomSource } from '../core/random.ts';
import { buildAutoencoder } from '../models/autoencoders/index.ts';
import { CLIPTextModel } from '../models/clip/clip-text.ts';
import { ControlNetModel } from '../models/controlnets/controlnet.ts';
import type { Module, StoredTensor } from '../nn/module.ts';
import { SD15_SCHEDULER_CONFIG } from '../pipelines/load.ts';
import { CONTROLNET_ZERO_MODULES, bindOrInit } from './init.ts';
import { type PasdKind, buildUNet, folderWeights, kindOfWeights } from './models.ts';
import { DEFAULT_TRAINABLE_MODULES } from './step-graph.ts';
import type { TrainModels } from './step.ts';

type Json = Record<string, unknown>;

export interface SetupOptions {
  /** SD1.5-layout folder: unet/, vae/, text_encoder/, tokenizer/ (scheduler/ optional). */
  base: string;
  /** A PASD checkpoint (unet/ + controlnet/) to start from. */
  initFrom?: string;
  /** Default: from --init-from's weights, else 'pasd'. */
  kind?: PasdKind;
  /** Overrides merged into the ControlNet config made from the UNet's (e.g. use_rrdb). */
  controlnetConfig?: Json;
  trainableModules?: readonly string[];
  warn?: (m: string) => void;
}

export interface TrainSetup extends TrainModels {
  kind: PasdKind;
  /** config.json contents to save with checkpoints. */
  configs: { unet: Json; controlnet: Json; vae: Json; textEncoder: Json };
  /** Frozen components initialised at random (saved with every checkpoint). */
  randomFrozen: ('vae' | 'text_encoder')[];
  tokenizerDir: string;
  schedulerConfig: Json;
}

const WEIGHT_FILE = /\.(safetensors|bin|ckpt|pt)$/;

function readConfig(dir: string): Json {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) throw new InputError(`${dir}: no config.json; training needs each component's config`);
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as Json;
  } catch (e) {
    throw new ConfigError(`${p}: not valid JSON (${(e as Error).message})`);
  }
}

/** The folder's weights, or an empty map when it holds only a config (random init). */
function weightsOf(dir: string): Map<string, StoredTensor> {
  return readdirSync(dir).some((n) => WEIGHT_FILE.test(n)) ? folderWeights(loadModelFolder(dir)) : new Map();
}

/** diffusers 0.29.2 `ControlNetModel.from_unet`: the config keys it takes from the UNet. */
const FROM_UNET_KEYS = [
  'encoder_hid_dim', 'encoder_hid_dim_type', 'addition_embed_type', 'addition_time_embed_dim', 'transformer_layers_per_block',
  'in_channels', 'flip_sin_to_cos', 'freq_shift', 'down_block_types', 'only_cross_attention', 'block_out_channels',
  'layers_per_block', 'downsample_padding', 'mid_block_scale_factor', 'act_fn', 'norm_num_groups', 'norm_eps',
  'cross_attention_dim', 'attention_head_dim', 'num_attention_heads', 'use_linear_projection', 'class_embed_type',
  'num_class_embeds', 'upcast_attention', 'resnet_time_scale_shift', 'projection_class_embeddings_input_dim',
];
/** ControlNet modules from_unet copies from the UNet. */
const FROM_UNET_MODULES = ['conv_in.', 'time_embedding.', 'down_blocks.', 'mid_block.'];

export function setupTraining(o: SetupOptions, rng: RandomSource): TrainSetup {
  const need = (dir: string, what: string) => { if (!existsSync(dir)) throw new InputError(`${what} folder ${dir} does not exist`); return dir; };
  const unetDir = need(join(o.initFrom ?? o.base, 'unet'), o.initFrom ? '--init-from unet' : '--base unet');
  const unetRaw = readConfig(unetDir);
  const unetWeights = weightsOf(unetDir);
  const kind = o.kind ?? kindOfWeights(unetWeights.keys()) ?? 'pasd';
  const trainable = o.trainableModules ?? DEFAULT_TRAINABLE_MODULES;
  const unet = buildUNet(parseUNetConfig(unetRaw, `${unetDir}/config.json`, o.warn), kind).nameTree('unet');
  // Pixel-aware modules may be missing from a base UNet (SD1.5 has none); everything may be missing from scratch.
  bindOrInit(unet, unetWeights, rng, { what: `unet (${unetDir})`, mayInit: (k) => unetWeights.size === 0 || (!o.initFrom && trainable.some((m) => k.includes(m))) });

  let controlnetRaw: Json;
  let controlnetWeights: Map<string, StoredTensor>;
  let fromUNet = false;
  const cnDir = o.initFrom ? join(o.initFrom, 'controlnet') : null;
  if (cnDir && existsSync(cnDir)) {
    controlnetRaw = { ...readConfig(cnDir), ...o.controlnetConfig };
    controlnetWeights = weightsOf(cnDir);
  } else {
    controlnetRaw = { _class_name: 'ControlNetModel', ...Object.fromEntries(FROM_UNET_KEYS.filter((k) => k in unetRaw).map((k) => [k, unetRaw[k]])), return_rgbs: true, use_rrdb: false, ...o.controlnetConfig };
    const unetStates = new Map(unet.namedParameters().map(([k, p]) => [k, p]));
    controlnetWeights = new Map();
    fromUNet = true;
    for (const [k, p] of unetStates) if (FROM_UNET_MODULES.some((m) => k.startsWith(m)) && p.source) controlnetWeights.set(k, { shape: p.shape, source: p.source });
  }
  const controlnet = new ControlNetModel(parseControlNetConfig(controlnetRaw, 'controlnet config', o.warn)).nameTree('controlnet');
  bindOrInit(controlnet, controlnetWeights, rng, {
    what: `controlnet${cnDir ? ` (${cnDir})` : ''}`, zero: CONTROLNET_ZERO_MODULES,
    mayInit: () => fromUNet || controlnetWeights.size === 0,
  });

  const randomFrozen: TrainSetup['randomFrozen'] = [];
  const frozen = <M extends Module>(sub: string, build: (raw: Json, what: string) => M, root: 'vae' | 'text_encoder') => {
    const dir = need(join(o.base, sub), `--base ${sub}`);
    const raw = readConfig(dir);
    const w = weightsOf(dir);
    const m = build(raw, `${dir}/config.json`).nameTree(root);
    if (!w.size && m.namedParameters().length) randomFrozen.push(root);
    bindOrInit(m, w, rng, { what: `${root} (${dir})`, mayInit: () => w.size === 0 });
    return { m, raw };
  };
  const vae = frozen('vae', (r, w) => buildAutoencoder(r, w, o.warn), 'vae');
  const te = frozen('text_encoder', (r, w) => new CLIPTextModel(parseClipTextConfig(r, w, o.warn)), 'text_encoder');

  const schedulerFile = join(o.base, 'scheduler', 'scheduler_config.json');
  let schedulerConfig: Json = { ...SD15_SCHEDULER_CONFIG };
  if (existsSync(schedulerFile)) schedulerConfig = JSON.parse(readFileSync(schedulerFile, 'utf8')) as Json;
  return {
    kind, unet, controlnet, vae: vae.m, textEncoder: te.m,
    configs: { unet: unetRaw, controlnet: controlnetRaw, vae: vae.raw, textEncoder: te.raw },
    randomFrozen,
    tokenizerDir: need(join(o.base, 'tokenizer'), '--base tokenizer'),
    schedulerConfig,
  };
}
