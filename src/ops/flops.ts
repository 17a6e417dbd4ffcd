/**
 * Floating-point operations of a graph (multiply and add counted separately), for benchmark
 * throughput: convolutions and matrix products dominate; everything else counts one
 * operation per output element.
 */
import { numel } from '../core/shape.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { liveNodes } from '../ir/passes.ts';
import type { OpAttrs } from './types.ts';

const FREE = new Set(['Reshape', 'Transpose', 'Concat', 'Slice', 'Split', 'Gather', 'Expand', 'Constant', 'Cast', 'Pad']);

export function nodeFlops(n: Node): number {
  const out = n.outputs[0].shape;
  switch (n.op) {
    case 'Conv': {
      const w = n.inputs[1].shape; // [O, C/g, kh, kw]: each output sums C/g·kh·kw products
      return 2 * numel(out) * w[1] * w[2] * w[3];
    }
    case 'ConvTranspose': {
      const x = n.inputs[0].shape, w = n.inputs[1].shape; // x [N, C, H, W], w [C, O/g, kh, kw]
      return 2 * numel(x) * w[1] * w[2] * w[3];
    }
    case 'MatMul':
    case 'Gemm': {
      const a = n.inputs[0].shape;
      const k = n.op === 'Gemm' && (n.attrs as OpAttrs['Gemm']).transA ? a[0] : a[a.length - 1];
      return 2 * numel(out) * k;
    }
    case 'MultiHeadAttention': {
      const [b, q, c] = n.inputs[0].shape, k = n.inputs[1].shape[1], e = n.inputs[2].shape[2];
      return 2 * b * q * k * (c + e); // q·kᵀ over every head plus p·v
    }
    default:
      return FREE.has(n.op) ? 0 : n.outputs.reduce((s, o) => s + numel(o.shape), 0);
  }
}

export function graphFlops(g: Graph): number {
  return liveNodes(g).reduce((s, n) => s + nodeFlops(n), 0);
}
