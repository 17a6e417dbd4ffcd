/**
 * Personalized models, as PASD `pasd/myutils/misc.py` `load_dreambooth_lora` and test_pasd.py
 * load them, on weight maps instead of live modules:
 * - a single-file LDM checkpoint (`.safetensors` or `.ckpt`): its UNet is converted to diffusers
 *   keys and blended into the PASD UNet (`converted·alpha + pasd·(1−alpha)`; PASD-only layers
 *   such as `pixel_attentions` keep their values); its VAE and text encoder REPLACE ours;
 * - a LoRA (kohya or diffusers layout) merged with `multiplier` into the UNet and text encoder;
 * - a diffusers `unet` folder whose weights replace the UNet's base weights.
 *
 * Weights stay in their files: converted and replaced tensors point into the personalized file
 * (the VAE attention's 1×1-conv → Linear view is the same bytes). Only tensors whose values
 * change (a blend with 0 < alpha < 1, a LoRA merge) are computed, once, into a float32
 * safetensors file in the cache named by a hash of every input, so the ONNX external data
 * still points into files and the next run reuses it.
 *
 * Differences from the original, on purpose (DESIGN.md §4): `.ckpt` works (the original
 * raises NameError); kohya's alpha/rank scale is applied (`loraAlphaCompat: 'original'`
 * reproduces the original's merge); a `unet` folder keeps the PASD-only layers of the PASD
 * checkpoint (the original's `from_pretrained_orig` leaves them at their random init); a
 * checkpoint whose keys or shapes do not fit raises instead of being partly applied.
 */
import { platform } from '#platform';
import { type CheckpointFile, openCheckpoint } from '../checkpoint/checkpoint.ts';
import { loadModelFolder } from '../checkpoint/folder.ts';
import { type KeyMapping, type KeyTable, type UNetLayout, type VaeLayout, ldmToDiffusers, textEncoderKeyTable, unetKeyTable, vaeKeyTable } from '../checkpoint/ldm-keys.ts';
import { type LoraAlphaCompat, checkLoraFits, isLoraFile, loraFactor, mergeLoraPair, planLora } from '../checkpoint/lora.ts';
import { bytesToHostArray, openSafetensors, readEntryBytes, toFloat32 } from '../checkpoint/safetensors.ts';
import { writeF32SafetensorsStreaming } from '../checkpoint/safetensors-stream.ts';
import { CheckpointError, ConfigError, StateDictError } from '../core/errors.ts';
import { type Shape, fmtShape, shapeEq } from '../core/shape.ts';
import { storedTensor } from '../engine/weights.ts';
import type { StoredTensor } from '../nn/module.ts';
import { cacheDir } from '../runtime/cache.ts';

type Weights = ReadonlyMap<string, StoredTensor>;

/** The models to personalize: their weight maps (module-relative keys) and block layouts. */
export interface PersonalizeBase {
  unet: { weights: Weights; layout: UNetLayout };
  /** Replaced by a single file's VAE when given (the original's `vae=None` skips it). */
  vae?: { weights: Weights; layout: VaeLayout } | null;
  /** Replaced by a single file's text encoder, changed by a LoRA's `lora_te_` pairs. */
  textEncoder?: { weights: Weights } | null;
}

export interface PersonalizeSpec {
  /** LDM single-file checkpoint (`.safetensors` / `.ckpt`). */
  singleFile?: string;
  /** UNet blend: converted·alpha + pasd·(1−alpha). Default 1.0 (test_pasd.py `--blending_alpha`). */
  blendingAlpha?: number;
  /** kohya or diffusers LoRA file. */
  lora?: string;
  /** LoRA merge strength. Default 0.6 (test_pasd.py `--multiplier`). */
  multiplier?: number;
  /** 'kohya' (default): scale by alpha/rank; 'original': PASD's merge, which ignores it. */
  loraAlphaCompat?: LoraAlphaCompat;
  /** diffusers `unet` folder replacing the UNet's base weights. */
  unetFolder?: string;
  /** Where merged tensors are cached (default: `<PASD_CACHE_DIR or user cache>/personalized`). */
  cacheDir?: string;
}

