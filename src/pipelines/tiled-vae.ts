/**
 * Tiled VAE encode/decode with exact GroupNorm statistics: any image size in bounded memory,
 * equal to the untiled AutoencoderKL up to float error.
 *
 * PASD's tiled VAE (`pasd/myutils/vaehook.py`) normalises each tile with the average of the
 * tile variances and group-normalises the mid-block attention input twice, so its result is
 * far from the untiled VAE (the `pipeline_tiled_vae` fixture). Here the network is cut at
 * every GroupNorm instead (tiled-vae-segments.ts): each segment runs tile by tile with the
 * exact halo its convs need, its outputs go to full-image channels-last host maps
 * (tiled-vae-maps.ts, spilled to temporary files past the memory budget) while their
 * per-channel Σx, Σx² are summed in float64 (from the tile outputs themselves, so the
 * statistics are those of exactly the values the next segment reads), and the next segment
 * normalises with those image-wide statistics. The mid-block attention runs over all latent
 * pixels in query chunks / key bands (tiled-vae-attention.ts).
 *
 * Tile placement: each segment tiles its own output map on a regular grid of equal tiles
 * covering the same image area in every segment (`encoderTileSize` image pixels,
 * `decoderTileSize` latent pixels, scaled to the segment's resolution); per axis
 * n = ⌈size / tile⌉ tiles of ⌈size / n⌉ (even on upsampling segments); the last tiles may
 * overhang the map, the overhang is masked and dropped. Tiles do not overlap, no blending.
 * An input within one tile whose attention fits the budget runs as the plain untiled graph.
 */
import { InputError } from '../core/errors.ts';
import type { AutoencoderKL } from '../models/autoencoders/autoencoder-kl.ts';
import type { VaeStage } from './vae-stage.ts';
import type { SpatialSelfAttention, UNetMidBlock2D } from '../models/autoencoders/vae.ts';
import type { ResnetBlock2D } from '../nn/resnet.ts';
import type { HostTensor } from '../runtime/session.ts';
import type { CompileOptions } from '../engine/compile.ts';
import { GraphCache } from './graph-cache.ts';
import { type VaePassKind, checkVaeInput, runVaePass } from './vae-pass.ts';
import { attentionChunks, runAttention } from './tiled-vae-attention.ts';
import { FeatureMap, GroupStats, MapPool, toChannelsFirst, toChannelsLast } from './tiled-vae-maps.ts';
import { type SegmentKind, type SegmentSpec, axisPlan, maskOf, outChannels, outputSize, traceSegment } from './tiled-vae-segments.ts';

export interface TiledVaeOptions {
  /** Tile side in image pixels for encoding (default 512). */
  encoderTileSize?: number;
  /** Tile side in latent pixels for decoding (default 64). */
  decoderTileSize?: number;
  /**
   * Bytes of feature maps kept in memory; larger totals go to temporary files under
   * `spillDir` (default 1 GiB). The attention's score blocks (scores and softmax, float32)
   * take at most about half of it, its keys and values, when held whole, a quarter.
   */
  memoryBudgetBytes?: number;
  /** Folder for spilled feature maps (default the OS temp folder). */
  spillDir?: string;
  /**
   * Keep every segment's compiled graph between calls (faster repeated calls; memory grows
   * with the number of segments, each session keeping its tile-sized working memory).
   * Default false: each graph is released after its pass, so about one tile's working set
   * is live at a time.
   */
  keepGraphs?: boolean;
}

/** A feature map with the GroupNorm statistics of its values (null for the last output). */
interface Act {
  readonly map: FeatureMap;
  readonly stats: GroupStats | null;
  /** Its resolution relative to the model input (image for encoding, latent for decoding). */
  readonly scale: number;
}

