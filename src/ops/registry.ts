/** The op registry: every op of `OpAttrs` with its definition; a missing one fails to compile. */
import { attentionOps } from './attention.ts';
import { convOps } from './conv.ts';
import { elementwiseOps } from './elementwise.ts';
import { linalgOps } from './linalg.ts';
import { normOps } from './norm.ts';
import { reduceOps } from './reduce.ts';
import { resizeOps } from './resize.ts';
import { shapeOps } from './shape-ops.ts';
import { UnsupportedError } from '../core/errors.ts';
import type { Node } from '../ir/graph.ts';
import type { OpDef, OpName, OpRegistry } from './types.ts';

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

/**
 * The definition of a node's op, with its attributes as the node holds them (IR nodes name
 * their op by string: `ir` must not import `ops`). A node of an op not registered here is an
 * UnsupportedError naming it.
 */
export function opOf(n: Node): OpDef<unknown> {
  if (!Object.hasOwn(OPS, n.op)) throw new UnsupportedError(`op "${n.op}" at "${n.scope || '<root>'}" is not a registered op`);
  return OPS[n.op as OpName] as OpDef<unknown>;
}