export interface PersonalizedWeights {
  unet: Map<string, StoredTensor>;
  vae: Map<string, StoredTensor> | null;
  textEncoder: Map<string, StoredTensor> | null;
  /** The cache file holding the tensors whose values changed; null when none did. */
  cacheFile: string | null;
}

type Component = 'unet' | 'vae' | 'textEncoder';

/** A tensor whose new value is computed: base, optionally blended, then LoRA pairs added. */
interface Recipe {
  readonly shape: Shape;
  readonly base: StoredTensor;
  blend: { ldm: StoredTensor; alpha: number } | null;
  readonly loras: { name: string; up: StoredTensor; down: StoredTensor; factor: number }[];
}

/** Which personalized source a path is, by the original's rules: folder, LoRA (every key has "lora"), or single file. */
export function classifyPersonalizedModel(path: string): 'unetFolder' | 'lora' | 'singleFile' {
  const st = platform.stat(path);
  if (!st) throw new ConfigError(`personalized model ${path}: does not exist`);
  if (st.isDirectory) return 'unetFolder';
  return isLoraFile(openCheckpoint(path).tensors.keys()) ? 'lora' : 'singleFile';
}

function finite(v: number | undefined, dflt: number, what: string): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x)) throw new ConfigError(`${what} must be a finite number, got ${v}`);
  return x;
}

/** Applies `spec` to `base` and returns the new weight maps (unchanged tensors are the same objects). */
export function personalize(base: PersonalizeBase, spec: PersonalizeSpec): PersonalizedWeights {
  const alpha = finite(spec.blendingAlpha, 1, 'blendingAlpha');
  const multiplier = finite(spec.multiplier, 0.6, 'multiplier');
  if (spec.singleFile && spec.unetFolder) throw new ConfigError('personalized model: give either singleFile or unetFolder, not both (each replaces the UNet weights)');
  const maps: Record<Component, Map<string, StoredTensor> | null> = {
    unet: new Map(base.unet.weights),
    vae: base.vae ? new Map(base.vae.weights) : null,
    textEncoder: base.textEncoder ? new Map(base.textEncoder.weights) : null,
  };
  const recipes = new Map<string, Recipe & { component: Component; key: string }>();
  const plainUnet = unetKeyTable(base.unet.layout);

  if (spec.unetFolder) replaceFromFolder(maps.unet!, plainUnet, spec.unetFolder);
  if (spec.singleFile) {
    const file = openCheckpoint(spec.singleFile);
    if (isLoraFile(file.tensors.keys())) throw new ConfigError(`${spec.singleFile}: every tensor name contains "lora", so this is a LoRA; pass it as the LoRA file`);
    const unet = converted(file, plainUnet, maps.unet!, 'UNet', 'partial');
    for (const [key, ref] of unet) {
      if (alpha === 1) maps.unet!.set(key, ref);
      else if (alpha !== 0) recipes.set(`unet.${key}`, { component: 'unet', key, shape: ref.shape, base: maps.unet!.get(key)!, blend: { ldm: ref, alpha }, loras: [] });
    }
    if (base.vae) for (const [k, v] of converted(file, vaeKeyTable(base.vae.layout), maps.vae!, 'VAE', 'strict')) maps.vae!.set(k, v);
    if (base.textEncoder) for (const [k, v] of converted(file, textEncoderKeyTable(), maps.textEncoder!, 'text encoder', 'strict')) maps.textEncoder!.set(k, v);
  }
  if (spec.lora) addLora(spec.lora, maps, recipes, multiplier, spec.loraAlphaCompat ?? 'kohya');

  let cacheFile: string | null = null;
  if (recipes.size) {
    cacheFile = materialise(recipes, spec.cacheDir ?? platform.path.join(cacheDir(), 'personalized'));
    const written = openSafetensors(cacheFile);
    for (const [name, r] of recipes) maps[r.component]!.set(r.key, storedTensor(cacheFile, written.tensors.get(name)!));
  }
  return { ...maps, unet: maps.unet!, cacheFile };
}

