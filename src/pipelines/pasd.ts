/**
 * The PASD pipeline (yangxy/PASD `pipeline_pasd.py` + `test_pasd.py`): prompts → CLIP,
 * LR image → VAE latents noised to the first timestep plus `added_noise_level`, the CFG
 * denoising loop over ControlNet + UNet (tiled for large latents), VAE decode, wavelet
 * colour fix and the resize back to input × upscale. PASD and PASD-light run alike (the UNet
 * class follows the weights); `colorize` is test_pasd.py's grayscale mode (./colorize.ts).
 */
import { ConfigError, InputError, NumericError } from '../core/errors.ts';
import { type RandomSource, Random } from '../core/random.ts';
import { colorFix } from '../image/colorfix.ts';
import { type Image, asRgb, fromTensor, toTensor } from '../image/image.ts';
import { resize, torchvisionResize } from '../image/resample.ts';
import { samplePosterior } from '../models/autoencoders/autoencoder-kl.ts';
import type { HostTensor, Provider } from '../runtime/session.ts';
import { SCHEDULER_CHOICES, type Scheduler, type SchedulerChoice, createScheduler } from '../schedulers/index.ts';
import type { CompileOptions } from '../engine/compile.ts';
import { colorizationPrompt, grayInput, mergeColorization } from './colorize.ts';
import { Denoiser } from './denoiser.ts';
import { familyOf, familyOfUNetFolder, modelPaths } from './families/index.ts';
import type { ModelFamily, PromptConditioning, TextConditioner } from './families/types.ts';
import type { ComponentPaths, LoadOptions, PasdComponents } from './load.ts';
import { DEFAULTS, ORIGINAL_TILE_SIZE, OptionError, type RunSettings, denoisingSteps, resolveOptions } from './options.ts';
import { type ProcessingSizes, processingSizes } from './sizes.ts';
import { type Description, type PromptProvider, validationPrompt } from '../prompts/provider.ts';
import { type Tile, autoTileSize } from './tiles.ts';
import type { TiledVaeOptions } from './tiled-vae.ts';
import { type VaeStage, vaeStage } from './vae-stage.ts';

export interface Progress {
  phase: 'encode' | 'denoise' | 'decode' | 'done';
  step: number;
  steps: number;
  tile: number;
  tiles: number;
}

/**
 * Options of one run: any of RunSettings (./options.ts: ranges, defaults — the original's, from
 * test_pasd.py — and help), plus what only a library caller can pass.
 */
export interface UpscaleOptions extends Partial<RunSettings> {
  /** High-level information (src/prompts): describes the input (a caption, its objects, its ImageNet class) for the prompt. */
  promptProvider?: PromptProvider;
  /** Called once with the prompt the text encoder gets (after the high-level information and the added prompt). */
  onPrompt?: (prompt: string) => void;
  /** Overrides `seed`: where every random draw comes from. */
  random?: RandomSource;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** What the denoising loop reads of the options (`strength` 1 when absent). */
export type DenoiseSettings = Pick<RunSettings, 'steps' | 'guidanceScale' | 'conditioningScale' | 'addedNoiseLevel' | 'initLatentWithNoise' | 'latentTileSize' | 'latentTileOverlap'>
  & Partial<Pick<RunSettings, 'strength'>>;

/**
 * What repeated runs on one image, prompt and guidance share (`samples` > 1): the prompt
 * embeddings and the VAE posterior, computed by the first run and reused by the next.
 */
export interface RunCache {
  text?: PromptConditioning;
  posterior?: { mean: Float32Array; logvar: Float32Array };
}

/** What one call of `run` is given besides the image and settings: its own, never kept on the pipeline. */
export interface RunContext {
  scheduler?: SchedulerChoice;
  colorization?: boolean;
  random: RandomSource;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  cache?: RunCache;
}

/** The timesteps a run steps through: the schedule's last `denoisingSteps(…)`, with the scheduler's begin index set to the first. */
function startSchedule(sched: Scheduler, s: DenoiseSettings): readonly number[] {
  const start = sched.timesteps.length - denoisingSteps(sched.timesteps.length, s.strength);
  if (start > 0) sched.setBeginIndex?.(start);
  return sched.timesteps.slice(start);
}

/** Throws when the network's output holds NaN or ±Infinity (broken weights, an fp16 overflow) instead of writing a garbage image. */
function checkFinite(out: Float32Array): void {
  let bad = 0;
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) bad++;
  if (bad) throw new NumericError(`the network's output holds ${bad} NaN or infinite values of ${out.length}; the weights may hold NaN/Inf (check the checkpoint files) or half precision overflowed (try --precision fp32)`);
}

