/**
 * LoRA files (kohya and diffusers layouts) → which of our weights each low-rank pair changes,
 * and the merge `W += multiplier · scale · up·down`.
 *
 * The original is PASD `pasd/myutils/convert_lora_safetensor_to_diffusers.py` (`convert_lora`):
 * it splits a kohya name after `lora_unet_` / `lora_te_` on `_` and walks `getattr`, joining
 * parts with `_` while an attribute is missing (`to_out_0` → `to_out.0`). We walk the same way
 * over the module paths of our state-dict keys, so no live module tree is needed.
 *
 * Fixed here (DESIGN.md §4): kohya's `alpha / rank` scale is applied (the original ignores
 * the `.alpha` tensors; `alphaCompat: 'original'` reproduces that), and 3×3 (LoCon) pairs are
 * merged as a conv instead of failing on the squeeze.
 */
import { StateDictError, UnsupportedError } from '../core/errors.ts';
import { type Shape, fmtShape, numel } from '../core/shape.ts';

export type LoraTarget = 'unet' | 'textEncoder';

/** `kohya`: scale by alpha/rank (kohya-ss sd-scripts `networks/lora.py`); `original`: PASD's merge without it. */
export type LoraAlphaCompat = 'kohya' | 'original';

/** One low-rank pair and the weight it changes. */
export interface LoraModule {
  /** The pair's name in the file (kohya base name or diffusers module path), for messages. */
  readonly name: string;
  readonly target: LoraTarget;
  /** Our state-dict key of the changed weight. */
  readonly weightKey: string;
  /** Tensor names in the LoRA file. */
  readonly up: string;
  readonly down: string;
  readonly alpha: string | null;
}

type Shapes = ReadonlyMap<string, { readonly shape: Shape }>;

const KOHYA_PREFIX: Readonly<Record<string, LoraTarget>> = { lora_unet: 'unet', lora_te: 'textEncoder' };
const KOHYA_KEY = /^(lora_unet|lora_te)_(.+?)\.(lora_up\.weight|lora_down\.weight|alpha)$/;

/** Module paths of a state dict as a tree of segments (the `getattr` walk's view of a model). */
class ModuleTrie {
  readonly children = new Map<string, ModuleTrie>();
  hasWeight = false;

  static of(keys: Iterable<string>): ModuleTrie {
    const root = new ModuleTrie();
    for (const key of keys) {
      const segs = key.split('.');
      let node = root;
      for (const s of segs.slice(0, -1)) {
        let next = node.children.get(s);
        if (!next) node.children.set(s, (next = new ModuleTrie()));
        node = next;
      }
      if (segs[segs.length - 1] === 'weight') node.hasWeight = true;
    }
    return root;
  }
}

/**
 * The module a kohya name (`down_blocks_0_attentions_0_proj_in`) points at, found as
 * `convert_lora` does: take parts from the left, descend when a child of that name exists,
 * otherwise join the next part with `_`. Where that greedy walk dead-ends (the original then
 * fails), the joins it skipped are tried too, so a name resolves whenever some split of it
 * names a layer; when the greedy walk succeeds its answer is the one returned.
 */
function resolveKohyaName(name: string, trie: ModuleTrie): string | null {
  const parts = name.split('_');
  const walk = (node: ModuleTrie, temp: string, i: number): string[] | null => {
    const child = node.children.get(temp);
    if (child) {
      if (i === parts.length) return child.hasWeight ? [temp] : null;
      const rest = walk(child, parts[i], i + 1);
      if (rest) return [temp, ...rest];
    }
    if (i === parts.length) return null;
    // As the original: an empty part (from `__`) is replaced, not joined.
    return walk(node, temp ? `${temp}_${parts[i]}` : parts[i], i + 1);
  };
  return walk(trie, parts[0], 1)?.join('.') ?? null;
}

interface PairParts { up?: string; down?: string; alpha?: string }

