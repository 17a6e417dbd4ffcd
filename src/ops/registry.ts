/** The op registry: every op of `OpAttrs` with its definition; a missing one fails to compile. */
import { attentionOps } from './attention.ts';
import { convOps } from './conv.ts';
import { elementwiseOps } from './elementwise.ts';
import { linalgOps } from './linalg.ts';
import { normOps } from './norm.ts';
import { reduceOps } from './reduce.ts';
import { resizeOps } from './resize.ts';
import { shapeOps } from './shape-ops.ts';
import type { OpRegistry } from './types.ts';

export const OPS: OpRegistry = {
  ...elementwiseOps,
  ...shapeOps,
  ...reduceOps,
  ...linalgOps,
  ...convOps,
  ...normOps,
  ...resizeOps,
  ...attentionOps,
};
