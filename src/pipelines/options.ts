/**
 * The options of a PASD run, once: each one's name on every door, type, range, default, help
 * and the doors that take it. `pasd upscale`/`pasd eval`'s flags and usage lines
 * (src/cli/options.ts), the server's JSON check (src/server/options.ts) and the page's form
 * (src/server/page-form.ts) derive from OPTIONS; the scheduler and colour-fix choices derive
 * from their registries. `resolveOptions` checks a run's options against it once, with the rules
 * that tie options together, before any image is read.
 */
import { InputError } from '../core/errors.ts';
import { COLOR_FIXES, type ColorFix } from '../image/colorfix.ts';
import { HIGH_LEVEL_INFO, type HighLevelInfo } from '../prompts/provider.ts';
import { SCHEDULER_CHOICES, type SchedulerChoice, createScheduler } from '../schedulers/index.ts';

/** The original's `--latent_tiled_size`: what a run tiles by when it asks for the original's tiling without a number. */
export const ORIGINAL_TILE_SIZE = 320;
export const DEFAULT_ADDED_PROMPT = 'clean, high-resolution, 8k';
export const DEFAULT_NEGATIVE_PROMPT = 'blurry, dotted, noise, raster lines, unclear, lowres, over-smoothed';
/** test_pasd.py's grayscale mode: the negative prompt when none is given. */
export const COLORIZATION_NEGATIVE_PROMPT = 'b&w, color bleeding';

/** Every option of a run, resolved (defaults are the original's, test_pasd.py). */
export interface RunSettings {
  upscale: number;
  processSize: number;
  prompt: string;
  addedPrompt: string;
  negativePrompt: string;
  steps: number;
  guidanceScale: number;
  conditioningScale: number;
  addedNoiseLevel: number;
  initLatentWithNoise: boolean;
  /** Latent tile side, or 'auto': the side the measured cost model predicts fastest for the image (./tiles.ts autoTileSize). */
  latentTileSize: number | 'auto';
  latentTileOverlap: number;
  colorFix: ColorFix;
  /**
   * Colorization (test_pasd.py `--control_type grayscale`): grey input, colorization prompts
   * and scheduler, output at the input size with the input's luma. `upscale` must stay 1,
   * `colorFix` unset or 'none', `addedPrompt` unset; `negativePrompt` defaults to "b&w, color bleeding".
   */
  colorize: boolean;
  scheduler: SchedulerChoice;
  /**
   * test_pasd.py `--high_level_info`: what describes the input for the prompt (src/prompts) —
   * a caption, the detected objects, the top class, or nothing. A kind other than none needs
   * its model (`UpscaleOptions.promptProvider`; the doors' --captioner, --detector, --classifier).
   */
  highLevelInfo: HighLevelInfo;
  /**
   * Not in the original: run the whole denoising `samples` times (the random stream continues
   * from one run to the next; the prompt and the VAE posterior are encoded once) and average
   * the decoded images before the colour fix: less noise, less generated detail.
   */
  samples: number;
  /**
   * Not in the original: img2img-style start (diffusers' `strength`). Below 1 the run denoises
   * only the last ⌊steps·strength⌋ timesteps of the schedule, from the LR image's latents noised
   * to the first of them (no added noise: `addedNoiseLevel` and `initLatentWithNoise` do not apply).
   */
  strength: number;
  seed: number;
}
export type OptionKey = keyof RunSettings;

/** Where an option is offered: `pasd upscale`, `pasd eval`, the server's JSON (the page's form: `page`). */
export type Door = 'upscale' | 'eval' | 'server';

/** The option's field on the page (the server's form): in the main group or under "More", with its label. */
export interface PageField {
  at: 'main' | 'more';
  label: string;
  /** The number input's step (default 1 for integers, else "any"). */
  step?: number;
  /** A preset value (else empty: the model's default, shown as the placeholder). */
  value?: number;
}

interface Common<V> {
  /** The CLI flag (`--process-size`); the server's JSON name is its camelCase (`processSize`). */
  flag: string;
  short?: string;
  /** The value's name in the usage line (default N, X, TEXT or NAME by kind). */
  arg?: string;
  help: string;
  default: V;
  doors: readonly Door[];
  page?: PageField;
}
/** `auto`: the string 'auto' is a value too (the pipeline picks the number). */
export type NumberSpec = Common<number | 'auto'> & { kind: 'number'; int?: boolean; min: number; max: number; auto?: boolean };
export type StringSpec = Common<string> & { kind: 'string'; maxLength: number };
/**
 * `named`: a second CLI flag taking a name for each value (`--init lr|noise` for `--init-noise`),
 * offered by the doors listed; both flags given must agree.
 */
