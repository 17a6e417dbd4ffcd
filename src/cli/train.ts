/**
 * `pasd train --data DIR --base DIR [--init-from DIR] --out DIR`: PASD training (train_pasd.py)
 * with a progress line (step, loss, steps/s, ETA) on stderr and a JSONL log in the output
 * folder. `--resume` continues from the newest complete checkpoint.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, InputError } from '../core/errors.ts';
import { TRAIN_DEFAULTS, type StepLog, train } from '../train/loop.ts';
import { checkRunFolder } from '../train/run-folder.ts';
import { SEED_RANGE, THREADS_RANGE, UsageError, choice, num } from './args.ts';

export const TRAIN_USAGE = `usage: pasd train --data DIR --base DIR --out DIR [options]
  --data DIR                 folder of HR images (recursive); optional caption NAME.txt beside each
  --base DIR                 SD1.5-layout folder: unet/ vae/ text_encoder/ tokenizer/ [scheduler/]
                             (a component with config.json but no weights is initialised at random)
  --init-from DIR            PASD checkpoint (unet/ + controlnet/) to start from
  --out DIR                  checkpoints (checkpoint-N/), train_log.jsonl
  --resume                   continue from the newest complete checkpoint in --out
  --overwrite                start over in an --out that holds a previous run (its checkpoints and log are
                             deleted); without --resume or --overwrite such an --out is refused
  --kind pasd|pasd_light     model kind (default: from --init-from, else pasd)
  --control-type realisr|grayscale        (default realisr)
  --degradation realesrgan|bicubic|grayscale   control image (default realesrgan; grayscale for colorization)
  --resolution N             crop size (default 512)
  --batch-size N             (default 1)     --gradient-accumulation N (default 1)
  --max-steps N              (default 1000)
  --lr X                     learning rate (default 5e-6)
  --lr-scheduler constant|constant_with_warmup  (default constant)   --warmup-steps N (default 500)
  --adam-beta1 X --adam-beta2 X --adam-weight-decay X --adam-epsilon X   (0.9, 0.999, 1e-2, 1e-8)
  --max-grad-norm X          (default 1.0)
  --checkpoint-every N       (default 500)   --keep N  complete checkpoints kept (default 3)
  --proportion-empty-prompts X   (default 0.5)
  --timesteps LO,HI          draw training timesteps uniformly from [LO, HI) (default 0,1000, the original's;
                             not in the original: e.g. 900,1000 for a model sampled with one step from t=999)
  --controlnet-config FILE   JSON merged into the ControlNet config made from the UNet's (e.g. {"use_rrdb": true})
  --trainable-modules A,B    UNet parameters whose names contain one of these train besides the ControlNet
                             (default pixel_attentions,norm2_plus,attn2_plus,proj_in_plus; "." trains the whole UNet)
  --seed N                   (default 0)     --threads N  onnxruntime intra-op threads
exit codes: 0 done, 1 error, 2 usage error`;

export async function trainCommand(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = Object.fromEntries([
      ...['data', 'base', 'init-from', 'out', 'kind', 'control-type', 'degradation', 'resolution', 'batch-size', 'gradient-accumulation', 'max-steps',
        'lr', 'lr-scheduler', 'warmup-steps', 'adam-beta1', 'adam-beta2', 'adam-weight-decay', 'adam-epsilon', 'max-grad-norm', 'checkpoint-every',
        'keep', 'proportion-empty-prompts', 'controlnet-config', 'trainable-modules', 'timesteps', 'seed', 'threads'].map((k) => [k, { type: 'string' as const }]),
      ['resume', { type: 'boolean' as const }], ['overwrite', { type: 'boolean' as const }], ['quiet', { type: 'boolean' as const }], ['help', { type: 'boolean' as const, short: 'h' }],
  ]);
  const v = parseArgs({ args: argv, strict: true, options }).values as Record<string, string | boolean | undefined>;
  const s = (k: string) => v[k] as string | undefined;
  if (v.help) {
    process.stdout.write(TRAIN_USAGE + '\n');
    return 0;
  }
  for (const k of ['data', 'base', 'out']) if (!s(k)) throw new UsageError(`--${k} DIR is required`);
  if (v.resume && v.overwrite) throw new UsageError('--resume continues the run in --out, --overwrite deletes it: give one of them');
  try {
    checkRunFolder(s('out')!, { resume: v.resume === true, overwrite: v.overwrite === true });
  } catch (e) {
    throw e instanceof InputError ? new UsageError(e.message) : e;
  }
  const d = TRAIN_DEFAULTS;
  const pos = { int: true, min: 1 };
  let controlnetConfig: Record<string, unknown> | undefined;
  if (s('controlnet-config')) {
    try { controlnetConfig = JSON.parse(readFileSync(s('controlnet-config')!, 'utf8')); } catch (e) { throw new ConfigError(`--controlnet-config ${s('controlnet-config')}: ${(e as Error).message}`); }
  }
  const start = Date.now();
  const quiet = v.quiet === true;
  const progress = (r: StepLog) => {
    if (quiet) return;
    const el = (Date.now() - start) / 1000;
    const rate = r.step / Math.max(el, 1e-9);
    const line = `step ${r.step}/${r.maxSteps} loss ${r.loss.toFixed(4)} (mse ${r.lossMse.toFixed(4)}) lr ${r.lr.toExponential(2)} ${(1 / r.seconds).toFixed(2)} steps/s ETA ${Math.round((r.maxSteps - r.step) / Math.max(rate, 1e-9))}s`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K${r.step === r.maxSteps ? '\n' : ''}` : `${line}\n`);
  };
  const { step } = await train({
    data: s('data')!, base: s('base')!, initFrom: s('init-from'), out: s('out')!,
    kind: choice(s('kind'), 'kind', ['pasd', 'pasd_light'] as const),
    controlType: choice(s('control-type'), 'control-type', ['realisr', 'grayscale'] as const) ?? d.controlType,
    degradation: choice(s('degradation'), 'degradation', ['realesrgan', 'bicubic', 'grayscale'] as const) ?? d.degradation,
    resolution: num(s('resolution'), 'resolution', { int: true, min: 8 }) ?? d.resolution,
    batchSize: num(s('batch-size'), 'batch-size', pos) ?? d.batchSize,
    gradientAccumulation: num(s('gradient-accumulation'), 'gradient-accumulation', pos) ?? d.gradientAccumulation,
    maxSteps: num(s('max-steps'), 'max-steps', pos) ?? d.maxSteps,
    learningRate: num(s('lr'), 'lr', { min: 0 }) ?? d.learningRate,
    lrSchedule: choice(s('lr-scheduler'), 'lr-scheduler', ['constant', 'constant_with_warmup'] as const) ?? d.lrSchedule,
    warmupSteps: num(s('warmup-steps'), 'warmup-steps', { int: true, min: 0 }) ?? d.warmupSteps,
    adam: {
      beta1: num(s('adam-beta1'), 'adam-beta1', { min: 0, max: 0.999999 }) ?? d.adam.beta1,
      beta2: num(s('adam-beta2'), 'adam-beta2', { min: 0, max: 0.999999 }) ?? d.adam.beta2,
      weightDecay: num(s('adam-weight-decay'), 'adam-weight-decay', { min: 0 }) ?? d.adam.weightDecay,
      eps: num(s('adam-epsilon'), 'adam-epsilon', { min: 0 }) ?? d.adam.eps,
    },
    maxGradNorm: num(s('max-grad-norm'), 'max-grad-norm', { min: 0 }) ?? d.maxGradNorm,
    checkpointEvery: num(s('checkpoint-every'), 'checkpoint-every', pos) ?? d.checkpointEvery,
    keepCheckpoints: num(s('keep'), 'keep', pos) ?? d.keepCheckpoints,
    proportionEmptyPrompts: num(s('proportion-empty-prompts'), 'proportion-empty-prompts', { min: 0, max: 1 }) ?? d.proportionEmptyPrompts,
    timestepRange: timestepRange(s('timesteps')),
    seed: num(s('seed'), 'seed', SEED_RANGE) ?? d.seed,
    resume: v.resume === true,
    overwrite: v.overwrite === true,
    threads: num(s('threads'), 'threads', THREADS_RANGE),
    controlnetConfig,
    trainableModules: s('trainable-modules')?.split(',').map((m) => m.trim()).filter((m) => m !== ''),
    warn: (m) => process.stderr.write(`pasd train: ${m}\n`),
    onStep: progress,
  });
  process.stderr.write(`pasd train: finished at step ${step}; checkpoints in ${s('out')}\n`);
  return 0;
}

/** `--timesteps LO,HI`: integers with 0 ≤ LO < HI (the upper bound is checked against the scheduler's num_train_timesteps in train()). */
function timestepRange(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((x) => x.trim());
  const [lo, hi] = parts.map(Number);
  if (parts.length !== 2 || parts.some((x) => x === '') || !Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi <= lo)
    throw new UsageError(`--timesteps: expected LO,HI with integers 0 ≤ LO < HI (e.g. 900,1000), got "${v}"`);
  return [lo, hi];
}
