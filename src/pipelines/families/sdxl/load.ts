/**
 * PASD-SDXL components: the checkpoint's `unet/`, `controlnet/` (PASD's classes with SDXL
 * configs) and optional `scheduler/`, the SDXL base's `vae/`, `text_encoder/`, `tokenizer/`,
 * `text_encoder_2/` (CLIPTextModelWithProjection), `tokenizer_2/` and optional `scheduler/`
 * (test_pasd_sdxl.py reads the checkpoint's scheduler; we fall back to the base's, then to
 * SDXL base 1.0's EulerDiscreteScheduler config).
 */
import { platform } from '#platform';
import { loadModelFolder } from '../../../checkpoint/folder.ts';
import { parseClipTextConfig } from '../../../config/clip.ts';
import { ConfigError, InputError, UnsupportedError } from '../../../core/errors.ts';
import { storedTensors } from '../../../engine/weights.ts';
import { CLIPTextModelWithProjection } from '../../../models/clip/clip-text-projection.ts';
import { ClipTokenizer, padTokenOf } from '../../../tokenizer/clip_tokenizer.ts';
import { type ComponentPaths, type LoadOptions, type PasdComponents, loadComponents } from '../../load.ts';

const { join } = platform.path;

export interface SdxlPaths extends ComponentPaths {
  textEncoder2: string;
  /** SDXL's tokenizer_2 folder; a folder with only its configs borrows vocab.json / merges.txt from `tokenizer` (they are identical in SDXL). */
  tokenizer2: string;
}

export interface SdxlComponents extends PasdComponents {
  textEncoder2: CLIPTextModelWithProjection;
  tokenizer2: ClipTokenizer;
}

/** SDXL base 1.0's scheduler/scheduler_config.json (what the fixture and the original sample with). */
export const SDXL_SCHEDULER_CONFIG = Object.freeze({
  _class_name: 'EulerDiscreteScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000,
  interpolation_type: 'linear', prediction_type: 'epsilon', sample_max_value: 1.0, set_alpha_to_one: false, skip_prk_steps: true,
  steps_offset: 1, timestep_spacing: 'leading', trained_betas: null, use_karras_sigmas: false, clip_sample: false,
});

const hasScheduler = (dir: string) => platform.exists(join(dir, 'scheduler_config.json'));

export function sdxlComponentPaths(model: string, base: string): SdxlPaths {
  const p: SdxlPaths = {
    unet: join(model, 'unet'), controlnet: join(model, 'controlnet'),
    vae: join(base, 'vae'), textEncoder: join(base, 'text_encoder'), tokenizer: join(base, 'tokenizer'),
    textEncoder2: join(base, 'text_encoder_2'), tokenizer2: join(base, 'tokenizer_2'),
  };
  const missing = Object.entries(p).filter(([, dir]) => !platform.exists(dir)).map(([k, dir]) => `${k} (${dir})`);
  if (missing.length) throw new InputError(`PASD-SDXL model folders are missing components: ${missing.join(', ')}; --model needs unet/ and controlnet/, --base (SDXL base) needs vae/, text_encoder/, tokenizer/, text_encoder_2/ and tokenizer_2/`);
  const sched = [join(model, 'scheduler'), join(base, 'scheduler')].find(hasScheduler);
  if (sched) p.scheduler = sched;
  return p;
}

function isSdxlPaths(p: ComponentPaths): p is SdxlPaths {
  return typeof (p as SdxlPaths).textEncoder2 === 'string' && typeof (p as SdxlPaths).tokenizer2 === 'string';
}

export function loadSdxlComponents(p: ComponentPaths, options: LoadOptions): SdxlComponents {
  if (!isSdxlPaths(p)) throw new InputError(`${p.unet}: an SDXL UNet (addition_embed_type "text_time") needs text_encoder_2 and tokenizer_2 folders besides ${p.textEncoder}`);
  const spec = options.personalize;
  if (spec && (spec.singleFile || spec.lora || spec.unetFolder))
    throw new UnsupportedError('personalized models are not supported for PASD-SDXL (the original passes an undefined text_encoder there and fails)');
  const c = loadComponents(p, { ...options, personalize: undefined });
  if (c.light) throw new ConfigError(`${p.unet}: PASD-light SDXL UNets are not supported`);
  const te2 = loadModelFolder(p.textEncoder2);
  const textEncoder2 = new CLIPTextModelWithProjection(parseClipTextConfig(te2.config, `${p.textEncoder2}/config.json`, options.warn)).nameTree('text_encoder_2');
  textEncoder2.loadWeights(storedTensors(...te2.weightFiles), { what: `text_encoder_2 (${p.textEncoder2})` });
  const ownVocab = platform.exists(join(p.tokenizer2, 'vocab.json'));
  const tokenizer2 = ClipTokenizer.fromFolder(ownVocab ? p.tokenizer2 : p.tokenizer, { padToken: padTokenOf(p.tokenizer2) });
  return { ...c, schedulerConfig: p.scheduler ? c.schedulerConfig : { ...SDXL_SCHEDULER_CONFIG }, textEncoder2, tokenizer2 };
}