export type BooleanSpec = Common<boolean> & { kind: 'boolean'; named?: { flag: string; names: { readonly [name: string]: boolean }; doors: readonly Door[]; help: string } };
export type ChoiceSpec<V extends string = string> = Common<V> & { kind: 'choice'; choices: readonly V[] };
export type OptionSpec = NumberSpec | StringSpec | BooleanSpec | ChoiceSpec;
type SpecOf<V> = [V] extends [number | 'auto'] ? NumberSpec : [V] extends [boolean] ? BooleanSpec : [V] extends [ColorFix | SchedulerChoice | HighLevelInfo] ? ChoiceSpec<V & string> : StringSpec;

const ALL: readonly Door[] = ['upscale', 'eval', 'server'];
const CLI_AND_SERVER: readonly Door[] = ['upscale', 'server'];
const MAX_TEXT = 2000;

/** The table. A key of RunSettings without an entry here does not compile. */
export const OPTIONS: { readonly [K in OptionKey]: SpecOf<RunSettings[K]> } = {
  upscale: {
    // The library's default, 1; the doors scale by DOOR_SCALE unless colorizing (withDoorDefaults).
    flag: 'scale', short: 's', kind: 'number', int: true, min: 1, max: 16, default: 1, doors: CLI_AND_SERVER,
    help: 'upscale factor (default 4; PASD-SDXL 2; colorization: 1)', page: { at: 'main', label: 'Scale', value: 2 },
  },
  steps: { flag: 'steps', kind: 'number', int: true, min: 1, max: 1000, default: 20, doors: ALL, help: 'denoising steps', page: { at: 'main', label: 'Steps' } },
  guidanceScale: { flag: 'cfg', kind: 'number', min: 0, max: 50, default: 9, doors: ALL, help: 'classifier-free guidance scale', page: { at: 'main', label: 'CFG', step: 0.1 } },
  conditioningScale: {
    flag: 'conditioning-scale', kind: 'number', min: 0, max: 10, default: 1, doors: CLI_AND_SERVER, help: 'ControlNet strength',
    page: { at: 'main', label: 'Conditioning scale', step: 0.05 },
  },
  addedNoiseLevel: {
    flag: 'added-noise-level', kind: 'number', int: true, min: 0, max: 999, default: 900, doors: ALL, help: 'extra noise on the LR latents',
    page: { at: 'main', label: 'Added noise level' },
  },
  seed: { flag: 'seed', kind: 'number', int: true, min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, doors: CLI_AND_SERVER, help: 'random seed', page: { at: 'main', label: 'Seed' } },
  colorFix: {
    flag: 'color-fix', arg: 'MODE', kind: 'choice', choices: COLOR_FIXES, default: 'wavelet', doors: ALL, help: 'colour fix after decoding',
    page: { at: 'main', label: 'Color fix' },
  },
  prompt: { flag: 'prompt', short: 'p', kind: 'string', maxLength: MAX_TEXT, default: '', doors: ALL, help: 'prompt describing the image', page: { at: 'main', label: 'Prompt' } },
  addedPrompt: { flag: 'added-prompt', kind: 'string', maxLength: MAX_TEXT, default: DEFAULT_ADDED_PROMPT, doors: CLI_AND_SERVER, help: 'appended to the prompt' },
  negativePrompt: {
    flag: 'negative-prompt', short: 'n', kind: 'string', maxLength: MAX_TEXT, default: DEFAULT_NEGATIVE_PROMPT, doors: CLI_AND_SERVER,
    help: `negative prompt; colorizing, "${COLORIZATION_NEGATIVE_PROMPT}" unless given`, page: { at: 'more', label: 'Negative prompt' },
  },
  processSize: {
    flag: 'process-size', kind: 'number', int: true, min: 8, max: 16384, default: 768, doors: ALL, help: 'shorter side the network runs at least at',
    page: { at: 'more', label: 'Process size', step: 8 },
  },
  scheduler: {
    flag: 'scheduler', arg: 'NAME', kind: 'choice', choices: [...SCHEDULER_CHOICES.keys()], default: SCHEDULER_CHOICES.keys().next().value!, doors: ALL,
    help: 'sampler', page: { at: 'more', label: 'Scheduler' },
  },
  highLevelInfo: {
    flag: 'high-level-info', arg: 'KIND', kind: 'choice', choices: HIGH_LEVEL_INFO, default: 'none', doors: CLI_AND_SERVER,
    help: 'describe the input for the prompt (the original\'s rules): caption (needs --captioner), detection (--detector), classification (--classifier); default: the kind whose model is given, else none',
    page: { at: 'more', label: 'High-level info' },
  },
  initLatentWithNoise: {
    flag: 'init-noise', kind: 'boolean', default: false, doors: CLI_AND_SERVER, help: 'start from pure noise instead of the LR image (= --init noise)',
    named: {
      flag: 'init', names: { lr: false, noise: true }, doors: ['upscale'],
      help: 'where the latents start: the LR image\'s latents noised (SD1.5 PASD\'s default) or pure noise (PASD-SDXL\'s default: its original never encodes the LR image)',
    },
  },
  latentTileSize: {
    flag: 'tile-size', kind: 'number', int: true, min: 8, max: 1024, auto: true, default: 'auto', doors: ALL,
    help: `latent tile size; auto: on the CPU, the fastest by the measured cost model (the whole latent up to ~104², tiles of 64–72 above), elsewhere the original's ${ORIGINAL_TILE_SIZE}; a number tiles as the original`,
  },
  latentTileOverlap: { flag: 'tile-overlap', kind: 'number', int: true, min: 0, max: 1023, default: 8, doors: CLI_AND_SERVER, help: 'latent tile overlap, below the tile size' },
  colorize: {
    flag: 'colorize', kind: 'boolean', default: false, doors: CLI_AND_SERVER,
    help: 'colorize instead of upscaling: the input\'s grey luma is kept, the output has the input\'s size; no colour fix, no added prompt',
  },
  samples: { flag: 'samples', kind: 'number', int: true, min: 1, max: 64, default: 1, doors: ALL, help: 'average N samples, not in the original: less noise, less detail' },
  strength: {
    flag: 'strength', kind: 'number', min: 0.01, max: 1, default: 1, doors: ALL,
    help: 'img2img start, not in the original: denoise only the last steps·X timesteps, from the LR latents noised to the first of them, without added noise',
  },
};

