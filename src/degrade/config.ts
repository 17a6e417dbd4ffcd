/**
 * The degradation settings, mirroring PASD's `pasd/dataloader/params_realesrgan.yml` key for key
 * (snake_case, nested `kernel_info`), so a user's YAML or JSON file maps onto it directly.
 *
 * Keys missing from a user file take the values of params_realesrgan.yml (the original requires
 * every key); unknown keys are reported as warnings; out-of-range values throw a ConfigError
 * naming the key. YAML: only the subset the original file uses is read (see `parseYamlSubset`).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ConfigError, InputError, UnsupportedError } from '../core/errors.ts';
import { KERNEL_TYPES, type KernelType } from './kernels.ts';

type Range = readonly [number, number];
type Triple = readonly [number, number, number];

export interface KernelInfo {
  readonly blur_kernel_size: number;
  readonly kernel_list: readonly KernelType[];
  readonly kernel_prob: readonly number[];
  readonly sinc_prob: number;
  readonly blur_sigma: Range;
  readonly betag_range: Range;
  readonly betap_range: Range;
  readonly blur_kernel_size2: number;
  readonly kernel_list2: readonly KernelType[];
  readonly kernel_prob2: readonly number[];
  readonly sinc_prob2: number;
  readonly blur_sigma2: Range;
  readonly betag_range2: Range;
  readonly betap_range2: Range;
  readonly final_sinc_prob: number;
}

export interface DegradationConfig {
  /** Output is the input size divided by this (floor). */
  readonly scale: number;
  readonly color_jitter_prob: number;
  readonly gray_prob: number;
  /** First degradation: probabilities of [up, down, keep]. */
  readonly resize_prob: Triple;
  readonly resize_range: Range;
  readonly gaussian_noise_prob: number;
  /** Gaussian sigma in 0..255 units. */
  readonly noise_range: Range;
  readonly poisson_scale_range: Range;
  readonly gray_noise_prob: number;
  readonly jpeg_range: Range;
  readonly second_blur_prob: number;
  readonly resize_prob2: Triple;
  readonly resize_range2: Range;
  readonly gaussian_noise_prob2: number;
  readonly noise_range2: Range;
  readonly poisson_scale_range2: Range;
  readonly gray_noise_prob2: number;
  readonly jpeg_range2: Range;
  readonly kernel_info: KernelInfo;
}

const ALL_KERNELS = [...KERNEL_TYPES];
const KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03];

/** params_realesrgan.yml as shipped with PASD. */
export const DEFAULT_DEGRADATION_CONFIG: DegradationConfig = deepFreeze({
  scale: 4,
  color_jitter_prob: 0.0,
  gray_prob: 0.0,
  resize_prob: [0.2, 0.7, 0.1],
  resize_range: [0.3, 1.5],
  gaussian_noise_prob: 0.5,
  noise_range: [1, 15],
  poisson_scale_range: [0.05, 2.0],
  gray_noise_prob: 0.4,
  jpeg_range: [60, 95],
  second_blur_prob: 0.5,
  resize_prob2: [0.3, 0.4, 0.3],
  resize_range2: [0.6, 1.2],
  gaussian_noise_prob2: 0.5,
  noise_range2: [1, 12],
  poisson_scale_range2: [0.05, 1.0],
  gray_noise_prob2: 0.4,
  jpeg_range2: [60, 100],
  kernel_info: {
    blur_kernel_size: 21,
    kernel_list: ALL_KERNELS,
    kernel_prob: KERNEL_PROB,
    sinc_prob: 0.1,
    blur_sigma: [0.2, 3],
    betag_range: [0.5, 4],
    betap_range: [1, 2],
    blur_kernel_size2: 21,
    kernel_list2: ALL_KERNELS,
    kernel_prob2: KERNEL_PROB,
    sinc_prob2: 0.1,
    blur_sigma2: [0.2, 1.5],
    betag_range2: [0.5, 4],
    betap_range2: [1, 2],
    final_sinc_prob: 0.8,
  },
} as DegradationConfig);

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

// ---------------------------------------------------------------- validation

type Check = (v: unknown, key: string) => void;

