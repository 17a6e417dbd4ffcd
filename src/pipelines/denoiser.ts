/**
 * One denoising evaluation: PASD ControlNet + UNet traced as ONE graph (no host round trip
 * for the 13 residuals), inputs latent [B,4,h,w], timestep int64 [1], prompt embeddings
 * [B,77,D], control image [B,3,8h,8w], conditioning scale [1] (plus the model family's
 * inputs, e.g. SDXL's text_embeds / time_ids, and its timestep dtype) → noise prediction.
 * Large latents are evaluated tile by tile (pipeline_pasd.py) and stitched with Gaussian weights.
 */
import type { HostTensor } from '../runtime/session.ts';
import { Graph } from '../ir/graph.ts';
import type { Module } from '../nn/module.ts';
import { Tensor } from '../ops/tensor.ts';
import type { ControlNetModel } from '../models/controlnets/controlnet.ts';
import type { ControlResiduals } from '../models/unets/unet-base.ts';
import type { UNetConfig } from '../config/unet.ts';
import type { TextTimeConditions } from '../nn/embeddings.ts';
import type { DenoiserConditioning } from './families/types.ts';
import { gaussianTileWeightsF64 } from '../image/tile-weights.ts';
import type { CompiledGraph } from '../engine/compile.ts';
import { GraphCache } from './graph-cache.ts';
import { type Tile, TileAccumulator, cropTile, latentTiles } from './tiles.ts';

/** What the pipeline needs of a UNet (PASD and PASD-light alike). */
export interface DenoisingUNet extends Module {
  readonly config: UNetConfig;
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals | null, added?: TextTimeConditions | null): Tensor;
}

export interface DenoiseInputs {
  /** [B, 4, h, w] (already scaled by the scheduler's scaleModelInput). */
  latents: Float32Array;
  shape: readonly [number, number, number, number];
  timestep: number;
  /** [B, 77, D] */
  embeds: HostTensor;
  /** [B, 3, 8h, 8w] in [0, 1] */
  image: Float32Array;
  conditioningScale: number;
  /** The model family's extra feeds (DenoiserConditioning), the same for every tile. */
  added?: Readonly<Record<string, HostTensor>>;
}

export interface TileOptions {
  tileSize: number;
  overlap: number;
  /** Called after each tile (1-based) with the tile count. */
  onTile?: (tile: number, tiles: number) => void;
  signal?: AbortSignal;
}

export class Denoiser {
  private readonly cache: GraphCache;
  /** Control-image crops per tile, kept while the same image is denoised (it is the same every step). */
  private crops: { image: Float32Array; byTile: Map<string, Float32Array> } | null = null;
  /** Control image pixels per latent pixel: 2^(stride-2 stages of the degradation removal module). */
  readonly factor: number;
  constructor(readonly unet: DenoisingUNet, readonly controlnet: ControlNetModel, options: ConstructorParameters<typeof GraphCache>[0],
    readonly conditioning: DenoiserConditioning | null = null) {
    this.cache = new GraphCache(options);
    this.factor = 2 ** (controlnet.config.conditioningEmbeddingOutChannels.length - 1);
  }

  trace(b: number, c: number, h: number, w: number, seq: number, dim: number): Graph {
    const g = new Graph(`pasd_denoise_${b}x${c}x${h}x${w}`);
    const f = (name: string, shape: number[], dtype: 'float32' | 'int64' = 'float32') => new Tensor(g, g.addInput(name, { dtype, shape }));
    const sample = f('sample', [b, c, h, w]);
    const t = f('timestep', [1], this.conditioning?.timestepDtype ?? 'int64');
    const ctx = f('encoder_hidden_states', [b, seq, dim]);
    const cond = f('controlnet_cond', [b, 3, this.factor * h, this.factor * w]);
    const scale = f('conditioning_scale', [1]);
    const added = this.conditioning?.inputs(g, b) ?? null;
    const control = this.controlnet.forward(sample, t, ctx, cond, scale, added);
    g.setOutputs({ noise_pred: this.unet.forward(sample, t, ctx, { down: control.down, mid: control.mid }, added).value });
    return g;
  }

  /** The compiled graph for one input shape (traced and compiled on first use). */
  session(b: number, c: number, h: number, w: number, seq: number, dim: number): Promise<CompiledGraph> {
    return this.cache.get(`${b}x${c}x${h}x${w}/${seq}x${dim}`, () => this.trace(b, c, h, w, seq, dim));
  }

  /** One evaluation of the whole (or one tile's) latent. */
  async run(x: DenoiseInputs): Promise<Float32Array> {
    const [b, c, h, w] = x.shape;
    const [, seq, dim] = x.embeds.shape;
    const s = await this.session(b, c, h, w, seq, dim);
    const out = await s.run({
      sample: { dtype: 'float32', shape: x.shape, data: x.latents },
      timestep: this.conditioning?.timestepDtype === 'float32'
        ? { dtype: 'float32', shape: [1], data: Float32Array.of(x.timestep) }
        : { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(x.timestep)) },
      encoder_hidden_states: x.embeds,
      controlnet_cond: { dtype: 'float32', shape: [b, 3, this.factor * h, this.factor * w], data: x.image },
      conditioning_scale: { dtype: 'float32', shape: [1], data: Float32Array.of(x.conditioningScale) },
      ...x.added,
    });
    return out.noise_pred.data as Float32Array;
  }

  /**
   * The original's tiled evaluation when h·w > tile², else one run. `onTileOutput` sees each
   * tile's raw prediction (before weighting), for parity checks.
   */
  async runTiled(x: DenoiseInputs, o: TileOptions, onTileOutput?: (t: Tile, input: Float32Array, out: Float32Array) => void): Promise<Float32Array> {
    const [b, c, h, w] = x.shape;
    const tiles = latentTiles(h, w, o.tileSize, o.overlap);
    if (!tiles) {
      const out = await this.run(x);
      o.onTile?.(1, 1);
      return out;
    }
    const size = tiles[0].size;
    const acc = new TileAccumulator(x.shape, gaussianTileWeightsF64(size, size));
    for (const [i, t] of tiles.entries()) {
      o.signal?.throwIfAborted();
      const latents = cropTile(x.latents, x.shape, t);
      const image = this.controlCrop(x.image, [b, 3, this.factor * h, this.factor * w], t);
      const out = await this.run({ ...x, latents, image, shape: [b, c, size, size] });
      onTileOutput?.(t, latents, out);
      acc.add(t, out);
      o.onTile?.(i + 1, tiles.length);
    }
    return acc.result();
  }

  private controlCrop(image: Float32Array, shape: readonly number[], t: Tile): Float32Array {
    if (this.crops?.image !== image) this.crops = { image, byTile: new Map() };
    const key = `${t.y},${t.x},${t.size}`;
    let crop = this.crops.byTile.get(key);
    if (!crop) this.crops.byTile.set(key, crop = cropTile(image, shape, t, this.factor));
    return crop;
  }

  /** Drops the control-image crops kept for the image just denoised. */
  dropControlCrops(): void {
    this.crops = null;
  }

  release(): Promise<void> {
    this.crops = null;
    return this.cache.release();
  }
}
