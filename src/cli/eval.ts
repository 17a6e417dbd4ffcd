/**
 * `pasd eval --hr DIR [--sr DIR | --model DIR --base DIR]`: scores super-resolution on a
 * benchmark folder. For every HR image (cropped to a multiple of the scale) it makes the LR
 * input — MATLAB bicubic ↓scale (the classic protocol) or, with --degrade, the Real-ESRGAN
 * degradation with the seeded stream `seed + i` —, scores the bicubic ↑scale baseline and the
 * method (images of an SR folder with the HR base names, or PASD run on the LR inputs), and
 * prints a per-image + mean table (src/metrics/benchmark.ts says how each score is taken).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { InputError, PasdError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { imageBatch } from '../degrade/batch.ts';
import { DEFAULT_DEGRADATION_CONFIG } from '../degrade/config.ts';
import { degradeImage } from '../degrade/pipeline.ts';
import { readImage, writeImage } from '../image/codec-node.ts';
import { type Image, fromTensor, toTensor } from '../image/image.ts';
import { type BenchmarkReport, type ImageRow, type MethodInfo, checkPair, comparisonStrip, markdownTable, meanScores, modcrop, scoreImage } from '../metrics/benchmark.ts';
import { imresizeU8 } from '../metrics/imresize.ts';
import { LpipsMetric } from '../metrics/lpips.ts';
import { DOOR_SCALE } from '../pipelines/options.ts';
import { PasdPipeline, type UpscaleOptions } from '../pipelines/pasd.ts';
import { THREADS_RANGE, UsageError, inputFiles, num } from './args.ts';
import { checkRunOptions, flagValue, optionFlags, optionUsage, optionsFromFlags } from './options.ts';

export const EVAL_USAGE = `usage: pasd eval --hr <dir> [--sr <dir> | --model <pasd-dir> --base <sd15-dir>] [options]
  --hr DIR               ground-truth images
  --sr DIR               results to score: one image per HR image, same base name (any image type),
                         the size of the HR image or of its crop to a multiple of the scale
  --model DIR --base DIR run PASD on the LR inputs instead (see pasd upscale --help)
  without --sr/--model only the bicubic baseline is scored
options:
  -s, --scale N          scale factor (default 4); HR images are cropped to a multiple of it
  --degrade              LR inputs by the Real-ESRGAN degradation (default: MATLAB bicubic)
  --seed N               degradation stream of image i is seed + i; PASD seed (default 0)
  --crop N               PSNR/SSIM border crop (default: the scale)
  --lpips DIR            LPIPS folder: config.json + backbone.* + lin.* (see src/metrics/lpips.ts)
  --no-niqe              skip NIQE
  --gray-ycbcr           measure grayscale HR files through YCbCr as BasicSR does (default: as a
                         plane, as the MATLAB scripts of the published tables do)
  --compare DIR          write LR | bicubic | method | HR crops side by side, one PNG per image
  --json                 print the report as JSON instead of markdown
  --threads N            CPU threads for LPIPS and PASD
PASD (as pasd upscale):
${optionUsage('eval', 25)}
Grayscale files are read as RGB with equal channels (as cv2.imread in BasicSR's scripts); LPIPS
and NIQE see them so; PSNR/SSIM see the plane unless --gray-ycbcr.
exit codes: 0 done, 1 bad inputs (missing or mis-sized images), 2 usage error, 3 models could not be loaded`;

const IMAGE_EXT = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.bmp'];

/** Base name → file of every image in `dir`; two files with one base name are refused. */
function imagesByName(dir: string): Map<string, string> {
  if (!existsSync(dir)) throw new UsageError(`--sr ${dir}: no such folder`);
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    if (!IMAGE_EXT.includes(extname(f).toLowerCase())) continue;
    const name = basename(f, extname(f));
    if (out.has(name)) throw new InputError(`${dir}: both ${basename(out.get(name)!)} and ${f} are named "${name}"; keep one`);
    out.set(name, join(dir, f));
  }
  return out;
}

/** Every HR name must have its SR file; extra SR files are reported and ignored. */
function pairSr(hrFiles: readonly string[], srDir: string, warn: (m: string) => void): Map<string, string> {
  const sr = imagesByName(srDir);
  const names = hrFiles.map((f) => basename(f, extname(f)));
  const missing = names.filter((n) => !sr.has(n));
  if (missing.length) throw new InputError(`${srDir}: no SR image for ${missing.length} of ${names.length} HR images: ${missing.join(', ')} (SR files must have the HR base names)`);
  const extra = [...sr.keys()].filter((n) => !names.includes(n));
  if (extra.length) warn(`ignoring ${extra.length} SR images without an HR image: ${extra.join(', ')}`);
  return sr;
}