/** test_pasd.py: `get_validation_prompt` (the user prompt and the high-level description by its kind's rule) + added prompt. */
export function buildPrompt(prompt: string, added: string, description: Description | null = null): string {
  return validationPrompt(prompt, description) + added;
}

/**
 * test_pasd.py's preprocessing: the image the network runs on (sizes.ts rules, PIL resizes)
 * and the source it came from (the grey input when colorizing).
 */
export function networkInput(input: Image, o: { upscale: number; processSize: number; colorize: boolean; multiple?: number }): { source: Image; image: Image; sizes: ProcessingSizes } {
  const source = o.colorize ? grayInput(input) : input;
  const sizes = processingSizes(input.width, input.height, { upscale: o.upscale, processSize: o.processSize, colorization: o.colorize, multiple: o.multiple });
  let img = resize(source, sizes.upscaled[0], sizes.upscaled[1], 'bicubic');
  if (sizes.preprocessed) img = torchvisionResize(img, o.processSize, o.colorize ? { maxSize: 2 * o.processSize } : {});
  return { source, image: resize(img, sizes.network[0], sizes.network[1], 'bicubic'), sizes };
}

export class PasdPipeline {
  /** The model family (./families): SD1.5 or SDXL, from the UNet's config. */
  readonly family: ModelFamily;
  readonly text: TextConditioner;
  readonly vae: VaeStage;
  readonly denoiser: Denoiser;
  /** Where the denoiser runs: `latentTileSize: 'auto'` follows a cost model measured on the CPU. */
  private readonly provider: Provider;

  /**
   * `vae`: tile sizes and memory budget of the (exact) tiled VAE (AutoencoderKL only).
   * `options.precision` applies to the denoiser (nearly all of the compute). The text encoder
   * (once per image) and the VAE stay float32: the VAE decoder scales latents by
   * 1/scaling_factor and its activations leave float16's range (±65504) for large latents
   * (the colorization fixture's decode is all NaN in fp16).
   */
  constructor(readonly components: PasdComponents, options: CompileOptions = {}, vae: TiledVaeOptions = {}) {
    const fp32 = { ...options, precision: 'fp32' as const };
    this.family = familyOf(components.unet.config);
    this.text = this.family.textConditioner(components, fp32);
    this.vae = vaeStage(components.vae, { ...fp32, ...vae });
    this.denoiser = new Denoiser(components.unet, components.controlnet, options, this.family.denoiserConditioning(components));
    this.provider = options.provider ?? 'cpu';
    const f = components.vae.factor;
    if (f !== this.denoiser.factor)
      throw new ConfigError(`the VAE downsamples by ${f} but the ControlNet's degradation removal module by ${this.denoiser.factor}; they must agree (vae block_out_channels or factor vs controlnet conditioning_embedding_out_channels)`);
  }

  /** Image pixels per latent pixel (8 for SD1.5). */
  get factor(): number {
    return this.denoiser.factor;
  }

  /** From a PASD, PASD-light or PASD-SDXL checkpoint folder (unet/, controlnet/, optional scheduler/) and its base folder (SD1.5 / SDXL). */
  static fromPretrained(model: string, base: string, options: CompileOptions & LoadOptions & { vae?: TiledVaeOptions } = {}): PasdPipeline {
    return PasdPipeline.fromFolders(modelPaths(model, base), options);
  }

