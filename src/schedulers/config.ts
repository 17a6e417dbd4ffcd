/**
 * scheduler_config.json → frozen, typed, camelCase configs with the diffusers 0.29.2 defaults of
 * each class (the defaults differ per class: DDIM's timestep_spacing is "leading", UniPC's
 * "linspace"; LCM's beta_start is 0.00085, everyone else's 0.0001, …).
 *
 * Each scheduler declares a spec `{ snake_case_key: field }`; `parseSchedulerConfig` checks
 * types and allowed values, throws ConfigError naming the key, and warns about unknown keys.
 * Like diffusers' `ConfigMixin.extract_init_dict`, private keys (`_class_name`,
 * `_diffusers_version`) and keys that belong to another scheduler class (SD1.5's PNDM
 * `skip_prk_steps`, DDIM's `clip_sample` read by UniPC, …) are dropped silently.
 */
import { ConfigError } from '../core/errors.ts';

export type Warn = (message: string) => void;

export interface Field<T> {
  readonly default: T;
  /** Validates a JSON value; throws ConfigError naming `where` (class and key). */
  parse(value: unknown, where: string): T;
}

function bad(where: string, expected: string, value: unknown): never {
  throw new ConfigError(`${where}: expected ${expected}, got ${JSON.stringify(value)}; fix the scheduler_config.json value`);
}

export function intField(def: number, min = -Infinity): Field<number> {
  return {
    default: def,
    parse(v, where) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(where, `an integer >= ${min}`, v);
      return v;
    },
  };
}

export function numberField(def: number): Field<number> {
  return {
    default: def,
    parse(v, where) {
      if (typeof v !== 'number' || Number.isNaN(v)) bad(where, 'a number', v);
      return v;
    },
  };
}

/** A number that may be null (diffusers `Optional[float]`); `-inf` is written as `-Infinity`. */
export function optionalNumberField(def: number | null): Field<number | null> {
  return {
    default: def,
    parse(v, where) {
      if (v === null) return null;
      if (typeof v !== 'number' || Number.isNaN(v)) bad(where, 'a number or null', v);
      return v;
    },
  };
}

export function boolField(def: boolean): Field<boolean> {
  return {
    default: def,
    parse(v, where) {
      if (typeof v !== 'boolean') bad(where, 'true or false', v);
      return v;
    },
  };
}

/**
 * A string from a fixed set. `aliases` maps values diffusers accepts but rewrites (UniPC turns
 * solver_type "midpoint" into "bh2") to the value used; the rewrite is reported through `warn`
 * by the parser. Other values throw, listing the supported ones.
 */
export function enumField<const V extends string>(def: V, values: readonly V[], aliases: Readonly<Record<string, V>> = {}): Field<V> & { readonly aliases: Readonly<Record<string, V>> } {
  return {
    default: def,
    aliases,
    parse(v, where) {
      if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as V;
      if (typeof v === 'string' && v in aliases) return aliases[v];
      bad(where, `one of ${values.map((x) => JSON.stringify(x)).join(', ')} (others are not supported)`, v);
    },
  };
}

/** A list of numbers or null (`trained_betas`). */
export function optionalNumberListField(): Field<readonly number[] | null> {
  return {
    default: null,
    parse(v, where) {
      if (v === null) return null;
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) bad(where, 'a non-empty list of numbers or null', v);
      return Object.freeze(v.slice());
    },
  };
}

export function intListField(def: readonly number[]): Field<readonly number[]> {
  return {
    default: def,
    parse(v, where) {
      if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) bad(where, 'a list of integers', v);
      return Object.freeze(v.slice());
    },
  };
}

/** A key diffusers accepts but that we only support at one value (e.g. UniPC's `solver_p: null`). */
export function fixedField<const V extends string | number | boolean | null>(value: V, why: string): Field<V> {
  return {
    default: value,
    parse(v, where) {
      if (v !== value) throw new ConfigError(`${where}: only ${JSON.stringify(value)} is supported (${why}), got ${JSON.stringify(v)}`);
      return value;
    },
  };
}

export type Spec = Readonly<Record<string, Field<unknown>>>;

type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** The parsed config of a spec: camelCase keys, value types from the fields. */
export type ConfigOf<S extends Spec> = {
  readonly [K in keyof S as CamelCase<K & string>]: S[K] extends Field<infer T> ? T : never;
};

export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Keys of the diffusers 0.29.2 scheduler classes a scheduler_config.json is commonly written
 * for: DDPM, DDIM, PNDM (the SD1.5 default), UniPC, DPM-Solver (multistep and single step),
 * Euler (and ancestral), Heun, KDPM2, DEIS, LCM. When present but not used by the class being
 * built, diffusers drops them without a warning; so do we. Anything else is reported.
 */
const FAMILY_KEYS: ReadonlySet<string> = new Set([
  'num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'trained_betas', 'prediction_type',
  'timestep_spacing', 'steps_offset', 'rescale_betas_zero_snr', 'skip_prk_steps', 'set_alpha_to_one',
  'clip_sample', 'clip_sample_range', 'sample_max_value', 'thresholding', 'dynamic_thresholding_ratio',
  'variance_type', 'solver_order', 'solver_type', 'algorithm_type', 'lower_order_final', 'euler_at_final',
  'use_karras_sigmas', 'use_lu_lambdas', 'final_sigmas_type', 'lambda_min_clipped', 'predict_x0',
  'disable_corrector', 'solver_p', 'interpolation_type', 'sigma_min', 'sigma_max', 'timestep_type',
  'original_inference_steps', 'timestep_scaling',
]);

/**
 * Parses a scheduler_config.json object for `className` against `spec`.
 * Missing keys take the spec defaults; `null` for a non-nullable key also means "default",
 * as diffusers' `from_config` passes it straight through only for Optional arguments.
 */
export function parseSchedulerConfig<S extends Spec>(className: string, spec: S, json: unknown, warn: Warn = console.warn): ConfigOf<S> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError(`${className}: scheduler config must be a JSON object, got ${JSON.stringify(json)}`);
  }
  const raw = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec)) {
    const where = `${className} config "${key}"`;
    const v = raw[key];
    if (v === undefined || (v === null && field.default !== null)) {
      out[camelCase(key)] = field.default;
      continue;
    }
    const parsed = field.parse(v, where);
    if ('aliases' in field && typeof v === 'string' && v !== parsed) {
      warn(`${where}: ${JSON.stringify(v)} is treated as ${JSON.stringify(parsed)}, as diffusers 0.29.2 does`);
    }
    out[camelCase(key)] = parsed;
  }
  const unknown = Object.keys(raw).filter((k) => !k.startsWith('_') && !(k in spec) && !FAMILY_KEYS.has(k));
  if (unknown.length > 0) warn(`${className}: ignoring unknown scheduler config keys ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  return Object.freeze(out) as ConfigOf<S>;
}
