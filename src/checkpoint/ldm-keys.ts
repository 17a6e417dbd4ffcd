/**
 * Key tables between the original (LDM / CompVis) single-file Stable Diffusion layout and
 * diffusers' state-dict keys, for the UNet, the VAE and the CLIP text encoder, as diffusers
 * 0.29.2 `pipelines/stable_diffusion/convert_from_ckpt.py` converts them
 * (`convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`)
 * and `scripts/convert_diffusers_to_original_stable_diffusion.py` writes them.
 *
 * diffusers renames by string replacement over the key list; here each table is a list of
 * module-prefix pairs built from the model's block layout (`down_blocks.1.resnets.0` ↔
 * `input_blocks.4.0`) plus the renames inside a module (`norm1` ↔ `in_layers.0`), so one
 * table converts both ways and a key that fits no pair is reported instead of silently
 * renamed. Only names and shapes are handled: a converted tensor keeps the checkpoint's bytes
 * (the VAE attention's 1×1-conv → Linear `[:, :, 0, 0]` is a reshape of the same bytes).
 */
import { UnsupportedError } from '../core/errors.ts';
import type { Shape } from '../core/shape.ts';

/** Prefixes of the three models inside an LDM single file. */
export const LDM_PREFIX = {
  unet: 'model.diffusion_model.',
  vae: 'first_stage_model.',
  textEncoder: 'cond_stage_model.transformer.',
} as const;

/** SDXL-style text-encoder prefix that diffusers also strips (`convert_ldm_clip_checkpoint`). */
const TEXT_PREFIX_ALT = 'conditioner.embedders.0.transformer.';

/** How the diffusers tensor is taken from the LDM one. */
export type KeyView = 'identity' | '[:, :, 0, 0]';

export interface KeyMapping {
  readonly diffusers: string;
  readonly ldm: string;
  readonly view: KeyView;
  /** Shape on the diffusers side. */
  readonly shape: Shape;
}

/** Renames inside one module: [diffusers segments, LDM segments], matched on whole segments. */
type Inner = readonly (readonly [string, string])[];

interface ModulePair {
  readonly diffusers: string;
  readonly ldm: string;
  readonly inner: Inner;
  /** Weights stored as 1×1 convs in LDM and as Linear in diffusers. */
  readonly convToLinear: boolean;
}

/** UNet ResBlock (`openaimodel.py`) ↔ diffusers ResnetBlock2D (`renew_resnet_paths`). */
const UNET_RESNET: Inner = [
  ['norm1', 'in_layers.0'], ['conv1', 'in_layers.2'], ['time_emb_proj', 'emb_layers.1'],
  ['norm2', 'out_layers.0'], ['conv2', 'out_layers.3'], ['conv_shortcut', 'skip_connection'],
];
/** VAE ResnetBlock (`renew_vae_resnet_paths`). */
const VAE_RESNET: Inner = [['conv_shortcut', 'nin_shortcut']];
/** VAE AttnBlock (`renew_vae_attention_paths`). */
const VAE_ATTENTION: Inner = [['group_norm', 'norm'], ['to_q', 'q'], ['to_k', 'k'], ['to_v', 'v'], ['to_out.0', 'proj_out']];

/** A two-way key table for one model; keys on the LDM side carry the model's prefix. */
export class KeyTable {
  private readonly byDiffusers = new Map<string, ModulePair>();
  private readonly byLdm = new Map<string, ModulePair>();

  constructor(readonly prefix: string, pairs: readonly ModulePair[], private readonly altPrefixes: readonly string[] = []) {
    for (const p of pairs) {
      this.byDiffusers.set(p.diffusers, p);
      this.byLdm.set(p.ldm, p);
    }
  }

  /** The LDM key (with prefix) of a diffusers key, or null when the key is not part of the layout. */
  toLdm(key: string): string | null {
    const hit = longestPrefix(this.byDiffusers, key);
    if (!hit) return null;
    const [pair, rest] = hit;
    return this.prefix + join(pair.ldm, rename(rest, pair.inner, 0));
  }

  /** The diffusers key of an LDM key (with prefix), or null when it is not part of the layout. */
  toDiffusers(ldmKey: string): string | null {
    const prefix = [this.prefix, ...this.altPrefixes].find((p) => ldmKey.startsWith(p));
    if (prefix === undefined) return null;
    const hit = longestPrefix(this.byLdm, ldmKey.slice(prefix.length));
    if (!hit) return null;
    const [pair, rest] = hit;
    return join(pair.diffusers, rename(rest, pair.inner, 1));
  }

