import { UnsupportedError } from '../../core/errors.ts';
import type { GroupHandler } from '../types.ts';

export const sdxlPipeline: GroupHandler = async (ctx) => {
  throw new UnsupportedError(`${ctx.meta.name}: not yet`);
};
