/**
 * `pasd upscale <files|dirs> -o DIR [options]`: the main job. Every image is processed in
 * turn; one failing image is reported and the rest go on. Outputs keep the input's base
 * name (`name.png` by default) and are written atomically.
 */
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, InputError, PasdError } from '../core/errors.ts';
import { readImage, readImageSize, writeImage } from '../image/codec-node.ts';
import { resize } from '../image/resample.ts';
import type { TiledVaeOptions } from '../pipelines/tiled-vae.ts';
import { defaultModelOptions, defaultModelPaths } from '../pipelines/load.ts';
import { DEFAULTS, PasdPipeline, type SchedulerChoice, type UpscaleOptions, checkRunOptions } from '../pipelines/pasd.ts';
import { DEFAULT_MAX_WORK_PIXELS, workSizeProblem } from '../pipelines/sizes.ts';
import { type PersonalizeSpec, classifyPersonalizedModel } from '../pipelines/personalize.ts';
import { loadClassifier } from '../prompts/classifier-node.ts';
import type { PromptProvider } from '../prompts/provider.ts';
import { MAX_THREADS, RUNTIME_ARGS, SEED_RANGE, THREADS_RANGE, UsageError, choice, inputFiles, num, outputPaths, probeGpuOrExit, runtimeChoiceOf, runtimeUsage } from './args.ts';
import { ProgressBar } from './progress.ts';
import { upscaleRemote } from './remote.ts';

export const UPSCALE_USAGE = `usage: pasd upscale <images or folders...> -o <dir> [--model <pasd-dir> --base <base-dir>] [options]

models (default: the bundled mini model, models/pasd-mini, with the defaults of its defaults.json):
  --model DIR            PASD, PASD-light or PASD-SDXL checkpoint folder with unet/ and controlnet/ (diffusers
                         layout, .safetensors or .bin; PASD-light is recognised from its weights, PASD-SDXL
                         from its UNet config: addition_embed_type "text_time")
  --base DIR             its base: Stable Diffusion 1.5 with vae/, text_encoder/, tokenizer/, or SDXL base 1.0
                         with also text_encoder_2/, tokenizer_2/ (scheduler/ optional). PASD-SDXL's defaults are
                         test_pasd_sdxl.py's: scale 2, process size 1280, 25 Euler steps, cfg 7, conditioning
                         0.8, its added and negative prompts, start from pure noise (see --init)
  --personalized PATH    stylization: a single-file SD1.5 checkpoint (.safetensors/.ckpt, LDM keys),
                         a LoRA (.safetensors, kohya or diffusers) or a diffusers unet/ folder
  --blending-alpha X     single file: UNet = file·X + PASD·(1−X) (default 1.0)
  --multiplier X         LoRA strength (default 0.6)
  --lora-alpha-compat M  kohya (default: scale by alpha/rank) | original (PASD's merge, ignores alpha)
options:
  -o, --output DIR       output folder (created if missing); inputs that would write one output, or an output
                         that is an input, are refused before any work
  --server URL           send the images to a running "pasd serve" (http://host:port) instead of running
                         the models here: its workers upscale them (with --queue, in parallel), results come
                         back as PNGs; outputs that exist are skipped, so running again resumes. The model
                         options (--model, --personalized, --classifier, --threads, ...) are the server's
  --token T              with --server: its token (default: $PASD_TOKEN)
  -s, --scale N          upscale factor (default 4; PASD-SDXL 2; colorization: 1)
  --colorize             colorize instead of upscaling (same as --control-type grayscale): the input's grey
                         luma is kept, the output has the input's size; no colour fix, no added prompt; the
                         negative prompt defaults to "b&w, color bleeding"; the scheduler config is --model's
                         scheduler/ (or the one beside --model), else SD1.5's with zero terminal SNR + trailing
  --control-type TYPE    realisr | grayscale (default realisr), as in the original's test_pasd.py
  -p, --prompt TEXT      prompt describing the image (default empty)
  --added-prompt TEXT    appended to the prompt (default "clean, high-resolution, 8k")
  --high-level-info M    none | classification (default: classification with --classifier, else none): the
                         classifier's top class joins the prompt when its probability is ≥ 0.1
  --classifier DIR       local ONNX image classifier: model.onnx, labels.txt, optional preprocess.json
                         (e.g. an ImageNet ResNet-50 export as in the original; see README)
  -n, --negative-prompt TEXT
  --steps N              denoising steps (default 20)
  --cfg X                classifier-free guidance scale (default 9.0)
  --conditioning-scale X ControlNet strength (default 1.0)
  --added-noise-level N  extra noise on the LR latents, 0–999 (default 900)
  --init-noise           start from pure noise instead of the LR image (= --init noise)
  --init lr|noise        where the latents start: the LR image's latents noised (SD1.5 PASD's default) or pure
                         noise (PASD-SDXL's default: its original never encodes the LR image)
  --process-size N       shorter side the network runs at least at (default 768)
  --tile-size N          latent tile size (default 320) --tile-overlap N (default 8)
  --color-fix MODE       wavelet | adain | none (default wavelet)
  --scheduler NAME       unipc | ddim | dpmsolver | euler | lcm | ddpm (default unipc)
  --samples N            average N samples (not in the original; less noise, less detail; default 1)
  --strength X           img2img start (not in the original): denoise only the last steps·X timesteps, from the
                         LR latents noised to the first of them, without added noise (default 1: the original)
  --seed N               random seed (default 0)
  --threads N            CPU threads (default: all cores; at most ${MAX_THREADS})
${runtimeUsage(25)}
  --max-pixels N         refuse larger inputs (default 67108864)
  --max-work-pixels N    refuse inputs the network would run at more pixels than this (default ${DEFAULT_MAX_WORK_PIXELS},
                         ≈3.5 GB), checked from the headers before the models load
  --vae-encoder-tile N   tiled VAE: encoder tile side in image pixels (default 512)
  --vae-decoder-tile N   tiled VAE: decoder tile side in latent pixels (default 64)
  --vae-memory MiB       tiled VAE: feature maps kept in memory, the rest spill to temp files (default 1024)
  -f, --format FMT       png | jpeg | webp (default png)
  --json                 print a JSON summary on stdout
  -q, --quiet            no progress output
exit codes: 0 all written, 1 some images failed, 2 usage error, 3 models could not be loaded or the provider could not start`;