  /** True when `ldmKey` belongs to this model (by prefix), mapped or not. */
  owns(ldmKey: string): boolean {
    return [this.prefix, ...this.altPrefixes].some((p) => ldmKey.startsWith(p));
  }

  /** True for weights that are 1×1 convs in LDM and Linear in diffusers (VAE attention). */
  convToLinear(diffusersKey: string): boolean {
    return !!longestPrefix(this.byDiffusers, diffusersKey)?.[0].convToLinear && diffusersKey.endsWith('.weight');
  }
}

function join(a: string, b: string): string {
  return a && b ? `${a}.${b}` : a || b;
}

/** The entry whose key is the longest dotted prefix of `key`, with the remainder. */
function longestPrefix(map: ReadonlyMap<string, ModulePair>, key: string): [ModulePair, string] | null {
  const segs = key.split('.');
  for (let n = segs.length - 1; n >= 0; n--) {
    const p = map.get(segs.slice(0, n).join('.'));
    if (p) return [p, segs.slice(n).join('.')];
  }
  return null;
}

/** Renames the leading segments of `rest` by the first matching inner pair (`from`: 0 diffusers, 1 LDM). */
function rename(rest: string, inner: Inner, from: 0 | 1): string {
  for (const pair of inner) {
    const src = pair[from];
    if (rest === src || rest.startsWith(`${src}.`)) return pair[1 - from] + rest.slice(src.length);
  }
  return rest;
}

const pair = (diffusers: string, ldm: string, inner: Inner = [], convToLinear = false): ModulePair => ({ diffusers, ldm, inner, convToLinear });

/** What the UNet table needs of a UNet config (src/config/unet.ts `UNetConfig` fits). */
export interface UNetLayout {
  readonly downBlockTypes: readonly string[];
  readonly upBlockTypes: readonly string[];
  readonly layersPerBlock: readonly number[];
}

/** What the VAE table needs of an AutoencoderKL config (src/config/vae.ts fits). */
export interface VaeLayout {
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
}

/**
 * The UNet table: LDM numbers `input_blocks` / `output_blocks` consecutively (block i, layer j
 * → 1 + i·(L+1) + j down, i·(L+1) + j up, where the extra slot holds the down/upsampler) and
 * puts a resnet at `.0`, its transformer at `.1` and an upsampler after them.
 */
export function unetKeyTable(layout: UNetLayout): KeyTable {
  const L = layout.layersPerBlock[0];
  if (!layout.layersPerBlock.every((l) => l === L))
    throw new UnsupportedError(`unet config: layers_per_block ${JSON.stringify(layout.layersPerBlock)} differs per block; the LDM single-file layout needs one value`);
  const n = layout.downBlockTypes.length;
  const pairs: ModulePair[] = [
    pair('time_embedding.linear_1', 'time_embed.0'), pair('time_embedding.linear_2', 'time_embed.2'),
    pair('conv_in', 'input_blocks.0.0'), pair('conv_norm_out', 'out.0'), pair('conv_out', 'out.2'),
    pair('mid_block.resnets.0', 'middle_block.0', UNET_RESNET), pair('mid_block.attentions.0', 'middle_block.1'),
    pair('mid_block.resnets.1', 'middle_block.2', UNET_RESNET),
  ];
  for (let i = 0; i < n; i++) {
    const attn = layout.downBlockTypes[i].startsWith('CrossAttn');
    for (let j = 0; j < L; j++) {
      const b = 1 + i * (L + 1) + j;
      pairs.push(pair(`down_blocks.${i}.resnets.${j}`, `input_blocks.${b}.0`, UNET_RESNET));
      if (attn) pairs.push(pair(`down_blocks.${i}.attentions.${j}`, `input_blocks.${b}.1`));
    }
    if (i < n - 1) pairs.push(pair(`down_blocks.${i}.downsamplers.0.conv`, `input_blocks.${1 + i * (L + 1) + L}.0.op`));
  }
  for (let i = 0; i < layout.upBlockTypes.length; i++) {
    const attn = layout.upBlockTypes[i].startsWith('CrossAttn');
    for (let j = 0; j <= L; j++) {
      const b = i * (L + 1) + j;
      pairs.push(pair(`up_blocks.${i}.resnets.${j}`, `output_blocks.${b}.0`, UNET_RESNET));
      if (attn) pairs.push(pair(`up_blocks.${i}.attentions.${j}`, `output_blocks.${b}.1`));
    }
    if (i < n - 1) pairs.push(pair(`up_blocks.${i}.upsamplers.0.conv`, `output_blocks.${i * (L + 1) + L}.${attn ? 2 : 1}.conv`));
  }
  return new KeyTable(LDM_PREFIX.unet, pairs);
}

