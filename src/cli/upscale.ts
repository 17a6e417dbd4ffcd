/**
 * `pasd upscale <files|dirs> -o DIR [options]`: the main job. Every image is processed in
 * turn; one failing image is reported and the rest go on. Outputs keep the input's base
 * name (`name.png` by default) and are written atomically.
 */
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, PasdError } from '../core/errors.ts';
import { readImage, readImageSize, writeImage } from '../image/codec-node.ts';
import { resize } from '../image/resample.ts';
import type { TiledVaeOptions } from '../pipelines/tiled-vae.ts';
import { defaultModelOptions, defaultModelPaths } from '../pipelines/load.ts';
import { DEFAULTS, DOOR_SCALE, withDoorDefaults } from '../pipelines/options.ts';
import { PasdPipeline, type UpscaleOptions } from '../pipelines/pasd.ts';
import { DEFAULT_MAX_WORK_PIXELS, workSizeProblem } from '../pipelines/sizes.ts';
import { type PersonalizeSpec, classifyPersonalizedModel } from '../pipelines/personalize.ts';
import { loadPromptProvider } from '../prompts/load-node.ts';
import type { PromptProvider } from '../prompts/provider.ts';
import { MAX_THREADS, RUNTIME_ARGS, THREADS_RANGE, UsageError, choice, inputFiles, num, outputPaths, probeGpuOrExit, runtimeChoiceOf, runtimeUsage } from './args.ts';
import { HIGH_LEVEL_ARGS, highLevelOf } from './high-level.ts';
import { checkRunOptions, optionFlags, optionUsage, optionsFromFlags } from './options.ts';
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
                         options (--model, --personalized, --captioner, --threads, ...) are the server's
  --token T              with --server: its token (default: $PASD_TOKEN)
  --control-type TYPE    realisr | grayscale (default realisr), as in the original's test_pasd.py; grayscale is
                         --colorize, whose scheduler config is --model's scheduler/ (or the one beside --model),
                         else SD1.5's with zero terminal SNR + trailing
  --captioner DIR        local captioner for --high-level-info caption: a transformers.js image-to-text folder
                         (e.g. vit-gpt2); its caption, "blurry"→"clear", "noisy"→"clean", leads the prompt
  --detector DIR         local detector for --high-level-info detection: an ultralytics YOLOv8 ONNX export
                         (model.onnx) or a transformers.js object-detection folder; "{count} {name}, " per class
  --classifier DIR       local classifier for --high-level-info classification: a transformers.js
                         image-classification folder, or model.onnx + labels.txt (+ preprocess.json), e.g. the
                         original's ImageNet ResNet-50; its top class joins the prompt when p ≥ 0.1 (README)
