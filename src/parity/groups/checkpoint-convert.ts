/**
 * `checkpoint_convert` group (fixtures README, "checkpoint_convert"): PASD's personalized-model
 * loading (`pasd/myutils/misc.py` `load_dreambooth_lora`) through our `personalize`
 * (src/pipelines/personalize.ts), chosen by the case's manifest fields:
 * - `single_file_checkpoint` (+ `keymap_file`, `settings.blending_alpha`): the LDM single file
 *   is converted — every UNet, VAE and text-encoder key must map as the key map says, and only
 *   the LDM keys of `ldm_keys_not_used` may be left over — and blended into the PASD UNet
 *   (`converted·alpha + pasd·(1−alpha)`, PASD-only layers untouched); outputs
 *   `output.unet_blended.<key>` and the float64 sum of each blended tensor in key-map order;
 * - `lora_file` (+ `settings.multiplier`): the LoRA merged into the UNet and text encoder in
 *   the original's compat mode (kohya's alpha/rank ignored, as PASD's `convert_lora` does);
 *   outputs `output.merged.<unet|text_encoder>.<key>`, and no other weight may change.
 * Merged tensors are written to a temporary cache folder, removed afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../checkpoint/checkpoint.ts';
import { loadModelFolder } from '../../checkpoint/folder.ts';
import { type KeyTable, ldmToDiffusers, textEncoderKeyTable, unetKeyTable, vaeKeyTable } from '../../checkpoint/ldm-keys.ts';
import { bytesToHostArray, readEntryBytes, toFloat32 } from '../../checkpoint/safetensors.ts';
import { parseUNetConfig } from '../../config/unet.ts';
import { parseVaeConfig } from '../../config/vae.ts';
import { ConfigError, StateDictError, UnsupportedError } from '../../core/errors.ts';
import { storedTensor } from '../../engine/weights.ts';
import type { StoredTensor } from '../../nn/module.ts';
import { type PersonalizeSpec, type PersonalizedWeights, personalize } from '../../pipelines/personalize.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { theModel } from './load.ts';

type KeyMap = Record<string, [diffusers: string, ldm: string, view: string, shape: number[]][]>;

function weightsOf(dir: string): Map<string, StoredTensor> {
  return new Map([...loadModelFolder(dir).tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
}

/** A weight's values as float32 (F16 checkpoint tensors upcast exactly). */
function valuesOf(t: StoredTensor): Float32Array {
  const s = t.source;
  if (s.kind === 'host') return Float32Array.from(toFloat32(s.data, s.dtype));
  const bytes = readEntryBytes(s.path, { name: t.origin ?? s.path, dtype: s.dtype, shape: t.shape, offset: s.offset, byteLength: s.byteLength });
  return toFloat32(bytesToHostArray(bytes, s.dtype), s.dtype);
}

