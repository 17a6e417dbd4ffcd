/**
 * Stable Diffusion 1.5 under PASD and PASD-light (`pipeline_pasd.py`, `test_pasd.py`): one CLIP
 * text encoder, the denoising graph without extra inputs, the pipeline's own defaults.
 */
import type { ModelFamily } from '../types.ts';
import { componentPaths, loadComponents } from '../../load.ts';
import { TextStage } from '../../stages.ts';

export const sd15: ModelFamily = {
  name: 'sd15',
  matches: (unet) => unet.addition === null,
  componentPaths,
  load: loadComponents,
  textConditioner: (c, options) => new TextStage(c.textEncoder, c.tokenizer, options),
  denoiserConditioning: () => null,
  defaults: {},
  lrStart: 'pasd',
  offsetNoiseDraw: true,
};
