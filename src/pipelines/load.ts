/**
 * Loading the PASD components from folders: a PASD checkpoint (`unet/`, `controlnet/`) plus
 * an SD1.5 base (`vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`), or each component
 * folder named separately. Weights stay in their files; configs are validated against them
 * (every missing / unexpected / mis-shaped key reported at once).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFolder } from '../checkpoint/folder.ts';
import { parseClipTextConfig } from '../config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../config/unet.ts';
import { parseVaeConfig } from '../config/vae.ts';
import { ConfigError, InputError } from '../core/errors.ts';
import { storedTensor } from '../engine/weights.ts';
import { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../models/clip/clip-text.ts';
import { ControlNetModel } from '../models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../models/unets/pasd-unet.ts';
import type { Module, StoredTensor } from '../nn/module.ts';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import type { DenoisingUNet } from './denoiser.ts';

export interface ComponentPaths {
  unet: string;
  controlnet: string;
  vae: string;
  textEncoder: string;
  tokenizer: string;
  /** Folder with scheduler_config.json; the SD1.5 config when absent. */
  scheduler?: string;
}

export interface PasdComponents {
  unet: DenoisingUNet;
  controlnet: ControlNetModel;
  vae: AutoencoderKL;
  textEncoder: CLIPTextModel;
  tokenizer: ClipTokenizer;
  schedulerConfig: Readonly<Record<string, unknown>>;
}

/** SD1.5's scheduler/scheduler_config.json (what PASD samples with). */
export const SD15_SCHEDULER_CONFIG = Object.freeze({
  _class_name: 'PNDMScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000,
  set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, clip_sample: false, trained_betas: null,
});

/** Component folders of a PASD checkpoint folder + an SD1.5 base folder. */
export function componentPaths(model: string, base: string): ComponentPaths {
  const p: ComponentPaths = {
    unet: join(model, 'unet'), controlnet: join(model, 'controlnet'),
    vae: join(base, 'vae'), textEncoder: join(base, 'text_encoder'), tokenizer: join(base, 'tokenizer'),
  };
  const missing = Object.entries(p).filter(([, dir]) => !existsSync(dir)).map(([k, dir]) => `${k} (${dir})`);
  if (missing.length) throw new InputError(`model folders are missing components: ${missing.join(', ')}; --model needs unet/ and controlnet/, --base needs vae/, text_encoder/ and tokenizer/`);
  const sched = join(base, 'scheduler');
  if (existsSync(join(sched, 'scheduler_config.json'))) p.scheduler = sched;
  return p;
}

function weightsOf(folder: ReturnType<typeof loadModelFolder>): Map<string, StoredTensor> {
  return new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)]));
}

/** Names the model's parameters `<what>.<key>` (unique across models in one graph) and binds its weights. */
function bind<M extends Module>(m: M, folder: ReturnType<typeof loadModelFolder>, what: string): M {
  m.nameTree(what).loadWeights(weightsOf(folder), { what: `${what} (${folder.dir})` });
  return m;
}

export function loadComponents(p: ComponentPaths, warn?: (m: string) => void): PasdComponents {
  const unetF = loadModelFolder(p.unet);
  const ctrlF = loadModelFolder(p.controlnet);
  const vaeF = loadModelFolder(p.vae);
  const teF = loadModelFolder(p.textEncoder);
  if ([...unetF.tensors.keys()].some((k) => k.includes('attn2_plus')))
    throw new ConfigError(`${p.unet}: this is a PASD-light UNet (attn2_plus keys); PASD-light is not wired into the pipeline yet`);
  let schedulerConfig: Record<string, unknown> = { ...SD15_SCHEDULER_CONFIG };
  if (p.scheduler) {
    const file = join(p.scheduler, 'scheduler_config.json');
    try {
      schedulerConfig = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  return {
    unet: bind(new PasdUNet2DConditionModel(parseUNetConfig(unetF.config, `${p.unet}/config.json`, warn)), unetF, 'unet'),
    controlnet: bind(new ControlNetModel(parseControlNetConfig(ctrlF.config, `${p.controlnet}/config.json`, warn)), ctrlF, 'controlnet'),
    vae: bind(new AutoencoderKL(parseVaeConfig(vaeF.config, `${p.vae}/config.json`, warn)), vaeF, 'vae'),
    textEncoder: bind(new CLIPTextModel(parseClipTextConfig(teF.config, `${p.textEncoder}/config.json`, warn)), teF, 'text_encoder'),
    tokenizer: ClipTokenizer.fromFolder(p.tokenizer),
    schedulerConfig,
  };
}