const fail = (key: string, v: unknown, want: string): never => {
  throw new ConfigError(`degradation config ${key}: ${JSON.stringify(v)} is invalid; expected ${want}`);
};
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const prob: Check = (v, k) => { if (!isNum(v) || v < 0 || v > 1) fail(k, v, 'a probability in [0, 1]'); };
const numList = (v: unknown, k: string, len: number | null, want: string): number[] => {
  if (!Array.isArray(v) || (len !== null && v.length !== len) || v.length === 0 || !v.every(isNum)) fail(k, v, want);
  return v as number[];
};
const weights = (len: number): Check => (v, k) => {
  const w = numList(v, k, len, `${len} non-negative weights with a positive sum`);
  if (w.some((x) => x < 0) || w.reduce((a, b) => a + b, 0) <= 0) fail(k, v, `${len} non-negative weights with a positive sum`);
};
/** [lo, hi] with lo ≤ hi, inside [min, max], lo ≤ 1 ≤ hi if `aroundOne`, lo < hi if `strict`. */
const range = (min: number, max: number, opts: { aroundOne?: boolean; strict?: boolean; minOpen?: boolean } = {}): Check => (v, k) => {
  const desc = `[lo, hi] with ${opts.minOpen ? `${min} < lo` : `${min} ≤ lo`} ${opts.strict ? '<' : '≤'} hi ≤ ${max}${opts.aroundOne ? ' and lo ≤ 1 ≤ hi' : ''}`;
  const [lo, hi] = numList(v, k, 2, desc);
  const ok = (opts.minOpen ? lo > min : lo >= min) && (opts.strict ? lo < hi : lo <= hi) && hi <= max && (!opts.aroundOne || (lo <= 1 && hi >= 1));
  if (!ok) fail(k, v, desc);
};
const scaleCheck: Check = (v, k) => { if (!isNum(v) || !Number.isInteger(v) || v < 1) fail(k, v, 'a positive integer'); };
const kernelSize: Check = (v, k) => {
  // realesrgan.py draws kernel sizes 7..21 and pads them to 21 whatever this key says.
  if (v !== 21) throw new UnsupportedError(`degradation config ${k}: ${JSON.stringify(v)} is not supported; the original always uses 21 (kernel sizes 7..21 padded to 21)`);
};
const kernelList: Check = (v, k) => {
  if (!Array.isArray(v) || v.length === 0 || !v.every((t) => (KERNEL_TYPES as readonly unknown[]).includes(t)))
    fail(k, v, `a non-empty list of ${KERNEL_TYPES.join(', ')}`);
};
const noJitter: Check = (v, k) => {
  prob(v, k);
  if (v !== 0) throw new UnsupportedError(`degradation config ${k}: color jitter is not implemented; set it to 0 (as params_realesrgan.yml does)`);
};

const TOP: Readonly<Record<string, Check>> = {
  scale: scaleCheck,
  color_jitter_prob: noJitter,
  gray_prob: prob,
  resize_prob: weights(3),
  resize_range: range(0, Infinity, { aroundOne: true, minOpen: true }),
  gaussian_noise_prob: prob,
  noise_range: range(0, Infinity),
  poisson_scale_range: range(0, Infinity),
  gray_noise_prob: prob,
  jpeg_range: range(1, 100),
  second_blur_prob: prob,
  resize_prob2: weights(3),
  resize_range2: range(0, Infinity, { aroundOne: true, minOpen: true }),
  gaussian_noise_prob2: prob,
  noise_range2: range(0, Infinity),
  poisson_scale_range2: range(0, Infinity),
  gray_noise_prob2: prob,
  jpeg_range2: range(1, 100),
};

const KERNEL: Readonly<Record<string, Check>> = {
  blur_kernel_size: kernelSize,
  kernel_list: kernelList,
  kernel_prob: () => undefined, // checked against kernel_list's length below
  sinc_prob: prob,
  blur_sigma: range(0, Infinity, { strict: true, minOpen: true }),
  betag_range: range(0, Infinity, { aroundOne: true, minOpen: true }),
  betap_range: range(0, Infinity, { aroundOne: true, minOpen: true }),
  blur_kernel_size2: kernelSize,
  kernel_list2: kernelList,
  kernel_prob2: () => undefined,
  sinc_prob2: prob,
  blur_sigma2: range(0, Infinity, { strict: true, minOpen: true }),
  betag_range2: range(0, Infinity, { aroundOne: true, minOpen: true }),
  betap_range2: range(0, Infinity, { aroundOne: true, minOpen: true }),
  final_sinc_prob: prob,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Validates a parsed config (JSON or YAML) over the defaults. `source` names the file in errors.
 * Returns the frozen config and one warning per unknown key.
 */
export function parseDegradationConfig(raw: unknown, source = 'config'): { config: DegradationConfig; warnings: string[] } {
  if (!isObject(raw)) throw new ConfigError(`${source}: the degradation config must be a mapping of keys to values`);
  const warnings: string[] = [];
  const merged: Record<string, unknown> = { ...DEFAULT_DEGRADATION_CONFIG };
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'kernel_info') continue;
    if (!(k in TOP)) { warnings.push(`${source}: unknown key ${k} ignored`); continue; }
    merged[k] = v;
  }
  const kiRaw = raw.kernel_info ?? {};
  if (!isObject(kiRaw)) throw new ConfigError(`${source}: kernel_info must be a mapping`);
  const ki: Record<string, unknown> = { ...DEFAULT_DEGRADATION_CONFIG.kernel_info };
  for (const [k, v] of Object.entries(kiRaw)) {
    if (!(k in KERNEL)) { warnings.push(`${source}: unknown key kernel_info.${k} ignored`); continue; }
    ki[k] = v;
  }
  try {
    for (const [k, check] of Object.entries(TOP)) check(merged[k], k);
    for (const [k, check] of Object.entries(KERNEL)) check(ki[k], `kernel_info.${k}`);
    for (const s of ['', '2']) {
      const list = ki[`kernel_list${s}`] as unknown[];
      weights(list.length)(ki[`kernel_prob${s}`], `kernel_info.kernel_prob${s}`);
    }
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UnsupportedError) e.message = `${source}: ${e.message}`;
    throw e;
  }
  merged.kernel_info = ki;
  return { config: deepFreeze(structuredClone(merged)) as unknown as DegradationConfig, warnings };
}

