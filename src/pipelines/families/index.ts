/**
 * The model-family registry: the first family whose `matches` accepts the checkpoint's UNet
 * config is used (SD1.5 last: it takes every UNet without an addition embedding).
 */
import { platform } from '#platform';
import { readModelConfig } from '../../checkpoint/folder.ts';
import { type UNetConfig, parseUNetConfig } from '../../config/unet.ts';
import { UnsupportedError } from '../../core/errors.ts';
import type { ComponentPaths } from '../load.ts';
import { sd15 } from './sd15/index.ts';
import { sdxl } from './sdxl/index.ts';
import type { ModelFamily } from './types.ts';

const { join } = platform.path;

export const FAMILIES: readonly ModelFamily[] = [sdxl, sd15];

export function familyOf(unet: UNetConfig): ModelFamily {
  const f = FAMILIES.find((x) => x.matches(unet));
  if (!f) throw new UnsupportedError(`no model family takes this UNet config (families: ${FAMILIES.map((x) => x.name).join(', ')})`);
  return f;
}

/** The family of a UNet folder's config.json; SD1.5 when the folder has none (its loader then reports what is missing). */
export function familyOfUNetFolder(dir: string): ModelFamily {
  if (!platform.exists(join(dir, 'config.json'))) return sd15;
  return familyOf(parseUNetConfig(readModelConfig(dir), `${dir}/config.json`, () => {}));
}

/** Component folders of a PASD checkpoint + base folder, as the checkpoint's family lays them out. */
export function modelPaths(model: string, base: string): ComponentPaths {
  return familyOfUNetFolder(join(model, 'unet')).componentPaths(model, base);
}