/** The VAE table: the decoder's `up.k` blocks are numbered from the bottom (`up_blocks.i` = `up.{n-1-i}`). */
export function vaeKeyTable(layout: VaeLayout): KeyTable {
  const n = layout.blockOutChannels.length;
  const L = layout.layersPerBlock;
  const pairs: ModulePair[] = [pair('quant_conv', 'quant_conv'), pair('post_quant_conv', 'post_quant_conv')];
  for (const part of ['encoder', 'decoder']) {
    pairs.push(
      pair(`${part}.conv_in`, `${part}.conv_in`), pair(`${part}.conv_out`, `${part}.conv_out`), pair(`${part}.conv_norm_out`, `${part}.norm_out`),
      pair(`${part}.mid_block.resnets.0`, `${part}.mid.block_1`, VAE_RESNET), pair(`${part}.mid_block.resnets.1`, `${part}.mid.block_2`, VAE_RESNET),
      pair(`${part}.mid_block.attentions.0`, `${part}.mid.attn_1`, VAE_ATTENTION, true),
    );
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) pairs.push(pair(`encoder.down_blocks.${i}.resnets.${j}`, `encoder.down.${i}.block.${j}`, VAE_RESNET));
    if (i < n - 1) pairs.push(pair(`encoder.down_blocks.${i}.downsamplers.0.conv`, `encoder.down.${i}.downsample.conv`));
    const k = n - 1 - i;
    for (let j = 0; j <= L; j++) pairs.push(pair(`decoder.up_blocks.${i}.resnets.${j}`, `decoder.up.${k}.block.${j}`, VAE_RESNET));
    if (i < n - 1) pairs.push(pair(`decoder.up_blocks.${i}.upsamplers.0.conv`, `decoder.up.${k}.upsample.conv`));
  }
  return new KeyTable(LDM_PREFIX.vae, pairs);
}

/** The text-encoder table: transformers' CLIPTextModel keys under a prefix, unchanged. */
export function textEncoderKeyTable(): KeyTable {
  return new KeyTable(LDM_PREFIX.textEncoder, [pair('', '')], [TEXT_PREFIX_ALT]);
}

/** LDM keys diffusers drops on purpose (a buffer, not a parameter). */
const DROPPED = new Set(['text_model.embeddings.position_ids']);

export interface LdmConversion {
  readonly mappings: KeyMapping[];
  /** Keys under the table's prefix that fit no module of the layout. */
  readonly unmatched: string[];
}

/** Converts every key of a single file that belongs to `table`'s model. */
export function ldmToDiffusers(table: KeyTable, shapes: ReadonlyMap<string, { readonly shape: Shape }>): LdmConversion {
  const mappings: KeyMapping[] = [];
  const unmatched: string[] = [];
  for (const [ldm, { shape }] of shapes) {
    if (!table.owns(ldm)) continue;
    const diffusers = table.toDiffusers(ldm);
    if (diffusers === null) unmatched.push(ldm);
    else if (!DROPPED.has(diffusers)) {
      // diffusers `assign_to_checkpoint` / `conv_attn_to_linear`: only 4-d weights are squeezed.
      const view: KeyView = table.convToLinear(diffusers) && shape.length === 4 ? '[:, :, 0, 0]' : 'identity';
      mappings.push({ diffusers, ldm, view, shape: view === 'identity' ? shape : shape.slice(0, 2) });
    }
  }
  return { mappings, unmatched };
}

/**
 * The LDM key and shape of a diffusers tensor (what `convert_diffusers_to_original_stable_diffusion.py`
 * writes: Linear VAE attention weights go back to 1×1 convs), or null for keys outside the layout
 * (PASD-only layers such as `pixel_attentions`).
 */
export function diffusersToLdm(table: KeyTable, key: string, shape: Shape): { ldm: string; shape: Shape } | null {
  const ldm = table.toLdm(key);
  if (ldm === null) return null;
  return { ldm, shape: table.convToLinear(key) && shape.length === 2 ? [...shape, 1, 1] : shape };
}