export async function upscaleCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      output: { type: 'string', short: 'o' }, scale: { type: 'string', short: 's' }, model: { type: 'string' }, base: { type: 'string' },
      prompt: { type: 'string', short: 'p' }, 'added-prompt': { type: 'string' }, 'negative-prompt': { type: 'string', short: 'n' },
      steps: { type: 'string' }, cfg: { type: 'string' }, 'conditioning-scale': { type: 'string' }, 'added-noise-level': { type: 'string' },
      'init-noise': { type: 'boolean' }, init: { type: 'string' }, 'process-size': { type: 'string' }, 'tile-size': { type: 'string' }, 'tile-overlap': { type: 'string' }, samples: { type: 'string' }, strength: { type: 'string' },
      'color-fix': { type: 'string' }, scheduler: { type: 'string' }, seed: { type: 'string' }, threads: { type: 'string' },
      'max-pixels': { type: 'string' }, 'max-work-pixels': { type: 'string' }, 'vae-encoder-tile': { type: 'string' }, 'vae-decoder-tile': { type: 'string' }, 'vae-memory': { type: 'string' }, format: { type: 'string', short: 'f' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
      colorize: { type: 'boolean' }, 'control-type': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'high-level-info': { type: 'string' }, classifier: { type: 'string' },
      server: { type: 'string' }, token: { type: 'string' },
      personalized: { type: 'string' }, 'blending-alpha': { type: 'string' }, multiplier: { type: 'string' }, 'lora-alpha-compat': { type: 'string' },
      ...RUNTIME_ARGS,
    },
  });
  if (v.help) {
    process.stdout.write(UPSCALE_USAGE + '\n');
    return 0;
  }
  if (!positionals.length) throw new UsageError('no input images given');
  if (!v.output) throw new UsageError('-o/--output DIR is required');
  const controlType = choice(v['control-type'], 'control-type', ['realisr', 'grayscale'] as const);
  if (v.colorize && controlType === 'realisr') throw new UsageError('--colorize contradicts --control-type realisr');
  const colorize = v.colorize || controlType === 'grayscale';
  const classifierDir = classifierDirOf(v);
  if (colorize) {
    // The original's grayscale mode ignores these; refusing them beats silently dropping them.
    if (v.scale !== undefined && v.scale !== '1') throw new UsageError('--scale: colorization keeps the input size (use 1 or leave it out)');
    if (v['color-fix'] !== undefined && v['color-fix'] !== 'none') throw new UsageError('--color-fix: colorization keeps the input luma and takes no colour fix');
    if (v['added-prompt'] !== undefined) throw new UsageError('--added-prompt: colorization uses the prompt alone');
  }
  const opts: UpscaleOptions = {
    colorize,
    upscale: num(v.scale, 'scale', { int: true, min: 1, max: 16 }) ?? (colorize ? 1 : undefined),
    prompt: v.prompt, addedPrompt: v['added-prompt'], negativePrompt: v['negative-prompt'],
    steps: num(v.steps, 'steps', { int: true, min: 1, max: 1000 }),
    guidanceScale: num(v.cfg, 'cfg', { min: 0 }),
    conditioningScale: num(v['conditioning-scale'], 'conditioning-scale', { min: 0 }),
    addedNoiseLevel: num(v['added-noise-level'], 'added-noise-level', { int: true, min: 0, max: 999 }),
    initLatentWithNoise: initOf(v),
    processSize: num(v['process-size'], 'process-size', { int: true, min: 8 }),
    latentTileSize: num(v['tile-size'], 'tile-size', { int: true, min: 8 }),
    latentTileOverlap: num(v['tile-overlap'], 'tile-overlap', { int: true, min: 0 }),
    colorFix: choice(v['color-fix'], 'color-fix', ['wavelet', 'adain', 'none'] as const),
    scheduler: choice(v.scheduler, 'scheduler', ['unipc', 'ddim', 'dpmsolver', 'euler', 'lcm', 'ddpm'] as SchedulerChoice[]),
    samples: num(v.samples, 'samples', { int: true, min: 1, max: 64 }),
    strength: num(v.strength, 'strength', { min: 0.01, max: 1 }),
    seed: num(v.seed, 'seed', SEED_RANGE),
  };
  for (const k of Object.keys(opts) as (keyof UpscaleOptions)[]) if (opts[k] === undefined) delete opts[k];
  if (opts.latentTileOverlap !== undefined && opts.latentTileOverlap >= (opts.latentTileSize ?? 320))
    throw new UsageError('--tile-overlap must be smaller than --tile-size');
  const format = choice(v.format, 'format', ['png', 'jpeg', 'webp'] as const) ?? 'png';
  const maxPixels = num(v['max-pixels'], 'max-pixels', { int: true, min: 1 });
  const maxWorkPixels = num(v['max-work-pixels'], 'max-work-pixels', { int: true, min: 1 }) ?? DEFAULT_MAX_WORK_PIXELS;
  const threads = num(v.threads, 'threads', THREADS_RANGE);
  const runtime = runtimeChoiceOf(v, threads);
  const files = inputFiles(positionals);
  if (v.server !== undefined) return remote(v, files, opts);
  // Neither --model nor --base: the shipped mini model (models/pasd-mini) with the options it was trained for.
  const mini = !v.model && !v.base;
  if (!mini && (!v.model || !v.base)) throw new UsageError('--model <PASD checkpoint folder> and --base <SD1.5 folder> go together (leave both out for the bundled mini model)');
  const baseOptions = mini ? defaultModelOptions() : {};
  await checkWorkSizes(files, { ...baseOptions, ...opts }, maxWorkPixels);
  // A GPU provider that cannot start fails here, once, before the output folder is made, models load and images are read.
  const probe = await probeGpuOrExit(runtime, 'pasd upscale');
  if (probe !== null) return probe;
  const outputs = outputPaths(files, v.output, `.${format === 'jpeg' ? 'jpg' : format}`);
  let pipe: PasdPipeline;
  let promptProvider: PromptProvider | undefined;
  try {
    const load = { ...runtime, personalize: personalizationOf(v), vae: vaeOptionsOf(v) };
    pipe = mini ? PasdPipeline.fromFolders(defaultModelPaths(), load) : PasdPipeline.fromPretrained(v.model!, v.base!, load);
    if (classifierDir) promptProvider = await loadClassifier(classifierDir, { threads });
  } catch (e) {
    if (e instanceof PasdError && !(e instanceof UsageError)) {
      process.stderr.write(`pasd upscale: cannot load the models: ${e.message}\n`);
      return 3;
    }
    throw e;
  }
  opts.upscale ??= pipe.family.defaults.upscale ?? 4;
  // The options against the model's scheduler, before any image: a bad value is a usage error (2), a bad scheduler config the model's (3).
  try {
    checkRunOptions(pipe.components, { ...pipe.family.defaults, ...baseOptions, ...opts });
  } catch (e) {
    await pipe.release();
    await promptProvider?.release?.();
    if (e instanceof ConfigError) {
      process.stderr.write(`pasd upscale: cannot load the models: ${e.message}\n`);
      return 3;
    }
    throw e instanceof InputError ? new UsageError(`the options do not fit the scheduler: ${e.message}`) : e;
  }
  const runOptions: UpscaleOptions = { ...baseOptions, ...opts, ...(promptProvider ? { promptProvider } : {}) };
  mkdirSync(v.output, { recursive: true });
  const results: { input: string; output?: string; error?: string; seconds: number; size?: [number, number] }[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const t0 = Date.now();
      const out = outputs[i];
      try {
        const { rgb, alpha } = await readImage(file, { maxPixels });
        const bar = new ProgressBar(basename(file), process.stderr, v.quiet || v.json);
        const img = await pipe.upscale(rgb, { ...runOptions, onProgress: (p) => bar.update(p) });
        // Alpha is upscaled separately with the plain resize, then attached again.
        const a = alpha ? resize(alpha, img.width, img.height, 'bicubic') : null;
        await writeImage(out, img, { format, alpha: format === 'jpeg' ? null : a });
        results.push({ input: file, output: out, seconds: (Date.now() - t0) / 1000, size: [img.width, img.height] });
      } catch (e) {
        if (!(e instanceof PasdError)) throw e;
        process.stderr.write(`pasd upscale: ${e.message.startsWith(file) ? '' : `${file}: `}${e.message}\n`);
        results.push({ input: file, error: e.message, seconds: (Date.now() - t0) / 1000 });
      }
    }
  } finally {
    await pipe.release();
    await promptProvider?.release?.();
  }
  if (v.json) process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
  return results.some((r) => r.error) ? 1 : 0;
}