function pairsOf(groups: Map<string, PairParts & { target: LoraTarget; module: string | null }>): LoraModule[] {
  const out: LoraModule[] = [];
  for (const [name, g] of groups) {
    if (!g.up || !g.down) throw new StateDictError(`LoRA "${name}": has ${g.up ? 'an up' : 'a down'} weight but no ${g.up ? 'down' : 'up'} weight; the file is incomplete`);
    if (g.module === null) throw new StateDictError(`LoRA "${name}": matches no layer of the ${g.target === 'unet' ? 'UNet' : 'text encoder'}; is it a LoRA for another model family (SDXL, SD2)?`);
    out.push({ name, target: g.target, weightKey: `${g.module}.weight`, up: g.up, down: g.down, alpha: g.alpha ?? null });
  }
  return out;
}

/** Kohya layout: `lora_unet_<module>.lora_up.weight`, `.lora_down.weight`, `.alpha`. */
function kohyaModules(shapes: Shapes, tries: Record<LoraTarget, ModuleTrie | null>): LoraModule[] {
  const groups = new Map<string, PairParts & { target: LoraTarget; module: string | null }>();
  for (const key of shapes.keys()) {
    const m = KOHYA_KEY.exec(key);
    if (!m) throw new UnsupportedError(`LoRA tensor "${key}": not a kohya lora_up / lora_down / alpha tensor (LyCORIS LoHa/LoKr, DoRA and SDXL "lora_te1_" files are not supported)`);
    const [, prefix, name, part] = m;
    const base = `${prefix}_${name}`;
    let g = groups.get(base);
    if (!g) {
      const target = KOHYA_PREFIX[prefix];
      const trie = tries[target];
      if (!trie) throw new StateDictError(`LoRA "${base}": changes the text encoder, but no text encoder weights were given`);
      groups.set(base, (g = { target, module: resolveKohyaName(name, trie) }));
    }
    if (part === 'alpha') g.alpha = key;
    else if (part === 'lora_up.weight') g.up = key;
    else g.down = key;
  }
  return pairsOf(groups);
}

/** diffusers attention-processor names → module names, per target. */
const PROCESSOR_MODULE: Readonly<Record<LoraTarget, Readonly<Record<string, string>>>> = {
  unet: { to_q: 'to_q', to_k: 'to_k', to_v: 'to_v', to_out: 'to_out.0' },
  textEncoder: { to_q: 'q_proj', to_k: 'k_proj', to_v: 'v_proj', to_out: 'out_proj' },
};

/** Suffix forms diffusers has saved LoRA pairs under: [pattern, up/down of each match]. */
const DIFFUSERS_FORMS: readonly [RegExp, (m: RegExpExecArray, t: LoraTarget) => [string, 'up' | 'down' | 'alpha']][] = [
  [/^(.+)\.lora_([AB])\.weight$/, (m) => [m[1], m[2] === 'A' ? 'down' : 'up']], // PEFT
  [/^(.+)\.(?:lora|lora_linear_layer)\.(up|down)\.weight$/, (m) => [m[1], m[2] as 'up' | 'down']], // LoRACompatible layers
  [/^(.+?)(?:\.processor)?\.(to_q|to_k|to_v|to_out)_lora\.(up|down)\.weight$/, (m, t) => [`${m[1]}.${PROCESSOR_MODULE[t][m[2]]}`, m[3] as 'up' | 'down']],
  [/^(.+)\.alpha$/, (m) => [m[1], 'alpha']],
];

/** diffusers layouts: `unet.<module>…` / `text_encoder.<module>…` (no prefix: UNet attention processors). */
function diffusersModules(shapes: Shapes, keys: Record<LoraTarget, ReadonlySet<string> | null>): LoraModule[] {
  const groups = new Map<string, PairParts & { target: LoraTarget; module: string | null }>();
  for (const key of shapes.keys()) {
    const target: LoraTarget = key.startsWith('text_encoder.') ? 'textEncoder' : 'unet';
    const rest = key.replace(/^(unet|text_encoder)\./, '');
    const form = DIFFUSERS_FORMS.find(([re]) => re.test(rest));
    if (!form) throw new UnsupportedError(`LoRA tensor "${key}": not a known kohya or diffusers LoRA tensor name`);
    const [module, part] = form[1](form[0].exec(rest)!, target);
    const known = keys[target];
    if (!known) throw new StateDictError(`LoRA "${module}": changes the text encoder, but no text encoder weights were given`);
    const name = `${target === 'unet' ? 'unet' : 'text_encoder'}.${module}`;
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { target, module: known.has(`${module}.weight`) ? module : null }));
    g[part] = key;
  }
  return pairsOf(groups);
}

