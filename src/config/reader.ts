/**
 * Typed reading of config.json objects: each field is read once with its diffusers 0.29.2
 * default; wrong types and unsupported values throw ConfigError naming the key; keys the
 * model does not know are reported to `warn` (diffusers ignores them with a warning too).
 */
import { ConfigError } from '../core/errors.ts';

/**
 * Bounds every integer and list is read within, before anything is built: a value such as
 * `layers_per_block: 1e8` would otherwise build modules until the heap gives out. Counts of
 * repeated layers take a tighter `max` at their call (LAYER_COUNT_MAX).
 */
export const CONFIG_INT_MAX = 2 ** 20;
export const CONFIG_LIST_MAX = 64;
/** Layers per block, transformer layers, CLIP layers: SD1.5 uses 2, 1, 12; SDXL 10 transformer layers. */
export const LAYER_COUNT_MAX = 64;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Warn = (message: string) => void;

export class ConfigReader {
  private readonly used = new Set<string>(['_class_name', '_diffusers_version', '_name_or_path', '_use_default_values']);
  constructor(readonly raw: Readonly<Record<string, unknown>>, readonly what: string) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${what}: config must be a JSON object`);
  }

  private get(key: string): unknown {
    this.used.add(key);
    return this.raw[key];
  }

  /** Marks keys as known without reading them (informational or irrelevant at inference). */
  ignore(...keys: string[]): void {
    for (const k of keys) this.used.add(k);
  }

  number(key: string, def: number): number {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${this.what}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  int(key: string, def: number, max = CONFIG_INT_MAX): number {
    const v = this.number(key, def);
    if (!Number.isInteger(v)) throw new ConfigError(`${this.what}: "${key}" must be an integer, got ${v}`);
    this.bound(key, v, max);
    return v;
  }

  private bound(key: string, v: number, max: number): void {
    if (Math.abs(v) > max) throw new ConfigError(`${this.what}: "${key}" = ${v} is out of range (at most ${max}); the config is corrupt or not one this implementation can build`);
  }

  private boundList(key: string, v: readonly unknown[]): void {
    if (v.length > CONFIG_LIST_MAX) throw new ConfigError(`${this.what}: "${key}" has ${v.length} entries, more than ${CONFIG_LIST_MAX}; the config is corrupt`);
  }

  bool(key: string, def: boolean): boolean {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') throw new ConfigError(`${this.what}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  string<T extends string>(key: string, def: T, allowed?: readonly T[]): T {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string') throw new ConfigError(`${this.what}: "${key}" must be a string, got ${JSON.stringify(v)}`);
    if (allowed && !allowed.includes(v as T)) throw new ConfigError(`${this.what}: "${key}" = ${JSON.stringify(v)} is not supported (supported: ${allowed.join(', ')})`);
    return v as T;
  }

  /** A nullable value that this implementation only supports as null / its default. */
  unsupportedUnless(key: string, ok: (v: unknown) => boolean, hint = ''): void {
    const v = this.get(key);
    if (v !== undefined && !ok(v)) throw new ConfigError(`${this.what}: "${key}" = ${JSON.stringify(v)} is not supported${hint ? ` (${hint})` : ''}`);
  }

  ints(key: string, def: readonly number[]): number[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [...def];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new ConfigError(`${this.what}: "${key}" must be a list of integers, got ${JSON.stringify(v)}`);
    this.boundList(key, v);
    for (const x of v as number[]) this.bound(key, x, CONFIG_INT_MAX);
    return v as number[];
  }

  strings(key: string, def: readonly string[]): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [...def];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(`${this.what}: "${key}" must be a list of strings, got ${JSON.stringify(v)}`);
    this.boundList(key, v);
    return v as string[];
  }

  /** Scalar-or-list config values (diffusers allows both) as one value per block. */
  perBlock(key: string, def: number | null, blocks: number, max = CONFIG_INT_MAX): number[] | null {
    const v = this.get(key);
    if (v === undefined || v === null) return def === null ? null : new Array<number>(blocks).fill(def);
    if (typeof v === 'number' && Number.isInteger(v)) {
      this.bound(key, v, max);
      return new Array<number>(blocks).fill(v);
    }
    if (Array.isArray(v) && v.length === blocks && v.every((x) => Number.isInteger(x))) {
      for (const x of v as number[]) this.bound(key, x, max);
      return v as number[];
    }
    throw new ConfigError(`${this.what}: "${key}" must be an integer or a list of ${blocks} integers, got ${JSON.stringify(v)}`);
  }

  /** Reports keys nobody read. */
  finish(warn: Warn = (m) => process.emitWarning(m)): void {
    const unknown = Object.keys(this.raw).filter((k) => !this.used.has(k));
    if (unknown.length) warn(`${this.what}: ignoring unknown config keys: ${unknown.join(', ')}`);
  }
}
