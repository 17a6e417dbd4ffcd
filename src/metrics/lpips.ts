/**
 * LPIPS as a metric: loads an LPIPS folder, compiles the traced network once per image size
 * and measures image pairs. No LPIPS weights can be bundled or downloaded here; a folder is:
 *
 *   config.json   {"lpips_net": "alex" | "vgg"} (+ optional "weight_exp", see models/lpips)
 *   backbone.safetensors | backbone.pth
 *                 torchvision ImageNet features: e.g. torchvision's own `alexnet-owt-7be5be79.pth`
 *                 or `vgg16-397923af.pth`, renamed; only the `features.*` keys are used
 *   lin.safetensors | lin.pth
 *                 the LPIPS v0.1 heads, e.g. PerceptualSimilarity's `lpips/weights/v0.1/alex.pth`
 *
 * With those real weights the numbers are the published LPIPS; the fixture folders
 * (`lpips_alex`, `lpips_vgg`) have random backbones and only test the computation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckpointFile, openCheckpoint } from '../checkpoint/checkpoint.ts';
import { ConfigError, ShapeError } from '../core/errors.ts';
import { type CompileOptions, type CompiledGraph, compileGraph } from '../engine/compile.ts';
import { storedTensor } from '../engine/weights.ts';
import { type Image, toTensor } from '../image/image.ts';
import { Lpips, lpipsConfig, traceLpips } from '../models/lpips/lpips.ts';
import type { StoredTensor } from '../nn/module.ts';

function findFile(dir: string, stem: string): string {
  for (const ext of ['.safetensors', '.pth', '.pt', '.bin']) {
    const p = join(dir, stem + ext);
    if (existsSync(p)) return p;
  }
  throw new ConfigError(`${dir}: no ${stem}.safetensors or ${stem}.pth (an LPIPS folder needs config.json, backbone.* and lin.*; see src/metrics/lpips.ts)`);
}

/** `features.*` of the backbone file (a full torchvision checkpoint also holds `classifier.*`) and every head. */
function weightsOf(backbone: CheckpointFile, lin: CheckpointFile): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [k, e] of backbone.tensors) if (k.startsWith('features.')) out.set(k, storedTensor(backbone.path, e));
  for (const [k, e] of lin.tensors) out.set(k, storedTensor(lin.path, e));
  return out;
}

/** [N, H, W, C] uint8 values (any numeric array) → [N, C, H, W] float32 `v/255`, LPIPS's input. */
export function nhwcU8ToNchw01(src: ArrayLike<number>, shape: readonly number[]): { data: Float32Array; shape: [number, number, number, number] } {
  if (shape.length !== 4 || src.length !== shape[0] * shape[1] * shape[2] * shape[3])
    throw new ShapeError(`LPIPS: expected [N, H, W, C] data, got ${src.length} values for [${shape.join(', ')}]`);
  const [n, h, w, c] = shape;
  const data = new Float32Array(src.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) data[((b * c + k) * h + y) * w + x] = src[((b * h + y) * w + x) * c + k] / 255;
  return { data, shape: [n, c, h, w] };
}

export interface LpipsResult {
  /** Per pair. */
  readonly distance: Float32Array;
  /** [N, 5] per-layer terms, row-major. */
  readonly perLayer: Float32Array;
}

export class LpipsMetric {
  private readonly sessions = new Map<string, Promise<CompiledGraph>>();

  private constructor(readonly model: Lpips, private readonly options: CompileOptions) {}

  /** Reads an LPIPS folder (layout above); weights stay in their files. */
  static load(dir: string, options: CompileOptions = {}): LpipsMetric {
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new ConfigError(`${dir}: no config.json; write {"lpips_net": "alex"} (or "vgg") next to the backbone and lin files`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
    } catch (e) {
      throw new ConfigError(`${cfgPath}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const config = lpipsConfig(raw as Record<string, unknown>, cfgPath, () => {});
    const backbone = openCheckpoint(findFile(dir, 'backbone'));
    const lin = openCheckpoint(findFile(dir, 'lin'));
    for (const [k, e] of backbone.tensors) {
      const quantised = e.dtype === 'int8' || e.dtype === 'uint8';
      if (k.startsWith('features.') && quantised !== (config.weightExp[k] !== undefined))
        throw new ConfigError(`${backbone.path}: "${k}" is stored as ${e.dtype} ${quantised ? 'without' : 'but has'} a "weight_exp" entry in ${cfgPath}`);
    }
    const model = new Lpips(config).nameTree(`lpips_${config.net}`);
    model.loadWeights(weightsOf(backbone, lin), { what: `LPIPS-${config.net} (${dir})` });
    model.applyWeightScales();
    return new LpipsMetric(model, options);
  }

  private session(n: number, h: number, w: number): Promise<CompiledGraph> {
    const key = `${n}x${h}x${w}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = compileGraph(traceLpips(this.model, { batch: n, height: h, width: w }), this.options);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** in0, in1: [N, 3, H, W] float32 in [0, 1]. */
  async compare(in0: Float32Array, in1: Float32Array, shape: readonly [number, number, number, number]): Promise<LpipsResult> {
    const [n, c, h, w] = shape;
    if (c !== 3 || in0.length !== n * c * h * w || in1.length !== in0.length)
      throw new ShapeError(`LPIPS: expected two [N, 3, H, W] batches of ${n * 3 * h * w} values for [${shape.join(', ')}], got ${in0.length} and ${in1.length}`);
    const s = await this.session(n, h, w);
    const out = await s.run({ in0: { dtype: 'float32', shape, data: in0 }, in1: { dtype: 'float32', shape, data: in1 } });
    return { distance: out.distance.data as Float32Array, perLayer: out.per_layer.data as Float32Array };
  }

  /** LPIPS between two RGB images of the same size. */
  async distance(a: Image, b: Image): Promise<number> {
    if (a.width !== b.width || a.height !== b.height || a.channels !== 3 || b.channels !== 3)
      throw new ShapeError(`LPIPS: needs two RGB images of the same size, got ${a.width}x${a.height}x${a.channels} and ${b.width}x${b.height}x${b.channels}`);
    const r = await this.compare(toTensor(a).data, toTensor(b).data, [1, 3, a.height, a.width]);
    return r.distance[0];
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}