/**
 * Every pair of a LoRA file with the weight it changes. `targets` are the state-dict keys of
 * the models it may change (`textEncoder` null when there is none). Throws naming the tensor
 * for unknown layouts, unpaired tensors and names that match no layer.
 */
export function planLora(shapes: Shapes, targets: { unet: Iterable<string>; textEncoder: Iterable<string> | null }): LoraModule[] {
  if (shapes.size === 0) throw new StateDictError('LoRA file has no tensors');
  const unet = new Set(targets.unet);
  const te = targets.textEncoder ? new Set(targets.textEncoder) : null;
  const kohya = [...shapes.keys()].some((k) => k.startsWith('lora_unet_') || k.startsWith('lora_te_'));
  const modules = kohya
    ? kohyaModules(shapes, { unet: ModuleTrie.of(unet), textEncoder: te && ModuleTrie.of(te) })
    : diffusersModules(shapes, { unet, textEncoder: te });
  for (const m of modules) checkPairShapes(m, shapes.get(m.up)!.shape, shapes.get(m.down)!.shape);
  return modules;
}

function checkPairShapes(m: LoraModule, up: Shape, down: Shape): void {
  const ok = (up.length === 2 || (up.length === 4 && up[2] === 1 && up[3] === 1)) && (down.length === 2 || down.length === 4) && up[1] === down[0];
  if (!ok) throw new StateDictError(`LoRA "${m.name}": up ${fmtShape(up)} and down ${fmtShape(down)} are not a low-rank pair (up [out, r(,1,1)], down [r, in(, kh, kw)])`);
}

/** The factor on up·down: multiplier, times alpha/rank unless the original's merge is asked for. */
export function loraFactor(multiplier: number, rank: number, alpha: number | null, compat: LoraAlphaCompat): number {
  return compat === 'original' || alpha === null ? multiplier : (multiplier * alpha) / rank;
}

/** Throws unless up·down ([out, r]·[r, in(, kh, kw)]) has the layout of `weightShape`. */
export function checkLoraFits(name: string, weightShape: Shape, upShape: Shape, downShape: Shape): void {
  const out = upShape[0];
  const cols = numel(downShape) / upShape[1];
  const kernelFits = downShape.length === 2 || (weightShape.length === 4 && weightShape[2] === downShape[2] && weightShape[3] === downShape[3]);
  if (weightShape[0] !== out || numel(weightShape) !== out * cols || !kernelFits)
    throw new StateDictError(`LoRA "${name}": up ${fmtShape(upShape)} · down ${fmtShape(downShape)} does not fit the weight ${fmtShape(weightShape)}`);
}

/**
 * `weight += factor · up·down` in float32, in place. up: [out, r] (1×1 dims dropped), down:
 * [r, in·kh·kw]; the product is laid out as the weight ([out, in] Linear, [out, in, kh, kw]
 * conv). The original's float32 `mm` then scalar multiply, then add, each rounded to float32.
 */
export function mergeLoraPair(weight: Float32Array, weightShape: Shape, up: Float32Array, upShape: Shape, down: Float32Array, downShape: Shape, factor: number, name: string): void {
  checkLoraFits(name, weightShape, upShape, downShape);
  const out = upShape[0], r = upShape[1];
  const cols = numel(downShape) / r;
  const f = Math.fround(factor);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let k = 0; k < r; k++) s = Math.fround(s + Math.fround(up[o * r + k] * down[k * cols + c]));
      const i = o * cols + c;
      weight[i] = Math.fround(weight[i] + Math.fround(f * s));
    }
  }
}

/** The original's test for "this file is a LoRA" (`load_dreambooth_lora`): every key contains "lora". */
export function isLoraFile(keys: Iterable<string>): boolean {
  let any = false;
  for (const k of keys) {
    if (!k.includes('lora')) return false;
    any = true;
  }
  return any;
}
