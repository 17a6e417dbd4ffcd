/**
 * Job options of `POST /v1/jobs`: a JSON object with the run options' server names (their
 * flags in camelCase, src/pipelines/options.ts) plus `model`. Everything is checked before a
 * job is queued, with the same rules as the library and the CLI (resolveOptions); a bad value
 * is a 400 naming the field, an unknown key is refused (a typo must not silently run with the
 * default). Limits that protect the server (scale, steps, process size, samples) are the
 * server's, on top of the options' own ranges.
 */
import { HIGH_LEVEL_MODEL_FLAGS, OPTIONS, OPTION_KEYS, type OptionKey, OptionError, type SchedulerConfigs, jsonName, resolveOptions, valueProblem, withDoorDefaults } from '../pipelines/options.ts';
import type { UpscaleOptions } from '../pipelines/pasd.ts';
import { badField } from './errors.ts';

export interface OptionLimits {
  maxScale: number;
  maxSteps: number;
  maxProcessSize: number;
  maxSamples: number;
}

export const DEFAULT_OPTION_LIMITS: OptionLimits = { maxScale: 8, maxSteps: 100, maxProcessSize: 2048, maxSamples: 16 };

/** Which server limit caps which option. */
export const OPTION_CAPS: Readonly<Partial<Record<OptionKey, keyof OptionLimits>>> = { upscale: 'maxScale', steps: 'maxSteps', processSize: 'maxProcessSize', samples: 'maxSamples' };

/** A served model as the option check sees it: the defaults it was made for, the scheduler configs it samples with. */
export interface ModelOptions {
  defaults: Partial<UpscaleOptions>;
  schedulers?: SchedulerConfigs;
  /** The kinds of high-level information the server has a model for (pasd serve --captioner, ...). */
  highLevel?: readonly string[];
}

/** What a queued job runs with: the model name and the pipeline options (without callbacks). */
export interface JobOptions {
  model: string;
  upscale: UpscaleOptions & { upscale: number };
}

/** The run options the server takes. */
export const SERVER_OPTION_KEYS = OPTION_KEYS.filter((k) => OPTIONS[k].doors.includes('server'));
export const KNOWN_OPTIONS: readonly string[] = ['model', ...SERVER_OPTION_KEYS.map(jsonName)];

/**
 * Checks a parsed options object. `models` maps each model name to its defaults (the bundled
 * mini model's defaults.json) and scheduler configs; the first model is the default one.
 */
export function parseJobOptions(raw: unknown, models: ReadonlyMap<string, ModelOptions>, limits: OptionLimits = DEFAULT_OPTION_LIMITS): JobOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badField('options', 'expected a JSON object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN_OPTIONS.includes(k));
  if (unknown.length) throw badField(unknown[0], `unknown option (known: ${KNOWN_OPTIONS.join(', ')})`);
  const names = [...models.keys()];
  const model = o.model ?? names[0];
  if (typeof model !== 'string' || !models.has(model)) throw badField('model', `expected one of ${names.join(', ')}, got ${JSON.stringify(model)}`);
  const picked: UpscaleOptions = {};
  for (const k of SERVER_OPTION_KEYS) {
    const name = jsonName(k), v = o[name];
    if (v === undefined || v === null) continue;
    const cap = OPTION_CAPS[k];
    const problem = valueProblem(OPTIONS[k], v, { max: cap && limits[cap] });
    if (problem) throw badField(name, problem);
    (picked as Record<string, unknown>)[k] = v;
  }
  const served = models.get(model)!;
  // The served model's defaults (mini's defaults.json, PASD-SDXL's family defaults such as scale 2); colorization keeps
  // the input size and takes no added prompt, so a family's super-resolution scale and added prompt do not apply to it.
  const defaults: Partial<UpscaleOptions> = { ...served.defaults };
  if (picked.colorize) {
    delete defaults.upscale;
    delete defaults.addedPrompt;
  }
  const run = withDoorDefaults({ ...defaults, ...picked });
  const kind = run.highLevelInfo;
  if (kind !== undefined && kind !== 'none' && !served.highLevel?.includes(kind))
    throw badField(jsonName('highLevelInfo'), `this server has no ${kind} model (start it with pasd serve --${HIGH_LEVEL_MODEL_FLAGS[kind]} DIR)`);
  try {
    resolveOptions(run, served.schedulers);
  } catch (e) {
    throw e instanceof OptionError ? badField(jsonName(e.option), e.detail) : e;
  }
  return { model, upscale: { ...run, upscale: run.upscale ?? 1 } };
}
