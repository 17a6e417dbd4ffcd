/**
 * The training loop of train_pasd.py: batches from the prefetching loader, one step graph
 * run per micro-batch (gradients averaged over `gradientAccumulation` micro-batches, as
 * accelerate divides the loss), clipping, AdamW at the scheduled LR, a JSONL log line per
 * step, atomic checkpoints every `checkpointEvery` steps (and at the end), and `resume` from
 * the newest complete checkpoint: weights, AdamW moments and step, LR schedule position,
 * data position and random draws (every draw of step s comes from a generator seeded by
 * (seed, s), so nothing else needs saving).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { DDPMScheduler } from '../schedulers/ddpm.ts';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import { type TrainerState, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { type Degradation, type DatasetOptions, listImages, mixSeed } from './dataset.ts';
import { SampleLoader } from './loader.ts';
import type { PasdKind } from './models.ts';
import { ADAMW_DEFAULTS, AdamW, type AdamWOptions, clipGradNorm } from './optimizer.ts';
import { bindHostValues, parameterValues } from './params.ts';
import { setupTraining } from './setup.ts';
import { type ControlType, trainableParameters } from './step-graph.ts';
import { StepRunner } from './step.ts';
import { TRAIN_LOG, checkRunFolder, clearRunFolder, trimTrainLog } from './run-folder.ts';

export type LrSchedule = 'constant' | 'constant_with_warmup';

export interface TrainOptions {
  data: string;
  base: string;
  initFrom?: string;
  out: string;
  kind?: PasdKind;
  controlType: ControlType;
  degradation: Degradation;
  resolution: number;
  batchSize: number;
  gradientAccumulation: number;
  maxSteps: number;
  learningRate: number;
  lrSchedule: LrSchedule;
  warmupSteps: number;
  adam: AdamWOptions;
  maxGradNorm: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  proportionEmptyPrompts: number;
  /** Training timesteps are drawn uniformly from [lo, hi) (not in the original); default [0, num_train_timesteps). */
  timestepRange?: readonly [number, number];
  seed: number;
  resume: boolean;
  /** Start over in an `out` that holds a previous run (its checkpoints and log are deleted); without it or `resume` that is refused. */
  overwrite?: boolean;
  threads?: number;
  /** onnxruntime graph optimisation (default 'all'; tests use 'disabled' to compile faster). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  controlnetConfig?: Record<string, unknown>;
  /** UNet parameters whose name contains one of these train (train_pasd.py `--trainable_modules`); default the pixel-aware modules. */
  trainableModules?: readonly string[];
  warn?: (m: string) => void;
  /** Called after every optimizer step. */
  onStep?: (r: StepLog) => void;
  /** Called after each file of a checkpoint is written (progress; tests stop the process here). */
  onCheckpointFile?: (path: string) => void;
}

export const TRAIN_DEFAULTS = Object.freeze({
  controlType: 'realisr' as ControlType, degradation: 'realesrgan' as Degradation, resolution: 512, batchSize: 1,
  gradientAccumulation: 1, maxSteps: 1000, learningRate: 5e-6, lrSchedule: 'constant' as LrSchedule, warmupSteps: 500,
  adam: ADAMW_DEFAULTS, maxGradNorm: 1, checkpointEvery: 500, keepCheckpoints: 3, proportionEmptyPrompts: 0.5, seed: 0, resume: false,
});

export interface StepLog {
  step: number;
  maxSteps: number;
  loss: number;
  lossMse: number;
  lossL1: number[];
  lr: number;
  gradNorm: number;
  seconds: number;
}

/** The batch's training timesteps: uniform integers in [lo, hi) (train_pasd.py: [0, num_train_timesteps)). */
export function drawTimesteps(rng: Random, batch: number, [lo, hi]: readonly [number, number]): number[] {
  return Array.from({ length: batch }, () => rng.randint(lo, hi));
}

/** diffusers `get_scheduler` as a LambdaLR: the factor before optimizer step `done` + 1. */
export function lrAt(o: Pick<TrainOptions, 'learningRate' | 'lrSchedule' | 'warmupSteps'>, done: number): number {
  if (o.lrSchedule === 'constant' || done >= o.warmupSteps) return o.learningRate;
  return (o.learningRate * done) / Math.max(1, o.warmupSteps);
}