/** What one encode/decode did (for progress reports, benchmarks and tests). */
export interface TiledVaeRun {
  /** Per-tile graph runs of the conv segments, and the largest tile grid of one segment. */
  tiles: number;
  maxGrid: [number, number];
  /** Query chunks and key bands of the last mid-block attention (1 key band: all keys at once). */
  attentionChunks: [number, number];
  /** Largest total of feature-map bytes held in memory, and whether any map went to a file. */
  peakMapBytes: number;
  spilled: boolean;
}

const DEFAULTS = { encoderTileSize: 512, decoderTileSize: 64, memoryBudgetBytes: 1 << 30 };

/** One encode or decode's own state, passed down its calls: never kept on the TiledVae, so calls may overlap. */
interface Pass {
  readonly pool: MapPool;
  /** The tile side at the model input's resolution. */
  readonly tile: number;
  readonly run: TiledVaeRun;
}

export class TiledVae implements VaeStage {
  /** Kept graphs (keepGraphs), else null. */
  private readonly cache: GraphCache | null;
  private readonly compile: CompileOptions;
  private readonly opts: Required<Omit<TiledVaeOptions, 'spillDir'>> & Pick<TiledVaeOptions, 'spillDir'>;

  constructor(readonly vae: AutoencoderKL, options: TiledVaeOptions & CompileOptions = {}) {
    const { encoderTileSize, decoderTileSize, memoryBudgetBytes, spillDir, keepGraphs, ...compile } = options;
    this.opts = {
      keepGraphs: keepGraphs ?? false,
      encoderTileSize: encoderTileSize ?? DEFAULTS.encoderTileSize,
      decoderTileSize: decoderTileSize ?? DEFAULTS.decoderTileSize,
      memoryBudgetBytes: memoryBudgetBytes ?? DEFAULTS.memoryBudgetBytes,
      spillDir,
    };
    for (const k of ['encoderTileSize', 'decoderTileSize', 'memoryBudgetBytes'] as const)
      if (!(Number.isInteger(this.opts[k]) && this.opts[k] > 0)) throw new InputError(`tiled VAE: ${k} must be a positive integer, got ${this.opts[k]}`);
    this.compile = compile;
    this.cache = this.opts.keepGraphs ? new GraphCache(compile, Infinity) : null;
  }

  get scalingFactor(): number {
    return this.vae.config.scalingFactor;
  }

  /** image [1, 3, H, W] in [0, 1] → posterior mean and logvar of `image·2 − 1` (VaeStage.encode); `run`: what the pass did. */
  encode(image: Float32Array, shape: readonly number[]): Promise<{ mean: Float32Array; logvar: Float32Array; shape: number[]; run: TiledVaeRun }> {
    return this.encodeWith(image, shape, true);
  }

  /** image [1, 3, H, W] already in [-1, 1] → posterior mean and clamped logvar (AutoencoderKL.encode). */
  encodeRaw(image: Float32Array, shape: readonly number[]): Promise<{ mean: Float32Array; logvar: Float32Array; shape: number[]; run: TiledVaeRun }> {
    return this.encodeWith(image, shape, false);
  }

  /** latents [1, 4, h, w] (scaled; divided by the scaling factor here) → image in [0, 1], clamped (VaeStage.decode). */
  decode(latents: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[]; run: TiledVaeRun }> {
    return this.decodeWith(latents, shape, true);
  }

  /** latent [1, 4, h, w] already divided by the scaling factor → raw decoder output (AutoencoderKL.decode). */
  decodeRaw(latent: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[]; run: TiledVaeRun }> {
    return this.decodeWith(latent, shape, false);
  }

  async release(): Promise<void> {
    await this.cache?.release();
  }

