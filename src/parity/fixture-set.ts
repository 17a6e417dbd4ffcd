/**
 * A fixture directory in the format of ../shared/fixtures (its README, "Layout"): the
 * manifest, the case files, the model folders with their classes, and the tolerance of each
 * expected output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { type SafetensorsFile, openSafetensors } from '../checkpoint/safetensors.ts';
import { ConfigError } from '../core/errors.ts';
import type { RuntimeChoice } from '../engine/compile.ts';
import type { CaseContext, Manifest, ManifestCase, ManifestTensor } from './types.ts';

/** A model named by a case: its folder, config.json and both class names. */
export interface FixtureModel {
  readonly name: string;
  readonly dir: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** config.json `_class_name` (diffusers) or `architectures[0]` (transformers). */
  readonly configClass: string | undefined;
  /** The manifest's `models[name].class_name`: the original's Python module path and class. */
  readonly className: string | undefined;
}

export interface Tolerance {
  readonly value: number;
  readonly kind: string;
  /**
   * Where the manifest says rounding ties may flip (DiffJPEG's torch.round of DCT
   * coefficients): the share of values allowed beyond `value`, each still below `tieBound`.
   */
  readonly tieFraction?: number;
  readonly tieBound?: number;
}

/** 0.1% of values, each off by less than 0.1: one flipped quantisation step moves a block by less. */
const TIE_FLIPS = { tieFraction: 1e-3, tieBound: 0.1 } as const;

/**
 * The bound an output is held to (fixtures README, "Tolerances"): `_u8` images allow ±1
 * (float math truncated/rounded to uint8) unless their meaning says "exact" without an
 * allowance, integer tensors are exact, float tensors use
 * `tolerance_max_abs` (with a few rounding-tie flips allowed where the meaning says ties can
 * flip); a float without one (a scalar such as init_noise_sigma) must be
 * exact in float32.
 */
export function toleranceOf(t: ManifestTensor): Tolerance {
  if (t.name.endsWith('_u8')) {
    // Integer-only procedures (PIL resizes) are marked exact in their meaning.
    const exact = /\bexact\b/.test(t.meaning ?? '') && !/allow/.test(t.meaning ?? '');
    return exact ? { value: 0, kind: 'exact' } : { value: 1, kind: '±1 (_u8)' };
  }
  if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'F16') return { value: 0, kind: 'exact' };
  if (typeof t.tolerance_max_abs === 'number') {
    const ties = /ties can flip|fraction of mismatching/.test(t.meaning ?? '');
    return ties ? { value: t.tolerance_max_abs, kind: 'tolerance_max_abs', ...TIE_FLIPS } : { value: t.tolerance_max_abs, kind: 'tolerance_max_abs' };
  }
  return { value: 0, kind: 'exact (float32)' };
}

export function isInputTensor(name: string): boolean {
  return name.startsWith('input.');
}

/**
 * A manifest entry whose name holds `<…>` placeholders (`grad.<parameter>`,
 * `output.merged.<unet|text_encoder>.<module>.weight`) stands for every tensor of the case
 * file that matches it; null for a plain name.
 */
export function templatePattern(name: string): RegExp | null {
  if (!/<[^<>]+>/.test(name)) return null;
  const literal = name.split(/<[^<>]+>/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${literal.join('.+')}$`);
}

function readJsonObject(path: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path}: cannot read ${what} (${(e as Error).message})`, { cause: e });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${path}: ${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

export class FixtureSet {
  private readonly models = new Map<string, FixtureModel>();

  private constructor(readonly dir: string, readonly manifest: Manifest) {}

  /** Reads `<dir>/manifest.json`; throws ConfigError when it is missing or not a manifest. */
  static open(dir: string): FixtureSet {
    const root = resolve(dir);
    const path = resolve(root, 'manifest.json');
    if (!existsSync(path)) throw new ConfigError(`${root}: no manifest.json; pass a fixture directory in the ../shared/fixtures format`);
    const m = readJsonObject(path, 'the fixture manifest');
    if (!Array.isArray(m.cases)) throw new ConfigError(`${path}: "cases" must be a list of case entries`);
    m.cases.forEach((c: unknown, i: number) => {
      const e = c as Partial<ManifestCase> | null;
      if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.group !== 'string' || typeof e.file !== 'string' || !Array.isArray(e.tensors))
        throw new ConfigError(`${path}: cases[${i}] needs string "name", "group", "file" and a "tensors" list`);
    });
    return new FixtureSet(root, m as unknown as Manifest);
  }

  get cases(): readonly ManifestCase[] {
    return this.manifest.cases;
  }

  /** A path named by the manifest, inside the fixture directory (anything else is refused). */
  path(rel: string): string {
    const p = resolve(this.dir, rel);
    const r = relative(this.dir, p);
    if (r.startsWith('..') || isAbsolute(r)) throw new ConfigError(`manifest path ${JSON.stringify(rel)} leaves the fixture directory ${this.dir}`);
    return p;
  }

  conventions(key: string): unknown {
    return this.manifest.conventions?.[key];
  }

  model(name: string): FixtureModel {
    const cached = this.models.get(name);
    if (cached) return cached;
    const entry = this.manifest.models?.[name];
    const dir = this.path(entry?.folder ?? `models/${name}`);
    const config = readJsonObject(resolve(dir, 'config.json'), `model "${name}" config.json`);
    const arch = Array.isArray(config.architectures) ? config.architectures[0] : undefined;
    const configClass = typeof config._class_name === 'string' ? config._class_name : typeof arch === 'string' ? arch : undefined;
    const m: FixtureModel = { name, dir, config, configClass, className: entry?.class_name };
    this.models.set(name, m);
    return m;
  }

  /**
   * The case's file, with typed readers; provider, precision and threads go to the handlers'
   * sessions, and
   * `only` narrows the outputs the handler is asked for.
   */
  context(meta: ManifestCase, opts: RuntimeChoice & { only?: (output: string) => boolean } = {}): CaseContext {
    const { threads, provider, precision, only } = opts;
    const runtime: RuntimeChoice = {};
    if (threads !== undefined) runtime.threads = threads;
    if (provider !== undefined) runtime.provider = provider;
    if (precision !== undefined) runtime.precision = precision;
    const file: SafetensorsFile = openSafetensors(this.path(meta.file));
    const entry = (name: string) => {
      const e = file.tensors.get(name);
      if (!e) throw new ConfigError(`${meta.name}: tensor "${name}" is not in ${meta.file}`);
      return e;
    };
    return {
      fixtures: this,
      meta,
      file,
      runtime,
      has: (name) => file.tensors.has(name),
      shape: (name) => entry(name).shape,
      f32: (name) => (entry(name), file.readF32(name)),
      ints: (name) => {
        const a = file.read(entry(name).name);
        return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
      },
      outputs: () => meta.tensors.filter((t) => !isInputTensor(t.name) && (only === undefined || only(t.name))),
      expand: (t) => {
        const re = templatePattern(t.name);
        if (re === null) return [t.name];
        const listed = new Set(meta.tensors.map((x) => x.name));
        return [...file.tensors.keys()].filter((n) => re.test(n) && !listed.has(n));
      },
    };
  }
}