async function degradedLr(hr: Image, scale: number, seed: number, name: string): Promise<Image> {
  const t = toTensor(hr);
  const { lq } = await degradeImage(imageBatch(t.data, 1, 3, hr.height, hr.width, name), new Random(seed), { config: { ...DEFAULT_DEGRADATION_CONFIG, scale }, name });
  return fromTensor({ data: lq.data, shape: [1, 3, lq.h, lq.w] }, 'round');
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      hr: { type: 'string' }, sr: { type: 'string' }, model: { type: 'string' }, base: { type: 'string' }, scale: { type: 'string', short: 's' },
      degrade: { type: 'boolean' }, seed: { type: 'string' }, crop: { type: 'string' }, lpips: { type: 'string' }, 'no-niqe': { type: 'boolean' }, 'gray-ycbcr': { type: 'boolean' },
      compare: { type: 'string' }, json: { type: 'boolean' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...optionFlags('eval'),
    },
  });
  if (v.help) {
    process.stdout.write(EVAL_USAGE + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (folders are given with --hr/--sr)`);
  if (!v.hr) throw new UsageError('--hr DIR is required');
  if (v.sr && (v.model || v.base)) throw new UsageError('give either --sr or --model/--base, not both');
  if (!!v.model !== !!v.base) throw new UsageError('--model and --base go together');
  const scale = flagValue('upscale', v.scale) ?? DOOR_SCALE;
  const seed = flagValue('seed', v.seed) ?? 0;
  const cropBorder = num(v.crop, 'crop', { int: true, min: 0 }) ?? scale;
  const threads = num(v.threads, 'threads', THREADS_RANGE);
  const pasdOpts: UpscaleOptions = { ...optionsFromFlags(v, 'eval'), upscale: scale, seed };
  const warn = (m: string) => process.stderr.write(`pasd eval: ${m}\n`);

  const hrFiles = inputFiles([v.hr]);
  const srFiles = v.sr ? pairSr(hrFiles, v.sr, warn) : null;
  const lpips = v.lpips ? LpipsMetric.load(v.lpips, { threads }) : null;
  let pipe: PasdPipeline | null = null;
  if (v.model && v.base) {
    try {
      pipe = PasdPipeline.fromPretrained(v.model, v.base, { threads });
    } catch (e) {
      if (!(e instanceof PasdError)) throw e;
      warn(`cannot load the models: ${e.message}`);
      return 3;
    }
    await checkRunOptions(pipe, pasdOpts);
  }
  const lrLabel = v.degrade ? `Real-ESRGAN degradation (PASD's params_realesrgan.yml), image i seeded with ${seed} + i` : `MATLAB bicubic ↓${scale} of the HR image, rounded to 8 bits`;
  const methods: MethodInfo[] = [{ id: 'bicubic', label: `baseline: MATLAB bicubic ↑${scale} (BasicSR imresize) of the LR input` }];
  if (srFiles) methods.push({ id: 'sr', label: `the images in ${v.sr}` });
  if (pipe) methods.push({ id: 'pasd', label: `PASD (${v.model} on ${v.base}), ${JSON.stringify({ ...pasdOpts, upscale: undefined })}` });
  if (v.compare) mkdirSync(v.compare, { recursive: true });

  const rows: ImageRow[] = [];
  const score = { cropBorder, lpips, niqe: !v['no-niqe'] };
  try {
    for (const [i, file] of hrFiles.entries()) {
      const name = basename(file, extname(file));
      const full = (await readImage(file)).rgb;
      const grayPlane = !v['gray-ycbcr'] && (await sharp(file).metadata()).channels! <= 2;
      const hr = modcrop(full, scale);
      const lr = v.degrade ? await degradedLr(hr, scale, seed + i, file) : imresizeU8(hr, 1 / scale);
      const outputs: [string, Image][] = [['bicubic', imresizeU8(lr, scale)]];
      if (srFiles) {
        const srPath = srFiles.get(name)!;
        const sr = (await readImage(srPath)).rgb;
        // An SR image of the uncropped HR size is cropped the same way.
        outputs.push(['sr', sr.width === full.width && sr.height === full.height ? modcrop(sr, scale) : sr]);
      }
      if (pipe) outputs.push(['pasd', await pipe.upscale(lr, pasdOpts)]);
      for (const [method, out] of outputs) {
        checkPair(out, hr, method === 'sr' ? srFiles!.get(name)! : `${method} output for ${file}`);
        rows.push({ image: name, method, scores: await scoreImage(out, hr, { ...score, grayPlane }) });
      }
      if (v.compare) await writeImage(join(v.compare, `${name}.png`), comparisonStrip(lr, [...outputs.map(([, o]) => o), hr], scale));
      if (!v.json) process.stderr.write(`pasd eval: ${i + 1}/${hrFiles.length} ${name}\n`);
    }
  } finally {
    await lpips?.release();
    await pipe?.release();
  }
  const report: BenchmarkReport = {
    scale, cropBorder, lr: lrLabel, methods, rows,
    means: Object.fromEntries(methods.map((m) => [m.id, meanScores(rows, m.id)])),
  };
  process.stdout.write((v.json ? JSON.stringify(report, null, 2) : markdownTable(report)) + '\n');
  return 0;
}