// ---------------------------------------------------------------- YAML subset

function yamlScalar(s: string, where: string): unknown {
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (s === 'true' || s === 'false') return s === 'true';
  if (s === 'null' || s === '~' || s === '') return null;
  const q = /^'([^']*)'$|^"([^"\\]*)"$/.exec(s);
  if (q) return q[1] ?? q[2];
  if (/^[A-Za-z_][\w.\-/ ]*$/.test(s)) return s;
  throw new ConfigError(`${where}: cannot read YAML value ${JSON.stringify(s)} (only numbers, booleans, plain or quoted strings and [flow, lists] are supported; use JSON otherwise)`);
}

/**
 * Reads the YAML subset params_realesrgan.yml uses: `key: value` mappings nested by indentation,
 * scalar values, one-line `[a, b]` lists, `#` comments. Anything else throws a ConfigError
 * naming the line; use JSON for richer files.
 */
export function parseYamlSubset(text: string, source = 'yaml'): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const stack: { indent: number; obj: Record<string, unknown> }[] = [{ indent: -1, obj: root }];
  let pendingIndent: number | null = null; // a key with an empty value expects a deeper block
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const where = `${source}:${n + 1}`;
    const line = lines[n].replace(/(^|\s)#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (line.includes('\t')) throw new ConfigError(`${where}: tabs are not allowed in YAML indentation`);
    const indent = line.length - line.trimStart().length;
    const m = /^([A-Za-z_][\w]*)\s*:(?:\s+(.*))?$/.exec(line.trim());
    if (!m) throw new ConfigError(`${where}: expected "key: value" (only the YAML subset of params_realesrgan.yml is supported; use JSON otherwise)`);
    if (pendingIndent !== null && indent <= pendingIndent) throw new ConfigError(`${where}: the key on the previous line has no value`);
    pendingIndent = null;
    while (stack.length > 1 && indent <= stack[stack.length - 1].indent) stack.pop();
    const parent = stack[stack.length - 1].obj;
    const [, key, rawValue = ''] = m;
    if (key in parent) throw new ConfigError(`${where}: duplicate key ${key}`);
    const value = rawValue.trim();
    if (value === '') {
      const child: Record<string, unknown> = {};
      parent[key] = child;
      stack.push({ indent, obj: child });
      pendingIndent = indent;
    } else if (value.startsWith('[')) {
      if (!value.endsWith(']')) throw new ConfigError(`${where}: a [list] must close on the same line`);
      const inner = value.slice(1, -1).trim();
      parent[key] = inner === '' ? [] : inner.split(',').map((s) => yamlScalar(s.trim(), where));
    } else {
      parent[key] = yamlScalar(value, where);
    }
  }
  if (pendingIndent !== null) throw new ConfigError(`${source}: the last key has no value`);
  return root;
}

/** Reads a degradation config from a .json, .yml or .yaml file. */
export function loadDegradationConfig(path: string): { config: DegradationConfig; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read the degradation config (${(e as Error).message})`, { cause: e });
  }
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
  } else if (ext === '.yml' || ext === '.yaml') {
    raw = parseYamlSubset(text, path);
  } else {
    throw new ConfigError(`${path}: unknown config extension '${ext}'; use .json, .yml or .yaml`);
  }
  return parseDegradationConfig(raw, path);
}
