import type { OpAttrs, OpDef } from './types.ts';
type ConvOps = Pick<OpAttrs, 'Conv' | 'ConvTranspose'>;
export const convOps = {} as { [K in keyof ConvOps]: OpDef<ConvOps[K]> };