  static fromFolders(paths: ComponentPaths, options: CompileOptions & LoadOptions & { vae?: TiledVaeOptions } = {}): PasdPipeline {
    const { light, warn, personalize, vae, ...compile } = options;
    return new PasdPipeline(familyOfUNetFolder(paths.unet).load(paths, { light, warn, personalize }), compile, vae);
  }

  /** A fresh scheduler of the chosen class, from the Real-ISR or the colorization config. */
  scheduler(choice: SchedulerChoice = DEFAULTS.scheduler, colorization = false): Scheduler {
    const c = this.components;
    return createScheduler(SCHEDULER_CHOICES.get(choice)!, colorization ? c.colorizationSchedulerConfig : c.schedulerConfig);
  }

  /**
   * Every option checked and defaulted once (./options.ts), including whether the scheduler takes
   * the steps and whether the high-level information asked for has its model (`highLevelInfo`
   * defaults to the given provider's kind): nothing fails later per image.
   */
  resolveOptions(options: UpscaleOptions): RunSettings {
    const provider = options.promptProvider;
    const o = resolveOptions({ ...options, highLevelInfo: options.highLevelInfo ?? provider?.kind }, this.components, this.family.defaults);
    if (o.highLevelInfo !== 'none' && provider?.kind !== o.highLevelInfo)
      throw new OptionError('highLevelInfo', `${o.highLevelInfo} needs a ${o.highLevelInfo} model${provider ? `, the model given is a ${provider.kind} model` : ', none was given'}`);
    return o;
  }

  /** Prompt embeddings (and the family's text feeds) for CFG: [negative, positive] (pipeline order), or [positive]. */
  async encodePrompt(prompt: string, negative: string, cfg: boolean): Promise<PromptConditioning> {
    return this.text.condition(prompt, negative, cfg);
  }

  /**
   * prepare_latents: from the LR image (VAE sample → noise at the first timestep `t0` → noise at
   * `addedNoiseLevel`, the latter skipped below strength 1) or pure noise; × init_noise_sigma.
   * Draws, in order: posterior noise, noise, added noise (or: latents, offset noise).
   */
  async prepareLatents(image: Float32Array, shape: readonly number[], sched: Scheduler, t0: number, s: DenoiseSettings, rnd: RandomSource, cache: RunCache = {}): Promise<{ latents: Float32Array; shape: [number, number, number, number] }> {
    const [, , hh, ww] = shape;
    const f = this.factor;
    const lshape: [number, number, number, number] = [1, this.components.vae.config.latentChannels, hh / f, ww / f];
    const n = lshape.reduce((a, b) => a * b, 1);
    let latents: Float32Array;
    const img2img = (s.strength ?? 1) < 1;
    if (s.initLatentWithNoise) {
      latents = rnd.randn(n);
      if (this.family.offsetNoiseDraw) rnd.randn(4); // the original's offset noise, drawn then scaled by 0
    } else {
      const post = cache.posterior ??= await this.vae.encode(image, shape);
      const sample = samplePosterior(post.mean, post.logvar, rnd.randn(post.mean.length));
      const init = sample.map((v) => Math.fround(v * this.vae.scalingFactor));
      const noised = sched.addNoise(init, rnd.randn(n), t0);
      // A family whose original never starts from the LR image (PASD-SDXL): the LR latents noised to t0 as they are.
      if (this.family.lrStart === 'first-step') return { latents: noised, shape: lshape };
      latents = img2img ? noised : sched.addNoise(noised, rnd.randn(n), s.addedNoiseLevel);
    }
    const sigma = sched.initNoiseSigma;
    return { latents: sigma === 1 ? latents : latents.map((v) => v * sigma), shape: lshape };
  }