/**
 * Layers PASD adds to the SD UNet, which no personalized SD model has: `pixel_attentions`
 * (pasd/models/pasd/unet_2d_blocks.py) and PASD-light's `attn2_plus` / `norm2_plus` /
 * `proj_in_plus` (pasd/models/pasd_light/attention.py, transformer_2d.py).
 */
const PASD_ONLY = /(^|\.)(pixel_attentions|attn2_plus|norm2_plus|proj_in_plus)\./;

/** True for the UNet keys a plain SD UNet has (the ones a personalized UNet must provide). */
function isPlainUnetKey(table: KeyTable, key: string): boolean {
  return !PASD_ONLY.test(key) && table.toLdm(key) !== null;
}

/** A checkpoint tensor seen through a key mapping (same bytes, diffusers shape). */
function refOf(file: CheckpointFile, m: KeyMapping): StoredTensor {
  return { ...storedTensor(file.path, file.tensors.get(m.ldm)!), shape: m.shape };
}

/**
 * The tensors of one model in a single file, keyed and shaped as `current`. 'strict': the
 * key sets must be equal (the original's `load_state_dict`); 'partial': keys outside the
 * plain-UNet layout (PASD-only layers) may be absent from the file.
 */
function converted(file: CheckpointFile, table: KeyTable, current: Weights, what: string, mode: 'strict' | 'partial'): Map<string, StoredTensor> {
  const { mappings, unmatched } = ldmToDiffusers(table, file.tensors);
  if (!mappings.length) throw new CheckpointError(`${file.path}: has no ${what} weights (keys starting with "${table.prefix}"); a Stable Diffusion single-file checkpoint holds the UNet, VAE and text encoder`);
  const out = new Map(mappings.map((m) => [m.diffusers, refOf(file, m)]));
  const needed = [...current.keys()].filter((k) => (mode === 'strict' ? k !== 'text_model.embeddings.position_ids' : isPlainUnetKey(table, k)));
  checkFits(`${file.path}: the ${what} weights`, out, current, needed, unmatched);
  return out;
}

/** Throws one StateDictError listing every unmatched, unexpected, missing and mis-shaped key. */
function checkFits(what: string, got: Weights, current: Weights, needed: readonly string[], unmatched: readonly string[] = []): void {
  const unexpected = [...got.keys()].filter((k) => !current.has(k));
  const missing = needed.filter((k) => !got.has(k));
  const misshaped = [...got].filter(([k, t]) => current.has(k) && !shapeEq(t.shape, current.get(k)!.shape))
    .map(([k, t]) => `${k}: model ${fmtShape(current.get(k)!.shape)}, file ${fmtShape(t.shape)}`);
  if (!unmatched.length && !unexpected.length && !missing.length && !misshaped.length) return;
  const list = (title: string, xs: readonly string[]) => (xs.length ? `\n  ${title} (${xs.length}): ${xs.slice(0, 12).join(', ')}${xs.length > 12 ? ', …' : ''}` : '');
  throw new StateDictError(`${what} do not fit the model (a checkpoint for another architecture or config?)${list('keys outside the model layout', unmatched)}${list('unexpected keys', unexpected)}${list('missing keys', missing)}${list('mis-shaped keys', misshaped)}`);
}

/** test_pasd.py's personalized `unet` folder: its tensors replace ours; PASD-only layers stay. */
function replaceFromFolder(unet: Map<string, StoredTensor>, plain: KeyTable, dir: string): void {
  const folder = loadModelFolder(dir);
  const got = new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
  checkFits(`${dir}: the UNet weights`, got, unet, [...unet.keys()].filter((k) => isPlainUnetKey(plain, k)));
  for (const [k, v] of got) unet.set(k, v);
}

