/**
 * Host storage for the tiled VAE's full-image feature maps (the values at the graph cuts), in
 * memory or, past a byte budget, in temporary files read and written by region, so the
 * resident memory stays bounded whatever the image size. Also the exact GroupNorm statistics
 * accumulated while tiles are written.
 */
import { platform } from '#platform';
import type { ScratchFile } from '../platform/types.ts';
import { InputError } from '../core/errors.ts';

/**
 * A float32 map stored channels-last, [H, W, C], so that a region of a spilled map is read
 * or written with one call per row whatever the channel count (and a full-width band, or a
 * token range of the flat view, with one call). Regions are addressed in map coordinates and
 * may reach outside the map: reads give zeros there, writes drop those parts.
 */
export class FeatureMap {
  private constructor(
    readonly c: number,
    readonly h: number,
    readonly w: number,
    private ram: Float32Array | null,
    private file: ScratchFile | null,
    private readonly onRelease: () => void,
  ) {}

  /** A map over `data` [H, W, C] (not copied). */
  static inMemory(c: number, h: number, w: number, data: Float32Array = new Float32Array(c * h * w), onRelease = () => {}): FeatureMap {
    if (data.length !== c * h * w) throw new InputError(`feature map: ${data.length} values do not fill [${h}, ${w}, ${c}]`);
    return new FeatureMap(c, h, w, data, null, onRelease);
  }

  static inFile(c: number, h: number, w: number, path: string, onRelease: () => void): FeatureMap {
    const file = platform.scratchFile(path, c * h * w * 4);
    return new FeatureMap(c, h, w, null, file, () => {
      file.dispose();
      onRelease();
    });
  }

  /** The same storage seen as [1, H·W, C] (token ranges become column ranges); valid while this map is. */
  flat(): FeatureMap {
    return new FeatureMap(this.c, 1, this.h * this.w, this.ram, this.file, () => {});
  }

  /** The whole map, [H, W, C] (in-memory maps return their own array). */
  all(): Float32Array {
    return this.ram ?? this.read(0, this.h, 0, this.w);
  }

  /** Rows [y0, y0+ly) × columns [x0, x0+lx) as [ly, lx, C]; zeros outside the map. */
  read(y0: number, ly: number, x0: number, lx: number): Float32Array {
    const c = this.c, out = new Float32Array(ly * lx * c);
    const ya = Math.max(0, y0), yb = Math.min(this.h, y0 + ly), xa = Math.max(0, x0), xb = Math.min(this.w, x0 + lx);
    if (ya >= yb || xa >= xb) return out;
    if (xa === 0 && xb === this.w && lx === this.w) this.copyOut(out, (ya - y0) * lx * c, ya * this.w * c, (yb - ya) * this.w * c);
    else for (let y = ya; y < yb; y++) this.copyOut(out, ((y - y0) * lx + (xa - x0)) * c, (y * this.w + xa) * c, (xb - xa) * c);
    return out;
  }

  /**
   * Writes the in-map part of `tile` ([ly, lx, C] placed at (y0, x0)) and adds it to `stats`
   * (the statistics of a map cover exactly the values stored in it).
   */
  write(tile: Float32Array, y0: number, ly: number, x0: number, lx: number, stats: GroupStats | null): void {
    const c = this.c;
    const ya = Math.max(0, y0), yb = Math.min(this.h, y0 + ly), xa = Math.max(0, x0), xb = Math.min(this.w, x0 + lx);
    if (ya >= yb || xa >= xb) return;
    for (let y = ya; y < yb; y++) {
      const from = ((y - y0) * lx + (xa - x0)) * c;
      this.copyIn(tile, from, (y * this.w + xa) * c, (xb - xa) * c);
      stats?.add(tile, from, xb - xa);
    }
  }

  release(): void {
    this.ram = null;
    this.file = null;
    this.onRelease();
  }

  private copyOut(dst: Float32Array, at: number, from: number, n: number): void {
    if (this.ram) dst.set(this.ram.subarray(from, from + n), at);
    else this.handle().read(new Uint8Array(dst.buffer, dst.byteOffset + at * 4, n * 4), from * 4);
  }