  /**
   * Guided noise prediction for one step (CFG: u + g·(c − u)). `hooks.onTileOutput` sees each
   * tile's raw UNet input and output (Denoiser.runTiled), for parity checks.
   */
  async predictNoise(latents: Float32Array, shape: readonly [number, number, number, number], t: number, sched: Scheduler,
    embeds: HostTensor, control: Float32Array, s: DenoiseSettings,
    hooks: { onTile?: (i: number, n: number) => void; onTileOutput?: (tile: Tile, input: Float32Array, out: Float32Array) => void; signal?: AbortSignal;
      /** The run's control-image crops (Denoiser.runTiled). */
      controlCrops?: Map<string, Float32Array>;
      /** The family's extra denoiser feeds (PromptConditioning.added + DenoiserConditioning.imageFeeds). */
      added?: Readonly<Record<string, HostTensor>> } = {}): Promise<Float32Array> {
    const cfg = embeds.shape[0] === 2;
    const n = latents.length;
    const input = new Float32Array(cfg ? 2 * n : n);
    input.set(latents);
    if (cfg) input.set(latents, n);
    const scaled = sched.scaleModelInput(input, t);
    const [, c, h, w] = shape;
    const out = await this.denoiser.runTiled(
      { latents: scaled, shape: [cfg ? 2 : 1, c, h, w], timestep: t, embeds, image: control, conditioningScale: s.conditioningScale, controlCrops: hooks.controlCrops, added: hooks.added },
      { tileSize: this.tileSize(s, h, w), overlap: s.latentTileOverlap, onTile: hooks.onTile, signal: hooks.signal },
      hooks.onTileOutput,
    );
    if (!cfg) return out;
    const guided = new Float32Array(n);
    for (let i = 0; i < n; i++) guided[i] = out[i] + s.guidanceScale * (out[n + i] - out[i]);
    return guided;
  }

  /**
   * The latent tile side for an h × w latent: the one asked for, or for 'auto' the measured cost
   * model's choice on the CPU (./tiles.ts) and, on GPU providers (not measured there), the original's.
   */
  private tileSize(s: DenoiseSettings, h: number, w: number): number {
    if (s.latentTileSize !== 'auto') return s.latentTileSize;
    return this.provider === 'cpu' ? autoTileSize(h, w, s.latentTileOverlap) : ORIGINAL_TILE_SIZE;
  }

  /** The family's extra denoiser feeds for a prompt conditioning and an H×W control image. */
  denoiserFeeds(text: PromptConditioning, height: number, width: number): Readonly<Record<string, HostTensor>> {
    return { ...text.added, ...this.denoiser.conditioning?.imageFeeds(height, width, text.embeds.shape[0]) };
  }

  /** Runs the network on an image already at its network size (multiples of the VAE factor): the pipeline's __call__. */
  async run(image: Image, prompt: string, negative: string, s: DenoiseSettings, o: RunContext): Promise<Float32Array> {
    const { width: W, height: H } = image;
    if (W % this.factor || H % this.factor) throw new InputError(`PASD runs on sizes that are multiples of ${this.factor}, got ${W}×${H}`);
    const sched = this.scheduler(o.scheduler, o.colorization);
    sched.setTimesteps(s.steps);
    const timesteps = startSchedule(sched, s);
    const report = (p: Partial<Progress> & Pick<Progress, 'phase'>) => o.onProgress?.({ step: 0, steps: timesteps.length, tile: 0, tiles: 0, ...p });
    const cfg = s.guidanceScale > 1;
    report({ phase: 'encode' });
    const cache = o.cache ?? {};
    const text = cache.text ??= await this.encodePrompt(prompt, negative, cfg);
    const embeds = text.embeds;
    const added = this.denoiserFeeds(text, H, W);
    const tensor = toTensor(image);
    const { latents: init, shape } = await this.prepareLatents(tensor.data, tensor.shape, sched, timesteps[0], s, o.random, cache);
    const control = new Float32Array(cfg ? 2 * tensor.data.length : tensor.data.length);
    control.set(tensor.data);
    if (cfg) control.set(tensor.data, tensor.data.length);
    // The control image is the same every step: its tile crops are made once for this run.
    const controlCrops = new Map<string, Float32Array>();
    let latents = init;
    for (const [i, t] of timesteps.entries()) {
      o.signal?.throwIfAborted();
      const noise = await this.predictNoise(latents, shape, t, sched, embeds, control, s, {
        signal: o.signal, controlCrops, added, onTile: (tile, tiles) => report({ phase: 'denoise', step: i + 1, tile, tiles }),
      });
      latents = sched.step(noise, t, latents, { generator: o.random }).prevSample;
    }
    report({ phase: 'decode', step: timesteps.length });
    const { image: out } = await this.vae.decode(latents, shape);
    return out;
  }