export const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];

/** The doors' flag naming the model folder of each kind of `highLevelInfo` (the model is the door's, not the run's). */
export const HIGH_LEVEL_MODEL_FLAGS = { caption: 'captioner', detection: 'detector', classification: 'classifier' } as const;

/** The defaults of every option (the original's). */
export const DEFAULTS: Readonly<RunSettings> = Object.freeze(Object.fromEntries(OPTION_KEYS.map((k) => [k, OPTIONS[k].default])) as unknown as RunSettings);

/** What `pasd upscale` and the server scale by when not colorizing and not told (test_pasd.py's 4; the library's default is 1). */
export const DOOR_SCALE = 4;

/**
 * The doors' defaults on top of the given options: ×`scale` (4, or the model family's scale,
 * e.g. SDXL's 2) unless colorizing or told otherwise.
 */
export function withDoorDefaults<T extends Partial<RunSettings>>(o: T, scale: number = DOOR_SCALE): T {
  return o.upscale !== undefined || o.colorize ? o : { ...o, upscale: scale };
}

/** The server's JSON name of an option: its flag in camelCase. */
export function jsonName(key: OptionKey): string {
  return OPTIONS[key].flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

/** A bad option value: `option` names it, `detail` says what is wrong without the name (doors add their own spelling). */
export class OptionError extends InputError {
  constructor(readonly option: OptionKey, readonly detail: string) {
    super(`${option}: ${detail}`);
  }
}

/**
 * What is wrong with `value` for `spec` (null: nothing). `max` lowers the range's top (the
 * server's caps); `got` is how the value was given, when not as JSON (a command-line string).
 */
export function valueProblem(spec: OptionSpec, value: unknown, { max, got = JSON.stringify(value) }: { max?: number; got?: string } = {}): string | null {
  switch (spec.kind) {
    case 'number': {
      if (spec.auto && value === 'auto') return null;
      const top = Math.min(spec.max, max ?? Infinity);
      const ok = typeof value === 'number' && Number.isFinite(value) && (!spec.int || Number.isInteger(value)) && value >= spec.min && value <= top;
      return ok ? null : `expected ${spec.int ? 'an integer' : 'a number'} in [${spec.min}, ${top}]${spec.auto ? ' or "auto"' : ''}, got ${got}`;
    }
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${got}`;
      return value.length > spec.maxLength ? `longer than ${spec.maxLength} characters` : null;
    case 'boolean':
      return typeof value === 'boolean' ? null : `expected true or false, got ${got}`;
    case 'choice':
      return (spec.choices as readonly unknown[]).includes(value) ? null : `expected one of ${spec.choices.join(', ')}, got ${got}`;
  }
}

/** Denoising steps a run makes: `steps`, or ⌊steps·strength⌋ below strength 1 (diffusers img2img); throws when that is 0. */
export function denoisingSteps(steps: number, strength = 1): number {
  if (!(strength > 0 && strength <= 1)) throw new OptionError('strength', `must be in (0, 1], got ${strength}`);
  const n = Math.min(Math.floor(steps * strength), steps);
  if (n < 1) throw new OptionError('strength', `steps × strength must be at least 1 (got ${steps} × ${strength}); raise the steps or the strength`);
  return n;
}

/** The scheduler configs a pipeline samples with (Real-ISR and colorization), for checking the steps. */
export interface SchedulerConfigs {
  readonly schedulerConfig: unknown;
  readonly colorizationSchedulerConfig: unknown;
}

/**
 * Every option of a run, checked once: each value against the table, then the rules between
 * options (colorization's refusals, tile overlap below the tile, steps × strength, pure-noise
 * start vs strength, and — given the configs — whether the scheduler takes that many steps).
 * Unset options get the defaults: the table's, then `defaults` over them (the model family's,
 * e.g. SDXL's scale, steps, scheduler and tile; given options override both). Throws OptionError
 * naming the option.
 */
export function resolveOptions(options: Partial<RunSettings>, schedulers?: SchedulerConfigs, defaults: Partial<RunSettings> = {}): RunSettings {
  const given = (k: OptionKey) => options[k] !== undefined;
  for (const k of OPTION_KEYS) {
    const problem = given(k) ? valueProblem(OPTIONS[k], options[k]) : null;
    if (problem) throw new OptionError(k, problem);
  }
  const o: RunSettings = { ...DEFAULTS };
  for (const k of OPTION_KEYS) if (defaults[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = defaults[k];
  for (const k of OPTION_KEYS) if (given(k)) (o as unknown as Record<string, unknown>)[k] = options[k];
  if (o.colorize) {
    // The original's grayscale mode has no use for these: refused rather than silently dropped.
    if (!given('upscale')) o.upscale = 1; // a family's default scale is for super-resolution
    if (o.upscale !== 1) throw new OptionError('upscale', `colorization keeps the input size (use 1 or leave it out), got ${o.upscale}`);
    if (given('colorFix') && o.colorFix !== 'none') throw new OptionError('colorFix', `colorization keeps the input luma and takes no colour fix, got '${o.colorFix}'`);
    if (given('addedPrompt')) throw new OptionError('addedPrompt', 'colorization uses the prompt alone: leave it unset');
    o.colorFix = 'none';
    if (!given('negativePrompt')) o.negativePrompt = COLORIZATION_NEGATIVE_PROMPT;
  }
  if (o.latentTileSize !== 'auto' && o.latentTileOverlap >= o.latentTileSize) throw new OptionError('latentTileOverlap', `must be smaller than the tile size ${o.latentTileSize}, got ${o.latentTileOverlap}`);
  denoisingSteps(o.steps, o.strength);
  if (o.initLatentWithNoise && o.strength < 1) throw new OptionError('initLatentWithNoise', 'strength below 1 starts from the LR image; it cannot be combined with a pure-noise start');
  if (schedulers) {
    const sched = createScheduler(SCHEDULER_CHOICES.get(o.scheduler)!, o.colorize ? schedulers.colorizationSchedulerConfig : schedulers.schedulerConfig, () => {});
    try {
      sched.setTimesteps(o.steps);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      throw new OptionError('steps', `${o.steps} steps do not fit the scheduler (${o.scheduler}): ${e.message}`);
    }
  }
  return o;
}
