/**
 * Latent tiling as PASD's pipeline does it (pipeline_pasd.py `__call__`): tiles of
 * `tile × tile` latents, non-last tiles at i·(tile − overlap), the last tile of each axis
 * snapped to size − tile, visited column-major over x ("rows" run along x); outputs are
 * accumulated as Σ out·w / Σ w with the Gaussian tile weights into float32 buffers.
 */
export interface Tile {
  /** Latent offsets of the tile's top-left corner. */
  readonly y: number;
  readonly x: number;
  readonly size: number;
}

/** Number of tiles along an axis of `length` (the original's while loop). */
function gridCount(length: number, tile: number, overlap: number): number {
  let n = 0;
  let cur = 0;
  while (cur < length) {
    cur = Math.max(n * tile - overlap * n, 0) + tile;
    n++;
  }
  return n;
}

/**
 * Tiles covering an h × w latent, in the original's call order, or null when the latent is
 * small enough to run whole (h·w ≤ tile²).
 */
export function latentTiles(h: number, w: number, tileSize: number, overlap: number): Tile[] | null {
  if (h * w <= tileSize * tileSize) return null;
  const tile = Math.min(tileSize, h, w);
  const rows = gridCount(w, tile, overlap); // along x
  const cols = gridCount(h, tile, overlap); // along y
  const out: Tile[] = [];
  for (let row = 0; row < rows; row++)
    for (let col = 0; col < cols; col++) {
      const x = row === rows - 1 ? w - tile : Math.max(row * tile - overlap * row, 0);
      const y = col === cols - 1 ? h - tile : Math.max(col * tile - overlap * col, 0);
      out.push({ y, x, size: tile });
    }
  return out;
}

/**
 * The measured cost of one denoising evaluation on a tile of `pixels` latent pixels, per batch
 * item, in ms: t ≈ A·n + B·n² (convolutions linear in the pixels, self-attention quadratic).
 * Fitted to `bench/tiles.ts` (SD1.5 PASD step, onnxruntime CPU, 2 threads, tiles 48–128); it
 * predicted the 1024² run's 72-tile steps within 3 % (85 vs 87.3 s at batch 2).
 */
export function tileCostMs(pixels: number): number {
  return 1.29 * pixels + 1.42e-4 * pixels * pixels;
}

/** Smallest tile `autoTileSize` considers: below it a tile sees too little of the image. */
const MIN_AUTO_TILE = 64;

/**
 * The latent tile side the cost model predicts fastest for an h × w latent: the whole latent
 * (returned as max(h, w), which latentTiles runs whole) unless tiles of a side in
 * 64, 72, … ≤ min(h, w) cost less in all. Ties keep the whole latent (the original's default
 * for these sizes). At 96² (the original's 768 px) that is the whole latent; at 128² (1024 px),
 * 4 tiles of 72 (predicted 29 % faster).
 */
export function autoTileSize(h: number, w: number, overlap: number): number {
  let best = Math.max(h, w), bestCost = tileCostMs(h * w);
  for (let s = MIN_AUTO_TILE; s <= Math.min(h, w) && s * s < h * w; s += 8) {
    if (s <= overlap) continue;
    const cost = (latentTiles(h, w, s, overlap)?.length ?? 1) * tileCostMs(s * s);
    if (cost < bestCost) [best, bestCost] = [s, cost];
  }
  return best;
}

/** Copies the tile window of an NCHW float array [n, c, h, w] (scale: 8 for image tiles). */
export function cropTile(src: Float32Array, [n, c, h, w]: readonly number[], t: Tile, scale = 1): Float32Array {
  const s = t.size * scale, y0 = t.y * scale, x0 = t.x * scale;
  const out = new Float32Array(n * c * s * s);
  for (let p = 0; p < n * c; p++)
    for (let yy = 0; yy < s; yy++) {
      const from = (p * h + y0 + yy) * w + x0;
      out.set(src.subarray(from, from + s), (p * s + yy) * s);
    }
  return out;
}

/** Gaussian-weighted accumulation of tile outputs (float32 buffers, as the original). */
export class TileAccumulator {
  private readonly sum: Float32Array;
  private readonly weight: Float32Array;
  constructor(readonly shape: readonly [number, number, number, number], private readonly weights: Float64Array) {
    const [n, c, h, w] = shape;
    this.sum = new Float32Array(n * c * h * w);
    this.weight = new Float32Array(n * c * h * w);
  }

  add(t: Tile, out: Float32Array): void {
    const [n, c, h, w] = this.shape;
    const s = t.size;
    for (let p = 0; p < n * c; p++)
      for (let yy = 0; yy < s; yy++)
        for (let xx = 0; xx < s; xx++) {
          const wt = this.weights[yy * s + xx];
          const i = (p * h + t.y + yy) * w + t.x + xx;
          // torch: float32 output × float64 weight → float64 product, added into a float32 buffer.
          this.sum[i] = Math.fround(this.sum[i] + out[(p * s + yy) * s + xx] * wt);
          this.weight[i] = Math.fround(this.weight[i] + wt);
        }
  }

  result(): Float32Array {
    return this.sum.map((v, i) => v / this.weight[i]);
  }
}