  private copyIn(src: Float32Array, from: number, at: number, n: number): void {
    if (this.ram) this.ram.set(src.subarray(from, from + n), at);
    else this.handle().write(new Uint8Array(src.buffer, src.byteOffset + from * 4, n * 4), at * 4);
  }

  private handle(): ScratchFile {
    if (this.file === null) throw new InputError('feature map used after release');
    return this.file;
  }
}

/**
 * Creates maps in memory while their total stays within `ramBudget` bytes, in files under a
 * private temporary folder otherwise. `dispose` removes the folder.
 */
export class MapPool {
  private ramInUse = 0;
  private dir: string | null = null;
  private files = 0;
  /** Largest number of bytes held in memory at once (for reports and tests). */
  peakRam = 0;

  constructor(private readonly ramBudget: number, private readonly spillRoot?: string) {}

  create(c: number, h: number, w: number): FeatureMap {
    const bytes = c * h * w * 4;
    if (this.ramInUse + bytes <= this.ramBudget) {
      this.ramInUse += bytes;
      this.peakRam = Math.max(this.peakRam, this.ramInUse);
      return FeatureMap.inMemory(c, h, w, undefined, () => { this.ramInUse -= bytes; });
    }
    this.dir ??= platform.makeTempDir('pasd-tiled-vae-', this.spillRoot);
    return FeatureMap.inFile(c, h, w, platform.path.join(this.dir, `map-${this.files++}.f32`), () => {});
  }

  /** Whether any map went to a file. */
  get spilled(): boolean {
    return this.dir !== null;
  }

  dispose(): void {
    if (this.dir) platform.remove(this.dir);
    this.dir = null;
  }
}

/**
 * Σx and Σx² per channel in float64 over every value written to a map, summed per group:
 * the image-wide GroupNorm statistics, exact up to float64 rounding whatever the tiling.
 */
export class GroupStats {
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private readonly perGroup: number;

  constructor(readonly channels: number, readonly groups: number) {
    if (channels % groups !== 0) throw new InputError(`GroupNorm: ${groups} groups do not divide ${channels} channels`);
    this.sum = new Float64Array(channels);
    this.sumSq = new Float64Array(channels);
    this.perGroup = channels / groups;
  }

  /** Adds `pixels` channels-last pixels of `data` starting at element `from`. */
  add(data: Float32Array, from: number, pixels: number): void {
    const c = this.channels;
    for (let p = 0, i = from; p < pixels; p++) {
      for (let k = 0; k < c; k++, i++) {
        const v = data[i];
        this.sum[k] += v;
        this.sumSq[k] += v * v;
      }
    }
  }

  /**
   * Per-channel mean and 1/√(var + eps) over `pixels` positions, as torch's GroupNorm
   * (population variance) computes them; float32 for the graph feeds.
   */
  meanRstd(pixels: number, eps: number): { mean: Float32Array; rstd: Float32Array } {
    const mean = new Float32Array(this.channels), rstd = new Float32Array(this.channels);
    const n = pixels * this.perGroup;
    for (let g = 0; g < this.groups; g++) {
      let s = 0, s2 = 0;
      for (let k = g * this.perGroup; k < (g + 1) * this.perGroup; k++) {
        s += this.sum[k];
        s2 += this.sumSq[k];
      }
      const m = s / n, v = Math.max(0, s2 / n - m * m);
      mean.fill(m, g * this.perGroup, (g + 1) * this.perGroup);
      rstd.fill(1 / Math.sqrt(v + eps), g * this.perGroup, (g + 1) * this.perGroup);
    }
    return { mean, rstd };
  }
}

/** [C, H, W] ↔ [H, W, C] on the host (the API's layout vs the maps'). */
export function toChannelsLast(x: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) out[p * c + k] = x[k * h * w + p];
  return out;
}

export function toChannelsFirst(x: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) out[k * h * w + p] = x[p * c + k];
  return out;
}
