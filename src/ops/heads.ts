/** Splitting the channels of [B, N, h·d] sequences into heads and back (attention layouts). */
import type { Tensor } from './tensor.ts';

/** [B, N, h·d] → [B, h, N, d] */
export function splitHeads(x: Tensor, h: number): Tensor {
  const [b, n, c] = x.shape;
  return x.reshape([b, n, h, c / h]).transpose([0, 2, 1, 3]);
}

/** [B, h, N, d] → [B, N, h·d] */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, n, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([b, n, h * d]);
}