  private async encodeWith(image: Float32Array, shape: readonly number[], from01: boolean) {
    const c = this.vae.config, enc = this.vae.encoder;
    const [, , H, W] = checkVaeInput('tiled VAE encode', image, shape, c.inChannels);
    const down = (n: number) => enc.down_blocks.items.reduce((m, b) => (b.downsamplers ? Math.floor(m / 2) : m), n);
    return this.pass(this.opts.encoderTileSize, async (p) => {
      if (this.fitsWhole(p, H, W, down(H) * down(W))) {
        const out = await this.whole(p, 'encode', from01, shape, image);
        return { mean: out.mean.data as Float32Array, logvar: out.logvar.data as Float32Array, shape: [...out.mean.shape] };
      }
      let x = await this.segment(p, {
        key: `enc.conv_in.${from01 ? '01' : 'raw'}`, kind: 'conv', norm: null, conv: enc.conv_in,
        prelude: from01 ? (t) => t.mul(2).sub(1) : undefined,
      }, { map: FeatureMap.inMemory(c.inChannels, H, W, toChannelsLast(image, c.inChannels, H, W)), stats: null, scale: 1 }, null);
      for (const [i, b] of enc.down_blocks.items.entries()) {
        for (const [j, r] of b.resnets.items.entries()) {
          const down = j === b.resnets.length - 1 && b.downsamplers ? b.downsamplers.at(0).conv : null;
          x = await this.resnet(p, `enc.down.${i}.${j}`, r, x, down ? { kind: 'resDown', conv: down } : null);
        }
      }
      x = await this.midBlock(p, 'enc.mid', enc.mid_block, x);
      const quant = this.vae.quant_conv;
      const moments = await this.segment(p, {
        key: 'enc.out', kind: 'conv', norm: enc.conv_norm_out, conv: enc.conv_out, post: quant ? (t) => quant.forward(t) : undefined,
      }, x, null, true);
      // moments [2·latent, h, w]: mean then logvar channels (DiagonalGaussianDistribution).
      const { c: mc, h: mh, w: mw } = moments.map;
      const all = toChannelsFirst(moments.map.all(), mc, mh, mw), half = all.length / 2;
      const mean = all.slice(0, half), logvar = all.slice(half).map((v) => Math.min(20, Math.max(-30, v)));
      moments.map.release();
      return { mean, logvar, shape: [1, c.latentChannels, moments.map.h, moments.map.w] };
    });
  }

  private async decodeWith(latents: Float32Array, shape: readonly number[], scaled: boolean) {
    const c = this.vae.config, dec = this.vae.decoder, pq = this.vae.post_quant_conv, sf = this.scalingFactor;
    const [, , h, w] = checkVaeInput('tiled VAE decode', latents, shape, c.latentChannels);
    return this.pass(this.opts.decoderTileSize, async (p) => {
      if (this.fitsWhole(p, h, w, h * w)) {
        const out = await this.whole(p, 'decode', scaled, shape, latents);
        return { image: out.image.data as Float32Array, shape: [...out.image.shape] };
      }
      let x = await this.segment(p, {
        key: `dec.conv_in.${scaled ? 'scaled' : 'raw'}`, kind: 'conv', norm: null, conv: dec.conv_in,
        prelude: (t) => {
          const z = scaled ? t.div(sf) : t;
          return pq ? pq.forward(z) : z;
        },
      }, { map: FeatureMap.inMemory(c.latentChannels, h, w, toChannelsLast(latents, c.latentChannels, h, w)), stats: null, scale: 1 }, null);
      x = await this.midBlock(p, 'dec.mid', dec.mid_block, x);
      for (const [i, b] of dec.up_blocks.items.entries()) {
        for (const [j, r] of b.resnets.items.entries()) {
          const up = j === b.resnets.length - 1 && b.upsamplers ? b.upsamplers.at(0).conv : null;
          x = await this.resnet(p, `dec.up.${i}.${j}`, r, x, up ? { kind: 'resUp', conv: up } : null);
        }
      }
      const out = await this.segment(p, {
        key: `dec.out.${scaled ? '01' : 'raw'}`, kind: 'conv', norm: dec.conv_norm_out, conv: dec.conv_out,
        post: scaled ? (t) => t.div(2).add(0.5).clip(0, 1) : undefined,
      }, x, null, true);
      const image = toChannelsFirst(out.map.all(), out.map.c, out.map.h, out.map.w);
      out.map.release();
      return { image, shape: [1, c.outChannels, out.map.h, out.map.w] };
    });
  }