  /**
   * The mean of `settings.samples` runs (one run: the original). The random stream continues
   * from one run to the next; the prompt and the posterior are encoded once (RunCache).
   */
  async meanOfSamples(image: Image, prompt: string, negative: string, settings: RunSettings, o: Omit<RunContext, 'cache' | 'scheduler' | 'colorization'>): Promise<Float32Array> {
    const n = settings.samples;
    const steps = denoisingSteps(settings.steps, settings.strength);
    const cache: RunCache = {};
    const sample = (k: number) => this.run(image, prompt, negative, settings, {
      scheduler: settings.scheduler, colorization: settings.colorize, random: o.random, signal: o.signal, cache,
      onProgress: o.onProgress && sampleProgress(k, n, steps, o.onProgress),
    });
    const out = await sample(0);
    for (let k = 1; k < n; k++) {
      const more = await sample(k);
      for (let i = 0; i < out.length; i++) out[i] += more[i];
    }
    if (n > 1) for (let i = 0; i < out.length; i++) out[i] /= n;
    return out;
  }

  /** The main job: LR photo → restored image of size input × upscale (or, colorizing, the input recoloured). */
  async upscale(input: Image, options: UpscaleOptions = {}): Promise<Image> {
    asRgb(input, 'input image');
    const o = this.resolveOptions(options);
    const { source, image: img, sizes } = networkInput(input, { ...o, multiple: this.factor });
    // The original describes the image as opened (grey when colorizing), before any resize.
    const description = o.highLevelInfo === 'none' ? null : await options.promptProvider!.describe(source);
    const prompt = o.colorize ? colorizationPrompt(o.prompt, description) : buildPrompt(o.prompt, o.addedPrompt, description);
    options.onPrompt?.(prompt);
    const random = options.random ?? new Random(o.seed);
    const out = await this.meanOfSamples(img, prompt, o.negativePrompt, o, { random, signal: options.signal, onProgress: options.onProgress });
    checkFinite(out);
    const generated = fromTensor({ data: out, shape: [1, 3, img.height, img.width] }, 'round');
    let result: Image;
    if (o.colorize) result = mergeColorization(source, generated);
    else {
      result = colorFix(o.colorFix, generated, img);
      if (result.width !== sizes.output[0] || result.height !== sizes.output[1]) result = resize(result, sizes.output[0], sizes.output[1], 'bicubic');
    }
    const total = o.samples * denoisingSteps(o.steps, o.strength);
    options.onProgress?.({ phase: 'done', step: total, steps: total, tile: 0, tiles: 0 });
    return result;
  }

  async release(): Promise<void> {
    await this.text.release();
    await this.vae.release();
    await this.denoiser.release();
  }
}

/**
 * Sample `k` of `n`'s progress as part of one bar over all of them: its denoising steps count
 * after the earlier samples'; only the first sample's encode and the last one's decode show.
 */
function sampleProgress(k: number, n: number, steps: number, report: (p: Progress) => void): (p: Progress) => void {
  return (p) => {
    if (p.phase === 'denoise' || (p.phase === 'encode' && k === 0) || (p.phase === 'decode' && k === n - 1))
      report({ ...p, step: k * steps + p.step, steps: n * steps });
  };
}
