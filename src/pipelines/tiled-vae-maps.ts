/**
 * Host storage for the tiled VAE's full-image feature maps (the values at the graph cuts), in
 * memory or, past a byte budget, in temporary files read and written by region, so the
 * resident memory stays bounded whatever the image size. Also the exact GroupNorm statistics
 * accumulated while tiles are written.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';

/**
 * A [C, H, W] float32 map. Regions are addressed in map coordinates and may reach outside
 * the map: reads give zeros there, writes drop those parts.
 */
export class FeatureMap {
  private constructor(
    readonly c: number,
    readonly h: number,
    readonly w: number,
    private ram: Float32Array | null,
    private fd: number | null,
    private readonly onRelease: () => void,
  ) {}

  static inMemory(c: number, h: number, w: number, data: Float32Array = new Float32Array(c * h * w), onRelease = () => {}): FeatureMap {
    if (data.length !== c * h * w) throw new InputError(`feature map: ${data.length} values do not fill [${c}, ${h}, ${w}]`);
    return new FeatureMap(c, h, w, data, null, onRelease);
  }

  static inFile(c: number, h: number, w: number, path: string, onRelease: () => void): FeatureMap {
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, c * h * w * 4);
    return new FeatureMap(c, h, w, null, fd, () => {
      closeSync(fd);
      rmSync(path, { force: true });
      onRelease();
    });
  }

  /** The same storage seen as [C, 1, H·W] (token ranges become column ranges); valid while this map is. */
  flat(): FeatureMap {
    return new FeatureMap(this.c, 1, this.h * this.w, this.ram, this.fd, () => {});
  }

  /** The whole map (in-memory maps return their own array). */
  all(): Float32Array {
    return this.ram ?? this.read(0, this.h, 0, this.w);
  }

  /** Rows [y0, y0+ly) × columns [x0, x0+lx) of every channel as [C, ly, lx]; zeros outside the map. */
  read(y0: number, ly: number, x0: number, lx: number): Float32Array {
    const out = new Float32Array(this.c * ly * lx);
    const ya = Math.max(0, y0), yb = Math.min(this.h, y0 + ly), xa = Math.max(0, x0), xb = Math.min(this.w, x0 + lx);
    if (ya >= yb || xa >= xb) return out;
    const fullRows = xa === 0 && xb === this.w && lx === this.w;
    for (let c = 0; c < this.c; c++) {
      if (fullRows) {
        this.copyOut(out, (c * ly + (ya - y0)) * lx, (c * this.h + ya) * this.w, (yb - ya) * this.w);
        continue;
      }
      for (let y = ya; y < yb; y++) this.copyOut(out, (c * ly + (y - y0)) * lx + (xa - x0), (c * this.h + y) * this.w + xa, xb - xa);
    }
    return out;
  }

  /**
   * Writes the in-map part of `tile` ([C, ly, lx] placed at (y0, x0)) and adds it to `stats`
   * (the statistics of a map cover exactly the values stored in it).
   */
  write(tile: Float32Array, y0: number, ly: number, x0: number, lx: number, stats: GroupStats | null): void {
    const ya = Math.max(0, y0), yb = Math.min(this.h, y0 + ly), xa = Math.max(0, x0), xb = Math.min(this.w, x0 + lx);
    if (ya >= yb || xa >= xb) return;
    for (let c = 0; c < this.c; c++) {
      for (let y = ya; y < yb; y++) {
        const from = (c * ly + (y - y0)) * lx + (xa - x0);
        this.copyIn(tile, from, (c * this.h + y) * this.w + xa, xb - xa);
        stats?.add(c, tile, from, xb - xa);
      }
    }
  }

  release(): void {
    this.ram = null;
    this.fd = null;
    this.onRelease();
  }

  private copyOut(dst: Float32Array, at: number, from: number, n: number): void {
    if (this.ram) dst.set(this.ram.subarray(from, from + n), at);
    else readSync(this.handle(), new Uint8Array(dst.buffer, dst.byteOffset + at * 4, n * 4), 0, n * 4, from * 4);
  }

  private copyIn(src: Float32Array, from: number, at: number, n: number): void {
    if (this.ram) this.ram.set(src.subarray(from, from + n), at);
    else writeSync(this.handle(), new Uint8Array(src.buffer, src.byteOffset + from * 4, n * 4), 0, n * 4, at * 4);
  }

  private handle(): number {
    if (this.fd === null) throw new InputError('feature map used after release');
    return this.fd;
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

  constructor(private readonly ramBudget: number, private readonly spillRoot: string = tmpdir()) {}

  create(c: number, h: number, w: number): FeatureMap {
    const bytes = c * h * w * 4;
    if (this.ramInUse + bytes <= this.ramBudget) {
      this.ramInUse += bytes;
      this.peakRam = Math.max(this.peakRam, this.ramInUse);
      return FeatureMap.inMemory(c, h, w, undefined, () => { this.ramInUse -= bytes; });
    }
    this.dir ??= mkdtempSync(join(this.spillRoot, 'pasd-tiled-vae-'));
    return FeatureMap.inFile(c, h, w, join(this.dir, `map-${this.files++}.f32`), () => {});
  }

  /** Whether any map went to a file. */
  get spilled(): boolean {
    return this.dir !== null;
  }

  dispose(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

/**
 * Per-group Σx and Σx² in float64 over every value written to a map: the image-wide
 * GroupNorm statistics, exact up to float64 rounding whatever the tiling.
 */
export class GroupStats {
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private readonly perGroup: number;

  constructor(readonly channels: number, readonly groups: number) {
    if (channels % groups !== 0) throw new InputError(`GroupNorm: ${groups} groups do not divide ${channels} channels`);
    this.sum = new Float64Array(groups);
    this.sumSq = new Float64Array(groups);
    this.perGroup = channels / groups;
  }

  add(channel: number, data: Float32Array, from: number, n: number): void {
    let s = 0, s2 = 0;
    for (let i = from; i < from + n; i++) {
      const v = data[i];
      s += v;
      s2 += v * v;
    }
    const g = Math.floor(channel / this.perGroup);
    this.sum[g] += s;
    this.sumSq[g] += s2;
  }

  /**
   * Per-channel mean and 1/√(var + eps) over `pixels` positions, as torch's GroupNorm
   * (population variance) computes them; float32 for the graph feeds.
   */
  meanRstd(pixels: number, eps: number): { mean: Float32Array; rstd: Float32Array } {
    const mean = new Float32Array(this.channels), rstd = new Float32Array(this.channels);
    const n = pixels * this.perGroup;
    for (let g = 0; g < this.groups; g++) {
      const m = this.sum[g] / n;
      const v = Math.max(0, this.sumSq[g] / n - m * m);
      for (let c = g * this.perGroup; c < (g + 1) * this.perGroup; c++) {
        mean[c] = m;
        rstd[c] = 1 / Math.sqrt(v + eps);
      }
    }
    return { mean, rstd };
  }
}