  /** Runs one encode/decode as a pass of its own (fresh map pool, its own record); `tile` is the tile side at the model input's resolution. */
  private async pass<T>(tile: number, fn: (p: Pass) => Promise<T>): Promise<T & { run: TiledVaeRun }> {
    const p: Pass = { pool: new MapPool(this.opts.memoryBudgetBytes, this.opts.spillDir), tile, run: { tiles: 0, maxGrid: [1, 1], attentionChunks: [1, 1], peakMapBytes: 0, spilled: false } };
    try {
      const out = await fn(p);
      return { ...out, run: p.run };
    } finally {
      p.run.peakMapBytes = p.pool.peakRam;
      p.run.spilled = p.pool.spilled;
      p.pool.dispose();
    }
  }

  /**
   * Whether the input fits one tile and the attention over `tokens` latent pixels fits the
   * budget: then the plain untiled graph (as VaeStage runs it) is exact and cheapest.
   */
  private fitsWhole(p: Pass, h: number, w: number, tokens: number): boolean {
    return h <= p.tile && w <= p.tile && attentionChunks(tokens, this.vae.config.blockOutChannels.at(-1)!, this.opts.memoryBudgetBytes).nq >= tokens;
  }

  /** The whole encoder or decoder as one graph (./vae-pass.ts). */
  private whole(p: Pass, kind: VaePassKind, staged: boolean, shape: readonly number[], data: Float32Array): Promise<Record<string, HostTensor>> {
    p.run.tiles = 1;
    return this.withGraphs((cache) => runVaePass(cache, this.vae, kind, staged, shape, data));
  }

  /** ResnetBlock2D as two segments: norm1 → conv1, then norm2 → conv2 + shortcut (+ sampler). */
  private async resnet(p: Pass, key: string, r: ResnetBlock2D, x: Act, sampler: { kind: SegmentKind; conv: ResnetBlock2D['conv1'] } | null): Promise<Act> {
    const h = await this.segment(p, { key: `${key}.a`, kind: 'conv', norm: r.norm1, conv: r.conv1 }, x, null);
    const out = await this.segment(p, {
      key: `${key}.b`, kind: sampler?.kind ?? 'res', norm: r.norm2, conv: r.conv2, shortcut: r.conv_shortcut, resampleConv: sampler?.conv,
    }, h, x);
    h.map.release();
    x.map.release();
    return out;
  }

  private async midBlock(p: Pass, key: string, m: UNetMidBlock2D, x: Act): Promise<Act> {
    const [first, second] = m.resnets.items;
    let h = await this.resnet(p, `${key}.0`, first, x, null);
    if (m.attentions.length) {
      const attended = await this.attention(p, `${key}.attn`, m.attentions.at(0), h);
      h.map.release();
      h = attended;
    }
    return this.resnet(p, `${key}.1`, second, h, null);
  }

  private async attention(p: Pass, key: string, attn: SpatialSelfAttention, x: Act): Promise<Act> {
    if (!x.stats) throw new InputError(`tiled VAE: ${key} needs the statistics of its input`);
    const inStats = x.stats;
    const stats = new GroupStats(x.map.c, this.vae.config.normNumGroups);
    const n = x.map.h * x.map.w, { nq, nk } = attentionChunks(n, x.map.c, this.opts.memoryBudgetBytes);
    p.run.attentionChunks = [Math.ceil(n / nq), Math.ceil(n / nk)];
    const map = await this.withGraphs((cache) => runAttention({ attn, key, cache, pool: p.pool, budgetBytes: this.opts.memoryBudgetBytes }, x.map, inStats, stats));
    return { map, stats, scale: x.scale };
  }

