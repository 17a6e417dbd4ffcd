/**
 * One denoising evaluation: PASD ControlNet + UNet traced as ONE graph (no host round trip
 * for the 13 residuals), inputs latent [B,4,h,w], timestep int64 [1], prompt embeddings
 * [B,77,D], control image [B,3,8h,8w] (the ControlNet's conditioning channels), conditioning
 * scale [1] (plus the model family's inputs, e.g. SDXL's text_embeds / time_ids, and its timestep
 * dtype) → noise prediction. Large latents are evaluated tile by tile (pipeline_pasd.py) and
 * stitched with Gaussian weights.
 */
import type { HostTensor } from '../runtime/session.ts';
import { Graph } from '../ir/graph.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../ops/tensor.ts';
import { type ControlNetModel, controlNetInputs } from '../models/controlnets/controlnet.ts';
import { ShapeError } from '../core/errors.ts';
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
  /**
   * Crops of `image` per tile, kept by the caller while it denoises that one image (the control
   * image is the same every step); keyed by the tile's place and size. Absent: cropped anew.
   */
  controlCrops?: Map<string, Float32Array>;
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
  /** Control image pixels per latent pixel: 2^(stride-2 stages of the degradation removal module). */
  readonly factor: number;
  constructor(readonly unet: DenoisingUNet, readonly controlnet: ControlNetModel, options: ConstructorParameters<typeof GraphCache>[0],
    readonly conditioning: DenoiserConditioning | null = null) {
    this.cache = new GraphCache(options);
    this.factor = 2 ** (controlnet.config.conditioningEmbeddingOutChannels.length - 1);
  }

  /** The ControlNet's inputs (controlNetInputs) → the UNet's noise prediction; `c` and `dim` must be the ControlNet's. */
  trace(b: number, c: number, h: number, w: number, seq: number, dim: number): Graph {
    const cfg = this.controlnet.config;
    if (c !== cfg.inChannels || dim !== cfg.crossAttentionDim)
      throw new ShapeError(`denoiser: latents with ${c} channels and prompt embeddings of width ${dim}, but the ControlNet takes ${cfg.inChannels} and ${cfg.crossAttentionDim}`);
    const g = new Graph(`pasd_denoise_${b}x${c}x${h}x${w}`);
    const cond = this.conditioning;
    const x = controlNetInputs(
      g, this.controlnet,
      { batch: b, height: h, width: w, contextLength: seq, condFactor: this.factor, timestepDtype: cond?.timestepDtype ?? 'int64' },
      (g, batch) => cond?.inputs(g, batch) ?? null,
    );
    const control = this.controlnet.forward(x.sample, x.timestep, x.encoder_hidden_states, x.controlnet_cond, x.conditioning_scale, x.added);
    g.setOutputs({ noise_pred: this.unet.forward(x.sample, x.timestep, x.encoder_hidden_states, { down: control.down, mid: control.mid }, x.added).value });
    return g;
  }

  /** The compiled graph for one input shape (traced and compiled on first use). */
  session(b: number, c: number, h: number, w: number, seq: number, dim: number): Promise<CompiledGraph> {
    return this.cache.get(`${b}x${c}x${h}x${w}/${seq}x${dim}`, () => this.trace(b, c, h, w, seq, dim));
  }

  /** The control image's shape for latents [b, ·, h, w]. */
  private condShape(b: number, h: number, w: number): [number, number, number, number] {
    return [b, this.controlnet.config.conditioningChannels, this.factor * h, this.factor * w];
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
      controlnet_cond: { dtype: 'float32', shape: this.condShape(b, h, w), data: x.image },
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
      const image = this.controlCrop(x, t);
      const out = await this.run({ ...x, latents, image, shape: [b, c, size, size] });
      onTileOutput?.(t, latents, out);
      acc.add(t, out);
      o.onTile?.(i + 1, tiles.length);
    }
    return acc.result();
  }

  /** The control image's crop under latent tile `t`, from the caller's per-image crops when it keeps them. */
  private controlCrop(x: DenoiseInputs, t: Tile): Float32Array {
    const [b, , h, w] = x.shape;
    const key = `${t.y},${t.x},${t.size}`;
    let crop = x.controlCrops?.get(key);
    if (!crop) {
      crop = cropTile(x.image, this.condShape(b, h, w), t, this.factor);
      x.controlCrops?.set(key, crop);
    }
    return crop;
  }

  release(): Promise<void> {
    return this.cache.release();
  }
}
