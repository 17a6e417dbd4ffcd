/** The fixture groups this runner handles; any other group is reported "not supported". */
import type { GroupHandler } from '../types.ts';
import { checkpointConvert } from './checkpoint-convert.ts';
import { degradations } from './degradations.ts';
import { helpers } from './helpers.ts';
import { lpips } from './lpips.ts';
import { metrics } from './metrics.ts';
import { models } from './models.ts';
import { pipeline } from './pipeline.ts';
import { schedulers } from './schedulers.ts';
import { sdxl } from './sdxl.ts';
import { text } from './text.ts';
import { train } from './train.ts';
import { vae } from './vae.ts';

export const HANDLERS: Readonly<Record<string, GroupHandler>> = {
  schedulers,
  helpers,
  text,
  models,
  models_light: models,
  vae,
  degradations,
  metrics,
  lpips,
  pipeline,
  checkpoint_convert: checkpointConvert,
  train,
  sdxl,
};
