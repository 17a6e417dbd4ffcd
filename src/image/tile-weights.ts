/**
 * Gaussian blending weights for latent tiles: pipeline_pasd.py `_gaussian_weights`.
 *
 * var = 0.01; the x profile is centred at (W-1)/2 but the y profile at H/2 — an asymmetry of
 * the original kept for parity (the tiles' bottom rows weigh slightly more than the top rows).
 * Computed in float64 like the original's numpy code, returned as float32 [H, W], row-major;
 * the pipeline broadcasts it over batch and channels.
 */
import { ShapeError } from '../core/errors.ts';

const VAR = 0.01;

function profile(n: number, midpoint: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp((-(i - midpoint) * (i - midpoint)) / (n * n) / (2 * VAR)) / Math.sqrt(2 * Math.PI * VAR);
  }
  return out;
}

/** The weights in float64, as the original's numpy array (the pipeline multiplies by these). */
export function gaussianTileWeightsF64(tileWidth: number, tileHeight: number): Float64Array {
  for (const [k, v] of [['tileWidth', tileWidth], ['tileHeight', tileHeight]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`gaussianTileWeights: ${k} must be a positive integer, got ${v}`);
  }
  const xs = profile(tileWidth, (tileWidth - 1) / 2);
  const ys = profile(tileHeight, tileHeight / 2);
  const out = new Float64Array(tileWidth * tileHeight);
  for (let y = 0; y < tileHeight; y++) {
    for (let x = 0; x < tileWidth; x++) out[y * tileWidth + x] = ys[y] * xs[x];
  }
  return out;
}

export function gaussianTileWeights(tileWidth: number, tileHeight: number): Float32Array {
  return Float32Array.from(gaussianTileWeightsF64(tileWidth, tileHeight));
}
