import type { OpAttrs, OpDef } from './types.ts';
type NormOps = Pick<OpAttrs, 'GroupNormalization' | 'LayerNormalization'>;
export const normOps = {} as { [K in keyof NormOps]: OpDef<NormOps[K]> };
