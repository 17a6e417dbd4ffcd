/**
 * How a model's attention cores and GroupNorms are traced (what bench/run.ts compares):
 * the defaults are the measured-faster forms (fused MultiHeadAttention, GroupNorm as
 * Reshape → InstanceNormalization → Mul/Add); the alternatives are the plain ONNX forms.
 */
import { Attention } from './attention.ts';
import { GroupNorm } from './layers.ts';
import { Module } from './module.ts';

export interface Lowering {
  attention?: Attention['lowering'];
  groupNorm?: GroupNorm['lowering'];
}

/** Sets the lowering of every Attention and GroupNorm below `root`; returns how many modules changed. */
export function setLowering(root: Module, l: Lowering): number {
  let n = 0;
  const walk = (m: Module) => {
    if (l.attention && m instanceof Attention) { m.lowering = l.attention; n++; }
    if (l.groupNorm && m instanceof GroupNorm) { m.lowering = l.groupNorm; n++; }
    for (const [, c] of m.children()) if (c instanceof Module) walk(c);
  };
  walk(root);
  return n;
}