export async function train(o: TrainOptions): Promise<{ step: number; log: StepLog[] }> {
  if (o.controlType === 'grayscale' && o.degradation !== 'grayscale') throw new InputError('--control-type grayscale needs --degradation grayscale (the control image is the grayscale crop)');
  checkRunFolder(o.out, o);
  mkdirSync(o.out, { recursive: true });
  if (o.overwrite && !o.resume) clearRunFolder(o.out);
  const setup = setupTraining({ base: o.base, initFrom: o.initFrom, kind: o.kind, controlnetConfig: o.controlnetConfig, trainableModules: o.trainableModules, warn: o.warn }, new Random(mixSeed(o.seed, 0)));
  const params = trainableParameters(setup.controlnet, setup.unet, o.trainableModules);
  let values = parameterValues(params);
  const adam = new AdamW(values.map((v) => v.length), o.adam);
  let step = 0, dataPosition = 0;
  const resumeFrom = o.resume ? listCheckpoints(o.out).at(-1) : undefined;
  pruneCheckpoints(o.out, Math.max(o.keepCheckpoints, 1));
  if (resumeFrom) {
    const c = readCheckpoint(resumeFrom.dir, params);
    values = c.values;
    c.expAvg.forEach((m, i) => adam.expAvg[i].set(m));
    c.expAvgSq.forEach((m, i) => adam.expAvgSq[i].set(m));
    adam.step = c.state.adamStep;
    step = c.state.step;
    dataPosition = c.state.dataPosition;
  }
  trimTrainLog(o.out, step);
  bindHostValues(params, values); // checkpoints read the live arrays AdamW updates

  const scheduler = new DDPMScheduler(setup.schedulerConfig, o.warn ? (m) => o.warn!(`scheduler: ${m}`) : () => {});
  const [tLo, tHi] = o.timestepRange ?? [0, scheduler.config.numTrainTimesteps];
  if (!(Number.isInteger(tLo) && Number.isInteger(tHi) && 0 <= tLo && tLo < tHi && tHi <= scheduler.config.numTrainTimesteps))
    throw new InputError(`timestep range [${tLo}, ${tHi}) must lie in [0, ${scheduler.config.numTrainTimesteps}) (the scheduler's num_train_timesteps) with LO < HI`);
  const files = listImages(o.data);
  const dataOptions: DatasetOptions = { resolution: o.resolution, degradation: o.degradation, scale: 4, proportionEmptyPrompts: o.proportionEmptyPrompts, seed: o.seed };
  const loader = new SampleLoader(files, dataOptions, dataPosition, Math.max(4, 2 * o.batchSize));
  const tokenizer = ClipTokenizer.fromFolder(setup.tokenizerDir);
  const runner = new StepRunner(setup, params, scheduler, { threads: o.threads, optimization: o.optimization, controlType: o.controlType });
  const logPath = join(o.out, TRAIN_LOG);
  const log: StepLog[] = [];
  const R = o.resolution, B = o.batchSize, px = 3 * R * R;
  const components = [
    { name: 'unet', module: setup.unet, config: setup.configs.unet },
    { name: 'controlnet', module: setup.controlnet, config: setup.configs.controlnet },
    ...(setup.randomFrozen.includes('vae') ? [{ name: 'vae', module: setup.vae, config: setup.configs.vae }] : []),
    ...(setup.randomFrozen.includes('text_encoder') ? [{ name: 'text_encoder', module: setup.textEncoder, config: setup.configs.textEncoder }] : []),
  ];
  const checkpoint = () => {
    const state: TrainerState = { step, adamStep: adam.step, dataPosition: loader.position, seed: o.seed, kind: setup.kind, controlType: o.controlType, learningRate: o.learningRate };
    writeCheckpoint(o.out, { step, models: components, params, expAvg: adam.expAvg, expAvgSq: adam.expAvgSq, state }, o.onCheckpointFile);
    pruneCheckpoints(o.out, o.keepCheckpoints);
  };
  try {
    while (step < o.maxSteps) {
      const t0 = performance.now();
      let sum: (Float32Array | null)[] | null = null;
      let loss = 0, lossMse = 0, lossL1: number[] = [];
      for (let a = 0; a < o.gradientAccumulation; a++) {
        const samples = [];
        for (let i = 0; i < B; i++) samples.push(await loader.take());
        const pixelValues = new Float32Array(B * px), cond = new Float32Array(B * px);
        samples.forEach((s, i) => { pixelValues.set(s.pixelValues, i * px); cond.set(s.cond, i * px); });
        const ids = tokenizer.call(samples.map((s) => s.caption)).inputIds;
        const rng = new Random(mixSeed(o.seed, 3, step, a));
        const f = setup.vae.factor, lat = B * setup.vae.config.latentChannels * (R / f) * (R / f);
        const r = await runner.run({
          pixelValues, cond, inputIds: ids, batch: B, height: R, width: R,
          posteriorNoise: rng.randn(lat), noise: rng.randn(lat),
          timesteps: drawTimesteps(rng, B, [tLo, tHi]),
        }, values);
        const k = 1 / o.gradientAccumulation;
        loss += r.loss * k; lossMse += r.lossMse * k;
        lossL1 = r.lossL1.map((x, i) => (lossL1[i] ?? 0) + x * k);
        if (!sum) sum = r.grads.map((g) => g && Float32Array.from(g, (x) => x * k));
        else r.grads.forEach((g, i) => { if (g) for (let j = 0; j < g.length; j++) sum![i]![j] += g[j] * k; });
      }
      const { totalNorm } = clipGradNorm(sum!, o.maxGradNorm);
      const lr = lrAt(o, step);
      adam.update(values, sum!, lr);
      step++;
      const entry: StepLog = { step, maxSteps: o.maxSteps, loss, lossMse, lossL1, lr, gradNorm: totalNorm, seconds: (performance.now() - t0) / 1000 };
      log.push(entry);
      appendFileSync(logPath, `${JSON.stringify({ ...entry, time: new Date().toISOString() })}\n`);
      o.onStep?.(entry);
      if (step % o.checkpointEvery === 0 || step === o.maxSteps) checkpoint();
    }
  } finally {
    await loader.close();
    await runner.release();
  }
  return { step, log };
}
