/**
 * `pasd degrade <hr files|dirs> -o DIR`: synthesise LR images with the Real-ESRGAN
 * second-order degradation (PASD's params_realesrgan.yml by default). Image i of the run
 * uses the seeded stream `seed + i`, so a run is reproducible and images are independent.
 */
import { parseArgs } from 'node:util';
import { PasdError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { DEFAULT_DEGRADATION_CONFIG, loadDegradationConfig } from '../degrade/config.ts';
import { degradeFile } from '../degrade/file.ts';
import { SEED_RANGE, UsageError, choice, inputFiles, num, outputPaths } from './args.ts';

export const DEGRADE_USAGE = `usage: pasd degrade <hr images or folders...> -o <dir> [options]
  -o, --output DIR     output folder for the LR images (same names, PNG)
  -s, --scale N        downscaling factor (default: the config's, 4)
  --seed N             random seed (default 0); image i uses seed + i
  --config FILE        degradation parameters (.yml/.yaml/.json; default PASD's params_realesrgan.yml)
  --jpeg MODE          diffjpeg (default, as the original) | codec (real libjpeg)
  --resize-back        resize the LR image back to the HR size (the control image of training)
  --save-params        also write <name>.json with every random parameter used
exit codes: 0 all written, 1 some images failed, 2 usage error`;

export async function degradeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      output: { type: 'string', short: 'o' }, scale: { type: 'string', short: 's' }, seed: { type: 'string' }, config: { type: 'string' },
      jpeg: { type: 'string' }, 'resize-back': { type: 'boolean' }, 'save-params': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(DEGRADE_USAGE + '\n');
    return 0;
  }
  if (!positionals.length) throw new UsageError('no input images given');
  if (!v.output) throw new UsageError('-o/--output DIR is required');
  let config = DEFAULT_DEGRADATION_CONFIG;
  if (v.config) {
    const loaded = loadDegradationConfig(v.config);
    for (const w of loaded.warnings) process.stderr.write(`pasd degrade: ${w}\n`);
    config = loaded.config;
  }
  const scale = num(v.scale, 'scale', { int: true, min: 1, max: 16 });
  if (scale !== undefined) config = { ...config, scale };
  const seed = num(v.seed, 'seed', SEED_RANGE) ?? 0;
  const jpeg = choice(v.jpeg, 'jpeg', ['diffjpeg', 'codec'] as const) ?? 'diffjpeg';
  const files = inputFiles(positionals);
  const outputs = outputPaths(files, v.output, '.png');
  let failed = 0;
  for (const [i, file] of files.entries()) {
    try {
      await degradeFile(file, outputs[i], new Random(seed + i), {
        config, jpeg, resizeBack: v['resize-back'], ...(v['save-params'] ? { paramsPath: outputs[i].replace(/\.png$/, '.json') } : {}),
      });
    } catch (e) {
      if (!(e instanceof PasdError)) throw e;
      failed++;
      process.stderr.write(`pasd degrade: ${e.message.startsWith(file) ? '' : `${file}: `}${e.message}\n`);
    }
  }
  return failed ? 1 : 0;
}
