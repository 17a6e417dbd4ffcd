/**
 * Training checkpoints, `<out>/checkpoint-<step>/`, in the layout `pasd upscale --model`
 * loads: `unet/` and `controlnet/` (config.json + diffusion_pytorch_model.safetensors, full
 * state dicts), `vae/` and `text_encoder/` when they were initialised at random, plus
 * `optimizer.safetensors` (AdamW moments per trainable parameter) and `trainer_state.json`
 * (step, AdamW step, data position, seed, options).
 *
 * Atomic: everything is written into `.checkpoint-<step>.tmp` (each file fsynced), then the
 * completion marker `COMPLETE`, the folder is fsynced and renamed to its final name, and the
 * parent fsynced. A folder without the marker is never loaded (a crash mid-write leaves at
 * most a temp folder, removed on the next start). The last `keep` complete ones are kept.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../checkpoint/safetensors.ts';
import { writeSafetensorsStreaming } from '../checkpoint/safetensors-write.ts';
import { CheckpointError } from '../core/errors.ts';
import { numel } from '../core/shape.ts';
import type { Module, Parameter } from '../nn/module.ts';
import { readSourceF32 } from './params.ts';

export const COMPLETE_MARKER = 'COMPLETE';
const WEIGHTS = 'diffusion_pytorch_model.safetensors';
/** transformers' file name for the text encoder, diffusers' for the rest. */
const weightsFile = (component: string) => (component === 'text_encoder' ? 'model.safetensors' : WEIGHTS);

export interface TrainerState {
  step: number;
  adamStep: number;
  /** Global index of the next training sample. */
  dataPosition: number;
  seed: number;
  [k: string]: unknown;
}

export interface CheckpointContent {
  step: number;
  /** Component folder name → module (full state dict written) and its config.json. */
  models: { name: string; module: Module; config: Record<string, unknown> }[];
  /** Trainable parameters and their AdamW moments. */
  params: readonly Parameter[];
  expAvg: readonly Float32Array[];
  expAvgSq: readonly Float32Array[];
  state: TrainerState;
}

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function writeSynced(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try { writeFileSync(fd, text); fsyncSync(fd); } finally { closeSync(fd); }
}

/**
 * Writes one checkpoint atomically; `afterFile` is called after each file (progress, tests).
 * Module weights are read where they live (files or host memory), one tensor at a time.
 */
export function writeCheckpoint(out: string, c: CheckpointContent, afterFile?: (path: string) => void): string {
  const final = join(out, `checkpoint-${c.step}`);
  const tmp = join(out, `.checkpoint-${c.step}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  mkdirSync(tmp); // exclusive: anything planted at the name since the rm is refused, not written into
  for (const m of c.models) {
    const dir = join(tmp, m.name);
    mkdirSync(dir);
    writeSynced(join(dir, 'config.json'), `${JSON.stringify(m.config, null, 2)}\n`);
    const params = new Map(m.module.namedParameters());
    const specs = [...params].map(([name, p]) => ({ name, dtype: 'float32' as const, shape: p.shape }));
    writeSafetensorsStreaming(join(dir, weightsFile(m.name)), specs, (s) => readSourceF32(params.get(s.name)!.source!, numel(s.shape)), { format: 'pt' });
    fsyncPath(dir);
    afterFile?.(join(dir, weightsFile(m.name)));
  }
  const moments = c.params.flatMap((p, i) => [
    { name: `exp_avg.${p.name}`, dtype: 'float32' as const, shape: p.shape, data: c.expAvg[i] },
    { name: `exp_avg_sq.${p.name}`, dtype: 'float32' as const, shape: p.shape, data: c.expAvgSq[i] },
  ]);
  const byName = new Map(moments.map((t) => [t.name, t.data]));
  writeSafetensorsStreaming(join(tmp, 'optimizer.safetensors'), moments, (s) => byName.get(s.name)!);
  afterFile?.(join(tmp, 'optimizer.safetensors'));
  writeSynced(join(tmp, 'trainer_state.json'), `${JSON.stringify(c.state, null, 2)}\n`);
  writeSynced(join(tmp, COMPLETE_MARKER), `${c.step}\n`);
  fsyncPath(tmp);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  fsyncPath(out);
  afterFile?.(final);
  return final;
}

/** Complete checkpoints in `out`, oldest first. */
export function listCheckpoints(out: string): { step: number; dir: string }[] {
  if (!existsSync(out)) return [];
  return readdirSync(out)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(out, m[0], COMPLETE_MARKER)))
    .map((m) => ({ step: Number(m[1]), dir: join(out, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/** Removes unfinished temp folders and all but the newest `keep` complete checkpoints. */
export function pruneCheckpoints(out: string, keep: number): void {
  if (!existsSync(out)) return;
  for (const n of readdirSync(out)) if (/^\.checkpoint-\d+\.tmp$/.test(n)) rmSync(join(out, n), { recursive: true, force: true });
  const all = listCheckpoints(out);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) rmSync(c.dir, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  state: TrainerState;
  /** Trainable values, in the order of `params`. */
  values: Float32Array[];
  expAvg: Float32Array[];
  expAvgSq: Float32Array[];
}

/**
 * Reads the trainable values and optimizer state of a complete checkpoint. `params` are named
 * `<component>.<key>` (e.g. `unet.up_blocks.1.pixel_attentions.0.proj_in.weight`).
 */
export function readCheckpoint(dir: string, params: readonly Parameter[]): LoadedCheckpoint {
  if (!existsSync(join(dir, COMPLETE_MARKER))) throw new CheckpointError(`${dir}: no ${COMPLETE_MARKER} marker; the checkpoint was not finished and is not loaded`);
  const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  const files = new Map<string, ReturnType<typeof openSafetensors>>();
  const file = (component: string) => {
    let f = files.get(component);
    if (!f) files.set(component, (f = openSafetensors(join(dir, component, WEIGHTS))));
    return f;
  };
  const opt = openSafetensors(join(dir, 'optimizer.safetensors'));
  const read = (f: ReturnType<typeof openSafetensors>, name: string, what: string) => {
    if (!f.tensors.has(name)) throw new CheckpointError(`${f.path}: no tensor "${name}" (${what}); the checkpoint does not match this model`);
    return f.readF32(name);
  };
  const values = params.map((p) => {
    const dot = p.name.indexOf('.');
    return read(file(p.name.slice(0, dot)), p.name.slice(dot + 1), 'trainable parameter');
  });
  return {
    state, values,
    expAvg: params.map((p) => read(opt, `exp_avg.${p.name}`, 'AdamW first moment')),
    expAvgSq: params.map((p) => read(opt, `exp_avg_sq.${p.name}`, 'AdamW second moment')),
  };
}
