/** Tiny training setups on the fixture models: base / init-from folders made of symlinks. */
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TRAIN_DEFAULTS, type TrainOptions } from '../../src/train/loop.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

export const TRAIN_DATA = resolve(process.cwd(), '../shared/data/train');

/** base/ (unet, vae, text_encoder, tokenizer) and init/ (unet, controlnet) over the fixture models. */
export function tinyFolders(kind: 'pasd' | 'pasd_light' = 'pasd'): { root: string; base: string; init: string } {
  const root = mkdtempSync(join(tmpdir(), 'pasd-train-'));
  const base = join(root, 'base'), init = join(root, 'init');
  mkdirSync(base);
  mkdirSync(init);
  const unet = kind === 'pasd' ? 'pasd_unet' : 'pasd_light_unet';
  symlinkSync(modelDir(unet), join(base, 'unet'));
  symlinkSync(modelDir('vae'), join(base, 'vae'));
  symlinkSync(modelDir('text_encoder'), join(base, 'text_encoder'));
  symlinkSync(join(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
  symlinkSync(modelDir(unet), join(init, 'unet'));
  symlinkSync(modelDir(kind === 'pasd' ? 'pasd_controlnet' : 'pasd_light_controlnet'), join(init, 'controlnet'));
  return { root, base, init };
}

/** Fast options: 64² crops, bicubic control, 1 thread, no graph optimisation. */
export function tinyOptions(o: Pick<TrainOptions, 'base' | 'out'> & Partial<TrainOptions>): TrainOptions {
  return {
    ...TRAIN_DEFAULTS, data: TRAIN_DATA, degradation: 'bicubic', resolution: 64, learningRate: 5e-5,
    maxSteps: 4, checkpointEvery: 2, threads: 1, optimization: 'disabled', ...o,
  };
}