${optionUsage('upscale', 25)}
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
      ...optionFlags('upscale'),
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, base: { type: 'string' }, threads: { type: 'string' },
      'max-pixels': { type: 'string' }, 'max-work-pixels': { type: 'string' }, 'vae-encoder-tile': { type: 'string' }, 'vae-decoder-tile': { type: 'string' }, 'vae-memory': { type: 'string' }, format: { type: 'string', short: 'f' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
      'control-type': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...HIGH_LEVEL_ARGS,
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
  const given = optionsFromFlags(v, 'upscale');
  if (given.colorize && controlType === 'realisr') throw new UsageError('--colorize contradicts --control-type realisr');
  // The door's default scale is the model family's (withDoorDefaults once the model is loaded); --server leaves it to the server's model.
  const asked: UpscaleOptions = controlType === 'grayscale' ? { ...given, colorize: true } : given;
  const format = choice(v.format, 'format', ['png', 'jpeg', 'webp'] as const) ?? 'png';
  const maxPixels = num(v['max-pixels'], 'max-pixels', { int: true, min: 1 });
  const maxWorkPixels = num(v['max-work-pixels'], 'max-work-pixels', { int: true, min: 1 }) ?? DEFAULT_MAX_WORK_PIXELS;
  const threads = num(v.threads, 'threads', THREADS_RANGE);
  const runtime = runtimeChoiceOf(v, threads);
  const files = inputFiles(positionals);
  if (v.server !== undefined) return remote(v, files, asked);
  const highLevel = highLevelOf(v, given);
  const opts: UpscaleOptions = highLevel ? { ...asked, highLevelInfo: highLevel.kind } : asked;
  // Neither --model nor --base: the shipped mini model (models/pasd-mini) with the options it was trained for.
  const mini = !v.model && !v.base;
  if (!mini && (!v.model || !v.base)) throw new UsageError('--model <PASD checkpoint folder> and --base <SD1.5 folder> go together (leave both out for the bundled mini model)');
  const baseOptions = mini ? defaultModelOptions() : {};
  await checkWorkSizes(files, withDoorDefaults({ ...baseOptions, ...opts }), maxWorkPixels);
  // A GPU provider that cannot start fails here, once, before the output folder is made, models load and images are read.
  const probe = await probeGpuOrExit(runtime, 'pasd upscale');
  if (probe !== null) return probe;
  const outputs = outputPaths(files, v.output, `.${format === 'jpeg' ? 'jpg' : format}`);
  let pipe: PasdPipeline;
  let promptProvider: PromptProvider | undefined;
  try {
    const load = { ...runtime, personalize: personalizationOf(v), vae: vaeOptionsOf(v) };
    pipe = mini ? PasdPipeline.fromFolders(defaultModelPaths(), load) : PasdPipeline.fromPretrained(v.model!, v.base!, load);
    if (highLevel) promptProvider = await loadPromptProvider(highLevel.kind, highLevel.dir, { threads });
  } catch (e) {
    if (e instanceof PasdError && !(e instanceof UsageError)) {
      process.stderr.write(`pasd upscale: cannot load the models: ${e.message}\n`);
      return 3;
    }
    throw e;
  }
  const runOptions: UpscaleOptions = {
    ...baseOptions, ...withDoorDefaults(opts, pipe.family.defaults.upscale ?? DOOR_SCALE), ...(promptProvider ? { promptProvider } : {}),
  };
  try {
    await checkRunOptions(pipe, runOptions, [promptProvider]);
  } catch (e) {
    // A scheduler config that cannot sample is the model folder's fault (exit 3), not a usage error.
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`pasd upscale: cannot load the models: ${e.message}\n`);
    return 3;
  }
  const results: { input: string; output?: string; error?: string; seconds: number; size?: [number, number]; prompt?: string }[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const t0 = Date.now();
      const out = outputs[i];
      try {
        const { rgb, alpha } = await readImage(file, { maxPixels });
        const bar = new ProgressBar(basename(file), process.stderr, v.quiet || v.json);
        let prompt: string | undefined;
        const img = await pipe.upscale(rgb, { ...runOptions, onProgress: (p) => bar.update(p), onPrompt: (p) => (prompt = p) });
        // Alpha is upscaled separately with the plain resize, then attached again.
        const a = alpha ? resize(alpha, img.width, img.height, 'bicubic') : null;
        await writeImage(out, img, { format, alpha: format === 'jpeg' ? null : a });
        results.push({ input: file, output: out, seconds: (Date.now() - t0) / 1000, size: [img.width, img.height], prompt });
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

/**
 * Refuses, from the image headers and before the models load, inputs the network would run at
 * more than `maxWorkPixels` (unreadable files are left to fail in turn with their own message).
 */
async function checkWorkSizes(files: readonly string[], o: UpscaleOptions, maxWorkPixels: number): Promise<void> {
  const size = { upscale: o.upscale ?? DOOR_SCALE, processSize: o.processSize ?? DEFAULTS.processSize, colorization: o.colorize };
  for (const file of files) {
    const header = await readImageSize(file);
    const problem = header && workSizeProblem(header.width, header.height, size, maxWorkPixels);
    if (problem) throw new UsageError(`${file}: ${problem}; lower --process-size or --scale, or raise --max-work-pixels`);
  }
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
  const local = ['model', 'base', 'personalized', 'blending-alpha', 'multiplier', 'lora-alpha-compat', 'captioner', 'detector', 'classifier', 'threads',
    'provider', 'precision', 'max-pixels', 'vae-encoder-tile', 'vae-decoder-tile', 'vae-memory'].filter((k) => v[k] !== undefined);
  if (local.length) throw new UsageError(`--${local[0]} does not go with --server: the server's models and settings run the job`);
  if (v.format !== undefined && v.format !== 'png') throw new UsageError('--format: the server returns PNG (--server)');
  mkdirSync(v.output as string, { recursive: true });
  const say = v.quiet || v.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const results = await upscaleRemote(v.server as string, (v.token as string | undefined) ?? (process.env.PASD_TOKEN || undefined), files, v.output as string, opts, say);
  if (v.json) process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
  return results.some((r) => r.error) ? 1 : 0;
}