function addLora(path: string, maps: Record<Component, Map<string, StoredTensor> | null>, recipes: Map<string, Recipe & { component: Component; key: string }>, multiplier: number, compat: LoraAlphaCompat): void {
  const file = openCheckpoint(path);
  const modules = planLora(file.tensors, { unet: maps.unet!.keys(), textEncoder: maps.textEncoder?.keys() ?? null });
  for (const m of modules) {
    const weights = maps[m.target]!;
    const current = weights.get(m.weightKey)!;
    const [up, down] = [file.tensors.get(m.up)!, file.tensors.get(m.down)!];
    checkLoraFits(m.name, current.shape, up.shape, down.shape);
    const alpha = m.alpha === null ? null : file.readF32(m.alpha)[0];
    const id = `${m.target}.${m.weightKey}`;
    let r = recipes.get(id);
    if (!r) recipes.set(id, (r = { component: m.target, key: m.weightKey, shape: current.shape, base: current, blend: null, loras: [] }));
    r.loras.push({ name: m.name, up: storedTensor(path, up), down: storedTensor(path, down), factor: loraFactor(multiplier, down.shape[0], alpha, compat) });
  }
}

/** A tensor's values as a fresh float32 array. */
function readF32(t: StoredTensor): Float32Array {
  const s = t.source;
  if (s.kind === 'host') return Float32Array.from(toFloat32(s.data, s.dtype));
  const bytes = readEntryBytes(s.path, { name: t.origin ?? s.path, dtype: s.dtype, shape: t.shape, offset: s.offset, byteLength: s.byteLength });
  return toFloat32(bytesToHostArray(bytes, s.dtype), s.dtype);
}

function compute(r: Recipe): Float32Array {
  const w = readF32(r.base);
  if (r.blend) {
    // misc.py: `converted * alpha + pasd * (1 - alpha)`, each product and the sum rounded to
    // float32 (torch rounds the F16 product to F16; for dyadic alphas that is the same).
    const x = readF32(r.blend.ldm);
    const a = Math.fround(r.blend.alpha), b = Math.fround(1 - r.blend.alpha);
    for (let i = 0; i < w.length; i++) w[i] = Math.fround(x[i] * a) + Math.fround(w[i] * b);
  }
  for (const l of r.loras) mergeLoraPair(w, r.shape, readF32(l.up), l.up.shape, readF32(l.down), l.down.shape, l.factor, l.name);
  return w;
}

/** Identity of a tensor's bytes for the cache key: file path, size, mtime and range, or a hash of host data. */
function sourceId(t: StoredTensor): string {
  const s = t.source;
  if (s.kind === 'host') return `host:${s.dtype}:${platform.sha256Hex(new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength))}`;
  const st = platform.stat(s.path);
  if (!st) throw new CheckpointError(`${s.path}: weight file is gone`);
  return `file:${platform.realpath(s.path)}:${st.size}:${st.mtimeMs}:${s.offset}:${s.byteLength}:${s.dtype}:${fmtShape(t.shape)}`;
}

function recipeText(name: string, r: Recipe): string {
  const blend = r.blend ? ` blend(${r.blend.alpha},${sourceId(r.blend.ldm)})` : '';
  const loras = r.loras.map((l) => ` lora(${l.factor},${sourceId(l.up)},${sourceId(l.down)})`).join('');
  return `${name} ${fmtShape(r.shape)} base(${sourceId(r.base)})${blend}${loras}`;
}

/** Writes the recipes' values once into `<dir>/<hash>.safetensors` (reused when it is already there and fits). */
function materialise(recipes: ReadonlyMap<string, Recipe>, dir: string): string {
  const names = [...recipes.keys()].sort();
  const text = ['pasd-personalize-v1', ...names.map((n) => recipeText(n, recipes.get(n)!))].map((l) => `${l}\n`).join('');
  const path = platform.path.resolve(dir, `${platform.sha256Hex(text).slice(0, 32)}.safetensors`);
  try {
    const f = openSafetensors(path);
    if (names.every((n) => f.tensors.get(n)?.dtype === 'float32' && shapeEq(f.tensors.get(n)!.shape, recipes.get(n)!.shape))) return path;
  } catch {
    // not cached yet (or unreadable): write it below
  }
  try {
    platform.mkdirp(dir);
  } catch (e) {
    throw new CheckpointError(`personalized-weights cache ${dir}: cannot create the folder (${(e as Error).message}); set PASD_CACHE_DIR to a writable folder`, { cause: e });
  }
  writeF32SafetensorsStreaming(path, names.map((name) => ({ name, shape: recipes.get(name)!.shape })), (name) => compute(recipes.get(name)!), { format: 'pasd-personalized-weights' });
  return path;
}
