/**
 * Loading the PASD components from folders: a PASD checkpoint (`unet/`, `controlnet/`) plus
 * an SD1.5 base (`vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`), or each component
 * folder named separately. Weights stay in their files; configs are validated against them
 * (every missing / unexpected / mis-shaped key reported at once).
 * PASD and PASD-light share the ControlNet; the UNet class follows the weights (PASD-light's
 * transformer blocks carry `attn2_plus`), as test_pasd.py's `--use_pasd_light` picks it.
 */
import { platform } from '#platform';
import { loadModelFolder, readModelConfig } from '../checkpoint/folder.ts';
import { parseClipTextConfig } from '../config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../config/unet.ts';
import { ConfigError, InputError } from '../core/errors.ts';
import { storedTensor } from '../engine/weights.ts';
import { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import { type Autoencoder, buildAutoencoder, isPixelShuffleConfig } from '../models/autoencoders/index.ts';
import { CLIPTextModel } from '../models/clip/clip-text.ts';
import { ControlNetModel } from '../models/controlnets/controlnet.ts';
import { PasdLightUNet2DConditionModel } from '../models/pasd_light/unet.ts';
import { PasdUNet2DConditionModel } from '../models/unets/pasd-unet.ts';
import type { Module, StoredTensor } from '../nn/module.ts';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import { type PersonalizeSpec, personalize } from './personalize.ts';
import type { DenoisingUNet } from './denoiser.ts';
import { OPTIONS, OPTION_KEYS, type OptionKey, type RunSettings, valueProblem } from './options.ts';

const { dirname, join } = platform.path;

export interface ComponentPaths {
  unet: string;
  controlnet: string;
  vae: string;
  textEncoder: string;
  tokenizer: string;
  /** Folder with scheduler_config.json; the SD1.5 config when absent. */
  scheduler?: string;
  /** Folder with the colorization model's scheduler_config.json; COLORIZATION_SCHEDULER_CONFIG when absent. */
  colorizationScheduler?: string;
}

export interface LoadOptions {
  /** PASD-light UNet (true), PASD UNet (false); default: PASD-light when the weights have `attn2_plus` keys. */
  light?: boolean;
  warn?: (message: string) => void;
  /** Personalized model (stylization): single-file checkpoint, LoRA or diffusers unet folder. */
  personalize?: PersonalizeSpec;
}

export interface PasdComponents {
  unet: DenoisingUNet;
  controlnet: ControlNetModel;
  /** SD1.5's AutoencoderKL, or the weightless PixelShuffleAutoencoder (vae/ holds only its config.json). */
  vae: Autoencoder;
  textEncoder: CLIPTextModel;
  tokenizer: ClipTokenizer;
  /** Whether `unet` is PASD-light's. */
  light: boolean;
  schedulerConfig: Readonly<Record<string, unknown>>;
  /** The scheduler config colorization samples with. */
  colorizationSchedulerConfig: Readonly<Record<string, unknown>>;
}

/** SD1.5's scheduler/scheduler_config.json (what PASD samples with). */
export const SD15_SCHEDULER_CONFIG = Object.freeze({
  _class_name: 'PNDMScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000,
  set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, clip_sample: false, trained_betas: null,
});

/**
 * What colorization samples with when the checkpoint brings no scheduler: SD1.5's config plus
 * zero terminal SNR and trailing spacing (fixture README `pipeline_colorization`; the PASD
 * repository does not ship the `runs/pasd_color/scheduler` that test_pasd.py reads).
 */
export const COLORIZATION_SCHEDULER_CONFIG = Object.freeze({ ...SD15_SCHEDULER_CONFIG, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' });

const hasSchedulerConfig = (dir: string) => platform.exists(join(dir, 'scheduler_config.json'));

/**
 * Component folders of a PASD checkpoint folder + an SD1.5 base folder. The colorization
 * scheduler is the checkpoint's own `scheduler/`, else the one beside the checkpoint folder
 * (test_pasd.py's grayscale branch reads `<parent of pasd_model_path>/scheduler`).
 */
export function componentPaths(model: string, base: string): ComponentPaths {
  const p: ComponentPaths = {
    unet: join(model, 'unet'), controlnet: join(model, 'controlnet'),
    vae: join(base, 'vae'), textEncoder: join(base, 'text_encoder'), tokenizer: join(base, 'tokenizer'),
  };
  const missing = Object.entries(p).filter(([, dir]) => !platform.exists(dir)).map(([k, dir]) => `${k} (${dir})`);
  if (missing.length) throw new InputError(`model folders are missing components: ${missing.join(', ')}; --model needs unet/ and controlnet/, --base needs vae/, text_encoder/ and tokenizer/`);
  const sched = join(base, 'scheduler');
  if (hasSchedulerConfig(sched)) p.scheduler = sched;
  const color = [join(model, 'scheduler'), join(dirname(model), 'scheduler')].find(hasSchedulerConfig);
  if (color) p.colorizationScheduler = color;
  return p;
}

/** The mini model shipped in the package (models/pasd-mini, see its MODEL_CARD.md). */
const MINI_MODEL = platform.packagePath('models/pasd-mini');

/** Component folders of the shipped mini model: what `pasd upscale` runs without --model/--base. */
export function defaultModelPaths(): ComponentPaths {
  const c = (sub: string) => join(MINI_MODEL, sub);
  return { unet: c('unet'), controlnet: c('controlnet'), vae: c('vae'), textEncoder: c('text_encoder'), tokenizer: c('tokenizer'), scheduler: c('scheduler') };
}

/**
 * Options the mini model was trained for (its `defaults.json`: smaller process size, no CFG, …;
 * any run option by its library name, checked against the option table); explicit options override them.
 */
export function defaultModelOptions(): Partial<RunSettings> {
  const file = join(MINI_MODEL, 'defaults.json');
  const raw = JSON.parse(platform.readText(file)) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('_')) continue;
    if (!(OPTION_KEYS as string[]).includes(k)) throw new ConfigError(`${file}: unknown option ${k}; known: ${OPTION_KEYS.join(', ')}`);
    const problem = valueProblem(OPTIONS[k as OptionKey], v);
    if (problem) throw new ConfigError(`${file}: ${k}: ${problem}`);
    out[k] = v;
  }
  return out as Partial<RunSettings>;
}

function weightsOf(folder: ReturnType<typeof loadModelFolder>): Map<string, StoredTensor> {
  return new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
}

/** Names the model's parameters `<what>.<key>` (unique across models in one graph) and binds its weights. */
function bind<M extends Module>(m: M, weights: ReadonlyMap<string, StoredTensor>, what: string, where: string): M {
  m.nameTree(what).loadWeights(weights, { what: `${what} (${where})` });
  return m;
}

function readSchedulerConfig(dir: string | undefined, fallback: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (!dir) return { ...fallback };
  const file = join(dir, 'scheduler_config.json');
  try {
    return JSON.parse(platform.readText(file));
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** The scheduler configs a model samples with (Real-ISR and colorization), read without loading any weights. */
export function schedulerConfigs(p: ComponentPaths): Pick<PasdComponents, 'schedulerConfig' | 'colorizationSchedulerConfig'> {
  return {
    schedulerConfig: readSchedulerConfig(p.scheduler, SD15_SCHEDULER_CONFIG),
    colorizationSchedulerConfig: readSchedulerConfig(p.colorizationScheduler, COLORIZATION_SCHEDULER_CONFIG),
  };
}

/** Whether UNet weights are PASD-light's: its pixel-aware transformer blocks carry `attn2_plus`. */
export function isLightUNet(keys: Iterable<string>): boolean {
  for (const k of keys) if (k.includes('.attn2_plus.')) return true;
  return false;
}

export function loadComponents(p: ComponentPaths, options: LoadOptions = {}): PasdComponents {
  const { warn } = options;
  const unetF = loadModelFolder(p.unet);
  const ctrlF = loadModelFolder(p.controlnet);
  const vaeRaw = readModelConfig(p.vae);
  const vaeF = isPixelShuffleConfig(vaeRaw) ? null : loadModelFolder(p.vae);
  const teF = loadModelFolder(p.textEncoder);
  // An explicit choice that contradicts the weights fails in loadWeights, naming the keys.
  const light = options.light ?? isLightUNet(unetF.tensors.keys());
  const unetConfig = parseUNetConfig(unetF.config, `${p.unet}/config.json`, warn);
  const vae = buildAutoencoder(vaeRaw, `${p.vae}/config.json`, warn);
  let weights = { unet: weightsOf(unetF), vae: vaeF ? weightsOf(vaeF) : new Map<string, StoredTensor>(), textEncoder: weightsOf(teF) };
  const spec = options.personalize;
  if (spec && (spec.singleFile || spec.lora || spec.unetFolder)) {
    const w = personalize({ unet: { weights: weights.unet, layout: unetConfig }, vae: vae instanceof AutoencoderKL ? { weights: weights.vae, layout: vae.config } : null, textEncoder: { weights: weights.textEncoder } }, spec);
    weights = { unet: w.unet, vae: w.vae ?? weights.vae, textEncoder: w.textEncoder ?? weights.textEncoder };
  }
  return {
    unet: bind(light ? new PasdLightUNet2DConditionModel(unetConfig) : new PasdUNet2DConditionModel(unetConfig), weights.unet, 'unet', p.unet),
    controlnet: bind(new ControlNetModel(parseControlNetConfig(ctrlF.config, `${p.controlnet}/config.json`, warn)), weightsOf(ctrlF), 'controlnet', p.controlnet),
    vae: bind(vae, weights.vae, 'vae', p.vae),
    textEncoder: bind(new CLIPTextModel(parseClipTextConfig(teF.config, `${p.textEncoder}/config.json`, warn)), weights.textEncoder, 'text_encoder', p.textEncoder),
    tokenizer: ClipTokenizer.fromFolder(p.tokenizer),
    light,
    ...schedulerConfigs(p),
  };
}