  /** Runs `fn` with the kept graphs, or with graphs released when it is done. */
  private async withGraphs<T>(fn: (cache: GraphCache) => Promise<T>): Promise<T> {
    if (this.cache) return fn(this.cache);
    const cache = new GraphCache(this.compile, Infinity);
    try {
      return await fn(cache);
    } finally {
      await cache.release();
    }
  }

  /**
   * Runs segment `s` over every tile of its output map. `main` is the map the segment's norm
   * (if any) applies to, `res` the resnet's shortcut input. `last`: the output is the final
   * result, always in memory and without statistics.
   */
  private async segment(p: Pass, s: SegmentSpec, main: Act, res: Act | null, last = false): Promise<Act> {
    const { c: cin, h: hin, w: win } = main.map;
    const hout = outputSize(s.kind, hin), wout = outputSize(s.kind, win), cout = outChannels(s);
    const scale = main.scale * (s.kind === 'resDown' ? 0.5 : s.kind === 'resUp' ? 2 : 1);
    const ty = tileSide(hout, p.tile * scale, s.kind === 'resUp'), tx = tileSide(wout, p.tile * scale, s.kind === 'resUp');
    const map = last ? FeatureMap.inMemory(cout, hout, wout) : p.pool.create(cout, hout, wout);
    const stats = last ? null : new GroupStats(cout, this.vae.config.normNumGroups);
    const feeds: Record<string, HostTensor> = {};
    if (s.norm) {
      if (!main.stats) throw new InputError(`tiled VAE: ${s.key} needs the statistics of its input`);
      const { mean, rstd } = main.stats.meanRstd(hin * win, s.norm.eps);
      feeds.mean = { dtype: 'float32', shape: [1, cin, 1, 1], data: mean };
      feeds.rstd = { dtype: 'float32', shape: [1, cin, 1, 1], data: rstd };
    }
    const run = p.run;
    run.tiles += Math.ceil(hout / ty) * Math.ceil(wout / tx);
    if (Math.ceil(hout / ty) * Math.ceil(wout / tx) > run.maxGrid[0] * run.maxGrid[1]) run.maxGrid = [Math.ceil(hout / ty), Math.ceil(wout / tx)];
    await this.withGraphs(async (cache) => {
      const graph = await cache.get(`${s.key}/${ty}x${tx}`, () => traceSegment(s, cin, res?.map.c ?? 0, ty, tx));
      for (let a = 0; a < hout; a += ty) {
        for (let b = 0; b < wout; b += tx) {
          const py = axisPlan(s.kind, a, ty), px = axisPlan(s.kind, b, tx);
          feeds.x = { dtype: 'float32', shape: [1, py.main.len, px.main.len, cin], data: main.map.read(py.main.start, py.main.len, px.main.start, px.main.len) };
          if (res && py.res && px.res)
            feeds.res = { dtype: 'float32', shape: [1, py.res.len, px.res.len, res.map.c], data: res.map.read(py.res.start, py.res.len, px.res.start, px.res.len) };
          py.masks.forEach((m, k) => {
            feeds[`mask${k}_y`] = { dtype: 'float32', shape: [1, 1, m.iv.len, 1], data: maskOf(m.iv, m.at === 'in' ? hin : hout) };
            const mx = px.masks[k];
            feeds[`mask${k}_x`] = { dtype: 'float32', shape: [1, 1, 1, mx.iv.len], data: maskOf(mx.iv, mx.at === 'in' ? win : wout) };
          });
          const out = await graph.run(feeds);
          map.write(out.out.data as Float32Array, a, ty, b, tx, stats);
        }
      }
    });
    return { map, stats, scale };
  }
}

/** Side of equal tiles covering `size` with at most `target` each (even when `even`). */
export function tileSide(size: number, target: number, even: boolean): number {
  const n = Math.max(1, Math.ceil(size / Math.max(1, Math.round(target))));
  const t = Math.ceil(size / n);
  return even ? t + (t % 2) : t;
}