function setting(ctx: CaseContext, key: string): number {
  const v = (ctx.meta.settings as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'number') throw new ConfigError(`${ctx.meta.name}: settings.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function fixturePath(ctx: CaseContext, key: string): string {
  const v = ctx.meta[key];
  if (typeof v !== 'string') throw new ConfigError(`${ctx.meta.name}: "${key}" must name a file of the fixture set`);
  return ctx.fixtures.path(v);
}

/** Runs `personalize` with a throw-away cache folder. */
function personalized(base: Parameters<typeof personalize>[0], spec: PersonalizeSpec): PersonalizedWeights & { values(t: StoredTensor): Float32Array } {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-parity-convert-'));
  try {
    const w = personalize(base, { ...spec, cacheDir: dir });
    // Read every changed tensor before the folder goes.
    const read = new Map<StoredTensor, Float32Array>();
    for (const m of [w.unet, w.vae, w.textEncoder]) for (const t of m?.values() ?? []) if (t.source.kind === 'file' && t.source.path === w.cacheFile) read.set(t, valuesOf(t));
    return { ...w, values: (t) => read.get(t) ?? valuesOf(t) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our LDM → diffusers conversion of the single file, held to the key map (diffusers key, LDM key, view, shape). */
function checkKeyMap(ctx: CaseContext, file: string, tables: Record<string, KeyTable>, keymap: KeyMap): void {
  const ckpt = openCheckpoint(file);
  const problems: string[] = [];
  const used = new Set<string>();
  for (const [name, table] of Object.entries(tables)) {
    const { mappings, unmatched } = ldmToDiffusers(table, ckpt.tensors);
    if (unmatched.length) problems.push(`${name}: LDM keys outside the layout: ${unmatched.slice(0, 5).join(', ')}`);
    const ours = new Map(mappings.map((m) => [m.diffusers, m]));
    const want = keymap[name] ?? [];
    if (ours.size !== want.length) problems.push(`${name}: ${ours.size} keys converted, the key map has ${want.length}`);
    for (const [diffusers, ldm, view, shape] of want) {
      const m = ours.get(diffusers);
      if (!m || m.ldm !== ldm || m.view !== view || m.shape.join() !== shape.join())
        problems.push(`${name}: ${diffusers} ← ${m ? `${m.ldm} ${m.view} [${m.shape}]` : 'nothing'}, key map: ${ldm} ${view} [${shape}]`);
    }
    for (const m of mappings) used.add(m.ldm);
  }
  const left = [...ckpt.tensors.keys()].filter((k) => !used.has(k)).sort();
  const allowed = Array.isArray(ctx.meta.ldm_keys_not_used) ? [...(ctx.meta.ldm_keys_not_used as string[])].sort() : [];
  if (left.join() !== allowed.join()) problems.push(`LDM keys left unconverted: ${left.join(', ') || '(none)'}; the manifest's ldm_keys_not_used: ${allowed.join(', ') || '(none)'}`);
  if (problems.length) throw new StateDictError(`${ctx.meta.name}: the conversion disagrees with ${ctx.meta.keymap_file}:\n  ${problems.slice(0, 12).join('\n  ')}`);
}

function ldmBlend(ctx: CaseContext): CaseOutputs {
  const unetM = theModel(ctx, 'UNet2DConditionModel');
  const vaeM = theModel(ctx, 'AutoencoderKL');
  const unetLayout = parseUNetConfig(unetM.config, `${unetM.name}/config.json`, () => {});
  const vaeLayout = parseVaeConfig(vaeM.config, `${vaeM.name}/config.json`, () => {});
  const singleFile = fixturePath(ctx, 'single_file_checkpoint');
  const keymap = JSON.parse(readFileSync(fixturePath(ctx, 'keymap_file'), 'utf8')) as KeyMap;
  checkKeyMap(ctx, singleFile, { unet: unetKeyTable(unetLayout), vae: vaeKeyTable(vaeLayout), text_encoder: textEncoderKeyTable() }, keymap);

  const unet = weightsOf(unetM.dir);
  // The original builds a new text encoder from the checkpoint's config (replaced, never
  // blended); ours is checked through the key map above, so it is left out here.
  const w = personalized({ unet: { weights: unet, layout: unetLayout }, vae: { weights: weightsOf(vaeM.dir), layout: vaeLayout }, textEncoder: null },
    { singleFile, blendingAlpha: setting(ctx, 'blending_alpha') });
  const kept = [...unet].filter(([k, t]) => w.unet.get(k) === t).length;
  const counts = ctx.meta.counts as Record<string, number> | undefined;
  if (counts?.pasd_only_unet_keys_left_unchanged !== undefined && kept !== counts.pasd_only_unet_keys_left_unchanged)
    throw new StateDictError(`${ctx.meta.name}: ${kept} UNet weights kept their PASD values, the manifest counts ${counts.pasd_only_unet_keys_left_unchanged}`);
  const out: CaseOutputs = new Map();
  const sums = keymap.unet.map(([key]) => {
    const t = w.unet.get(key);
    if (!t) throw new StateDictError(`${ctx.meta.name}: the blended UNet has no ${key}`);
    const v = w.values(t);
    out.set(`output.unet_blended.${key}`, v);
    return v.reduce((s, x) => s + x, 0);
  });
  out.set('output.unet_blended_sum_per_key', sums);
  return out;
}

function loraMerge(ctx: CaseContext): CaseOutputs {
  const unetM = theModel(ctx, 'UNet2DConditionModel');
  const teM = theModel(ctx, 'CLIPTextModel');
  const base = { unet: weightsOf(unetM.dir), textEncoder: weightsOf(teM.dir) };
  const w = personalized({ unet: { weights: base.unet, layout: parseUNetConfig(unetM.config, `${unetM.name}/config.json`, () => {}) }, textEncoder: { weights: base.textEncoder }, vae: null },
    { lora: fixturePath(ctx, 'lora_file'), multiplier: setting(ctx, 'multiplier'), loraAlphaCompat: 'original' });
  const out: CaseOutputs = new Map();
  for (const [prefix, before, after] of [['unet', base.unet, w.unet], ['text_encoder', base.textEncoder, w.textEncoder]] as const)
    for (const [k, t] of after ?? []) if (before.get(k) !== t) out.set(`output.merged.${prefix}.${k}`, w.values(t));
  const template = ctx.outputs().find((t) => t.name.startsWith('output.merged.'));
  if (template) {
    const expected = new Set(ctx.expand(template));
    const extra = [...out.keys()].filter((k) => !expected.has(k));
    if (extra.length) throw new StateDictError(`${ctx.meta.name}: the merge changed weights the original leaves alone: ${extra.slice(0, 8).join(', ')}`);
  }
  return out;
}

export const checkpointConvert: GroupHandler = async (ctx) => {
  if (typeof ctx.meta.single_file_checkpoint === 'string') return ldmBlend(ctx);
  if (typeof ctx.meta.lora_file === 'string') return loraMerge(ctx);
  throw new UnsupportedError(`${ctx.meta.name}: a checkpoint_convert case needs a "single_file_checkpoint" or a "lora_file"`);
};
