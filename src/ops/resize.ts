import type { OpAttrs, OpDef } from './types.ts';
type ResizeOps = Pick<OpAttrs, 'Resize' | 'Pad'>;
export const resizeOps = {} as { [K in keyof ResizeOps]: OpDef<ResizeOps[K]> };