/** --init lr|noise and --init-noise as initLatentWithNoise (undefined: the model family's default). */
function initOf(v: Record<string, string | boolean | undefined>): boolean | undefined {
  const init = choice(v.init as string | undefined, 'init', ['lr', 'noise'] as const);
  if (v['init-noise'] && init === 'lr') throw new UsageError('--init-noise contradicts --init lr');
  return v['init-noise'] || init === 'noise' ? true : init === 'lr' ? false : undefined;
}

/**
 * Refuses, from the image headers and before the models load, inputs the network would run at
 * more than `maxWorkPixels` (unreadable files are left to fail in turn with their own message).
 */
async function checkWorkSizes(files: readonly string[], o: UpscaleOptions, maxWorkPixels: number): Promise<void> {
  const size = { upscale: o.upscale ?? 4, processSize: o.processSize ?? DEFAULTS.processSize, colorization: o.colorize };
  for (const file of files) {
    const header = await readImageSize(file);
    const problem = header && workSizeProblem(header.width, header.height, size, maxWorkPixels);
    if (problem) throw new UsageError(`${file}: ${problem}; lower --process-size or --scale, or raise --max-work-pixels`);
  }
}

/** --high-level-info / --classifier (test_pasd.py `--high_level_info`): the classifier folder, or none. */
function classifierDirOf(v: Record<string, string | boolean | undefined>): string | undefined {
  const dir = v.classifier as string | undefined;
  const mode = choice(v['high-level-info'] as string | undefined, 'high-level-info', ['none', 'classification'] as const) ?? (dir ? 'classification' : 'none');
  if (mode === 'none') {
    if (dir) throw new UsageError('--classifier DIR contradicts --high-level-info none');
    return undefined;
  }
  if (!dir) throw new UsageError('--high-level-info classification needs --classifier DIR (a local folder with model.onnx and labels.txt; see README "High-level information")');
  return dir;
}

