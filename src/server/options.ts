/**
 * Job options of `POST /v1/jobs`: a JSON object with the names of `pasd upscale`'s options in
 * camelCase. Everything is checked before a job is queued; a bad value is a 400 naming the
 * field, an unknown key is refused (a typo must not silently run with the default). Limits
 * that protect the server (steps, scale, process size) are the server's, not the client's.
 */
import type { SchedulerChoice, UpscaleOptions } from '../pipelines/pasd.ts';
import { badField } from './errors.ts';

export interface OptionLimits {
  maxScale: number;
  maxSteps: number;
  maxProcessSize: number;
}

export const DEFAULT_OPTION_LIMITS: OptionLimits = { maxScale: 8, maxSteps: 100, maxProcessSize: 2048 };

/** What a queued job runs with: the model name and the pipeline options (without callbacks). */
export interface JobOptions {
  model: string;
  upscale: UpscaleOptions & { upscale: number };
}

const SCHEDULERS: readonly SchedulerChoice[] = ['unipc', 'ddim', 'dpmsolver', 'euler', 'lcm', 'ddpm'];
const COLOR_FIXES = ['wavelet', 'adain', 'none'] as const;
const MAX_PROMPT = 2000;
export const KNOWN_OPTIONS = [
  'model', 'scale', 'steps', 'cfg', 'conditioningScale', 'addedNoiseLevel', 'prompt', 'addedPrompt', 'negativePrompt',
  'seed', 'colorFix', 'scheduler', 'processSize', 'tileSize', 'tileOverlap', 'colorize', 'initNoise', 'samples',
  'strength',
] as const;

function number(o: Record<string, unknown>, key: string, r: { int?: boolean; min: number; max: number }): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (r.int && !Number.isInteger(v)) || v < r.min || v > r.max)
    throw badField(key, `expected ${r.int ? 'an integer' : 'a number'} in [${r.min}, ${r.max}], got ${JSON.stringify(v)}`);
  return v;
}

function string(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(key, `expected a string, got ${JSON.stringify(v)}`);
  if (v.length > MAX_PROMPT) throw badField(key, `longer than ${MAX_PROMPT} characters`);
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, key: string, allowed: readonly T[]): T | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!allowed.includes(v as T)) throw badField(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function bool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badField(key, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Checks a parsed options object. `models` maps each model name to the defaults it was made
 * for (the bundled mini model's defaults.json); the first model is the default one.
 */
export function parseJobOptions(raw: unknown, models: ReadonlyMap<string, Partial<UpscaleOptions>>, limits: OptionLimits = DEFAULT_OPTION_LIMITS): JobOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badField('options', 'expected a JSON object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KNOWN_OPTIONS as readonly string[]).includes(k));
  if (unknown.length) throw badField(unknown[0], `unknown option (known: ${KNOWN_OPTIONS.join(', ')})`);
  const model = oneOf(o, 'model', [...models.keys()]) ?? [...models.keys()][0];
  const colorize = bool(o, 'colorize') ?? false;
  const scale = number(o, 'scale', { int: true, min: 1, max: limits.maxScale });
  if (colorize) {
    // As `pasd upscale --colorize`: options the original's grayscale mode ignores are refused, not dropped.
    if (scale !== undefined && scale !== 1) throw badField('scale', 'colorization keeps the input size (use 1 or leave it out)');
    if (o.colorFix !== undefined && o.colorFix !== 'none') throw badField('colorFix', 'colorization keeps the input luma and takes no colour fix');
    if (o.addedPrompt !== undefined) throw badField('addedPrompt', 'colorization uses the prompt alone');
  }
  const picked: UpscaleOptions = {
    colorize,
    prompt: string(o, 'prompt'), addedPrompt: string(o, 'addedPrompt'), negativePrompt: string(o, 'negativePrompt'),
    steps: number(o, 'steps', { int: true, min: 1, max: limits.maxSteps }),
    guidanceScale: number(o, 'cfg', { min: 0, max: 50 }),
    conditioningScale: number(o, 'conditioningScale', { min: 0, max: 10 }),
    addedNoiseLevel: number(o, 'addedNoiseLevel', { int: true, min: 0, max: 999 }),
    initLatentWithNoise: bool(o, 'initNoise'),
    processSize: number(o, 'processSize', { int: true, min: 8, max: limits.maxProcessSize }),
    latentTileSize: number(o, 'tileSize', { int: true, min: 8, max: 1024 }),
    latentTileOverlap: number(o, 'tileOverlap', { int: true, min: 0, max: 1023 }),
    colorFix: oneOf(o, 'colorFix', COLOR_FIXES),
    scheduler: oneOf(o, 'scheduler', SCHEDULERS),
    seed: number(o, 'seed', { int: true, min: 0, max: 2 ** 32 - 1 }),
    samples: number(o, 'samples', { int: true, min: 1, max: 16 }),
    strength: number(o, 'strength', { min: 0.01, max: 1 }),
  };
  for (const k of Object.keys(picked) as (keyof UpscaleOptions)[]) if (picked[k] === undefined) delete picked[k];
  const run = { ...models.get(model), ...picked };
  if ((run.latentTileOverlap ?? 8) >= (run.latentTileSize ?? 320)) throw badField('tileOverlap', 'must be smaller than tileSize');
  return { model, upscale: { ...run, upscale: scale ?? (colorize ? 1 : run.upscale ?? 4) } };
}