/** The --personalized options as a spec (kind decided from the path as the original does). */
function personalizationOf(v: Record<string, string | boolean | undefined>): PersonalizeSpec | undefined {
  const path = v.personalized as string | undefined;
  const blendingAlpha = num(v['blending-alpha'] as string | undefined, 'blending-alpha', { min: 0, max: 1 });
  const multiplier = num(v.multiplier as string | undefined, 'multiplier');
  const loraAlphaCompat = choice(v['lora-alpha-compat'] as string | undefined, 'lora-alpha-compat', ['kohya', 'original'] as const);
  if (!path) {
    if (blendingAlpha !== undefined || multiplier !== undefined || loraAlphaCompat) throw new UsageError('--blending-alpha, --multiplier and --lora-alpha-compat need --personalized PATH');
    return undefined;
  }
  const kind = classifyPersonalizedModel(path);
  return kind === 'unetFolder' ? { unetFolder: path } : kind === 'lora' ? { lora: path, multiplier, loraAlphaCompat } : { singleFile: path, blendingAlpha };
}

/** Tiled-VAE tile sizes and memory budget (the tiled VAE is exact whatever the tiles). */
function vaeOptionsOf(v: Record<string, string | boolean | undefined>): TiledVaeOptions {
  const mib = num(v['vae-memory'] as string | undefined, 'vae-memory', { int: true, min: 1 });
  const o: TiledVaeOptions = {
    encoderTileSize: num(v['vae-encoder-tile'] as string | undefined, 'vae-encoder-tile', { int: true, min: 8 }),
    decoderTileSize: num(v['vae-decoder-tile'] as string | undefined, 'vae-decoder-tile', { int: true, min: 1 }),
    memoryBudgetBytes: mib === undefined ? undefined : mib * 2 ** 20,
  };
  for (const k of Object.keys(o) as (keyof TiledVaeOptions)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** `--server`: the options that choose or run models here have no meaning; the rest go to the server. */
async function remote(v: Record<string, string | boolean | undefined>, files: string[], opts: UpscaleOptions): Promise<number> {
  const local = ['model', 'base', 'personalized', 'blending-alpha', 'multiplier', 'lora-alpha-compat', 'classifier', 'high-level-info', 'threads',
    'provider', 'precision', 'max-pixels', 'vae-encoder-tile', 'vae-decoder-tile', 'vae-memory'].filter((k) => v[k] !== undefined);
  if (local.length) throw new UsageError(`--${local[0]} does not go with --server: the server's models and settings run the job`);
  if (v.format !== undefined && v.format !== 'png') throw new UsageError('--format: the server returns PNG (--server)');
  mkdirSync(v.output as string, { recursive: true });
  const say = v.quiet || v.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const results = await upscaleRemote(v.server as string, (v.token as string | undefined) ?? (process.env.PASD_TOKEN || undefined), files, v.output as string, opts, say);
  if (v.json) process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
  return results.some((r) => r.error) ? 1 : 0;
}
