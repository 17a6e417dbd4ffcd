/**
 * SD1.5-scale cases: PASD ControlNet + UNet (one denoising evaluation) at a 64×64 latent with
 * batch 2 (CFG) and 1, on random weights written once to a temporary safetensors file at the
 * real SD1.5 configs (../shared/data/misc/stable-diffusion-v1-5, or PASD_SD15_DIR: the device
 * script carries the config files alone). Reports ms, GFLOP/s from the graph's FLOP count, and
 * peak RSS. The step runs on any provider and precision (`runtime`); the rest on CPU.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { type TensorSpec, writeSafetensorsStreaming } from '../src/checkpoint/safetensors-write.ts';
import { parseControlNetConfig, parseUNetConfig } from '../src/config/unet.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { toFloat16Bits } from '../src/export/float16.ts';
import { ControlNetModel } from '../src/models/controlnets/controlnet.ts';
import { PasdLightUNet2DConditionModel } from '../src/models/pasd_light/unet.ts';
import { PasdUNet2DConditionModel } from '../src/models/unets/pasd-unet.ts';
import type { Module } from '../src/nn/module.ts';
import { graphFlops } from '../src/ops/flops.ts';
import { Denoiser } from '../src/pipelines/denoiser.ts';
import { parseClipTextConfig } from '../src/config/clip.ts';
import { parseVaeConfig } from '../src/config/vae.ts';
import { type CompileOptions, compileGraph } from '../src/engine/compile.ts';
import { Graph } from '../src/ir/graph.ts';
import { AutoencoderKL } from '../src/models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../src/models/clip/clip-text.ts';
import { Tensor } from '../src/ops/tensor.ts';
import { TiledVae } from '../src/pipelines/tiled-vae.ts';
import { type BenchResult, timeIt } from './lib.ts';

const SD = process.env.PASD_SD15_DIR ? resolve(process.env.PASD_SD15_DIR) : resolve(process.cwd(), '../shared/data/misc/stable-diffusion-v1-5');
const quiet = () => {};

/** Where the step runs, and (to compare) the lowering it gets instead of the provider's. */
export type StepRuntime = Pick<CompileOptions, 'provider' | 'precision' | 'lowering'>;

/** Weights as stored on disk: float32, or float16 (scripts/half-weights.ts; computed in float32). */
export type Storage = 'float32' | 'float16';

/** Random N(0, 0.02)-ish weights (norm weights 1), written once per model and storage dtype and reused. */
export function randomWeights(m: Module, name: string, storage: Storage = 'float32'): string {
  const dir = join(tmpdir(), 'pasd-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}${storage === 'float16' ? '_f16' : ''}.safetensors`);
  if (existsSync(path)) return path;
  let s = 12345;
  const specs: TensorSpec[] = m.namedParameters().map(([k, p]) => ({ name: k, dtype: storage, shape: p.shape }));
  writeSafetensorsStreaming(path, specs, (spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    if (/norm.*weight$/.test(spec.name)) out.fill(1);
    else for (let i = 0; i < n; i++) out[i] = (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5) * 0.04;
    return storage === 'float16' ? Uint16Array.from(out, toFloat16Bits) : out;
  });
  return path;
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The SD1.5-size PASD (or PASD-light) ControlNet + UNet on random weights, and inputs for one evaluation. */
export function sd15Denoiser(threads: number, batch: number, latent: number, profilePrefix?: string, runtime: StepRuntime = {}, light = false, storage: Storage = 'float32') {
  const unetCfg = JSON.parse(readFileSync(join(SD, 'unet', 'config.json'), 'utf8'));
  const config = parseUNetConfig(unetCfg, 'unet', quiet);
  const unet = (light ? new PasdLightUNet2DConditionModel(config) : new PasdUNet2DConditionModel(config)).nameTree('unet');
  const cn = new ControlNetModel(parseControlNetConfig({ ...unetCfg, conditioning_embedding_out_channels: [16, 32, 96, 256] }, 'controlnet', quiet)).nameTree('controlnet');
  unet.loadWeights(storedTensors(openCheckpoint(randomWeights(unet, light ? 'sd15_pasd_light_unet' : 'sd15_pasd_unet', storage))));
  cn.loadWeights(storedTensors(openCheckpoint(randomWeights(cn, 'sd15_pasd_controlnet', storage))));
  const den = new Denoiser(unet, cn, { ...runtime, threads, cache: false, profilePrefix });
  const h = latent, w = latent;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const x = {
    latents: rnd(batch * 4 * h * w), shape: [batch, 4, h, w] as [number, number, number, number], timestep: 999,
    embeds: { dtype: 'float32' as const, shape: [batch, 77, 768], data: rnd(batch * 77 * 768) },
    image: rnd(batch * 3 * 64 * h * w).map((v) => v + 0.5), conditioningScale: 1,
  };
  return { den, x };
}

export async function pasdStep(threads: number, batch: number, latent = 64, runtime: StepRuntime = {}, light = false): Promise<BenchResult> {
  const { den, x } = sd15Denoiser(threads, batch, latent, undefined, runtime, light);
  const t0 = performance.now();
  await den.run(x); // compile + first run
  const firstMs = performance.now() - t0;
  const gpu = (runtime.provider ?? 'cpu') !== 'cpu';
  // A GPU step is short: more runs for a steadier median at little cost.
  const timing = await timeIt(() => den.run(x), { warmup: gpu ? 1 : 0, iters: gpu ? 5 : 2 });
  // FLOPs of the traced step (the same graph the denoiser compiled).
  const g = den.trace(batch, 4, latent, latent, 77, 768);
  await den.release();
  const where = `${runtime.provider ?? 'cpu'} ${runtime.precision ?? 'fp32'}${runtime.lowering ? ` attention ${runtime.lowering.attention.kind}` : ''}`;
  return { name: `${light ? 'pasd-light' : 'pasd'} step ${latent}x${latent} latent, batch ${batch}, ${where}`, timing, flops: graphFlops(g), extra: { 'first run ms': firstMs.toFixed(0), 'peak RSS MiB': maxRssMiB().toFixed(0) } };
}

/**
 * onnxruntime's per-op profile of one SD1.5 PASD step (after a warm-up run): the top ops by
 * total kernel time, to explain the gap to the conv peak.
 */
export async function pasdStepProfile(threads: number, batch: number, latent = 64, top = 10): Promise<string> {
  const prefix = join(tmpdir(), `pasd-profile-${process.pid}`);
  const { den, x } = sd15Denoiser(threads, batch, latent, prefix);
  await den.run(x);
  await den.run(x);
  const session = await den.session(batch, 4, latent, latent, 77, 768);
  session.endProfiling();
  await den.release();
  const dir = tmpdir();
  const file = readdirSync(dir).filter((f) => f.startsWith(basename(prefix)) && f.endsWith('.json')).map((f) => join(dir, f)).at(-1);
  if (!file) return 'no profile written';
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
    total += e.dur;
  }
  const rows = [...byOp].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`per-op kernel time, two runs (${(total / 1e6).toFixed(1)} s total):`, ...rows.map(([op, us]) => `  ${op.padEnd(28)} ${(us / 1e6).toFixed(2).padStart(8)} s  ${((100 * us) / total).toFixed(1).padStart(5)} %`)].join('\n');
}

/** SD1.5 VAE at its real config: encode 512² and decode 64²→512², through the tiled VAE with a budget that fits (whole) or forces tiles. */
export async function sd15Vae(threads: number, tiled: boolean): Promise<BenchResult[]> {
  const vae = new AutoencoderKL(parseVaeConfig(JSON.parse(readFileSync(join(SD, 'vae', 'config.json'), 'utf8')), 'vae', quiet)).nameTree('vae');
  vae.loadWeights(storedTensors(openCheckpoint(randomWeights(vae, 'sd15_vae'))));
  const stage = new TiledVae(vae, { threads, cache: false, keepGraphs: true, ...(tiled ? { encoderTileSize: 256, decoderTileSize: 32 } : {}) });
  const img = Float32Array.from({ length: 3 * 512 * 512 }, (_, i) => (Math.sin(i * 0.01) + 1) / 2);
  const lat = Float32Array.from({ length: 4 * 64 * 64 }, (_, i) => Math.sin(i * 0.37));
  const what = tiled ? 'tiled' : 'untiled';
  const enc = await timeIt(() => stage.encode(img, [1, 3, 512, 512]), { warmup: 1, iters: 2 });
  const dec = await timeIt(() => stage.decode(lat, [1, 4, 64, 64]), { warmup: 1, iters: 2 });
  await stage.release();
  const rss = { 'peak RSS MiB': maxRssMiB().toFixed(0) };
  return [{ name: `sd15 vae encode 512² (${what})`, timing: enc, extra: rss }, { name: `sd15 vae decode 64²→512² (${what})`, timing: dec, extra: rss }];
}

/** SD1.5 text encoder (CLIP ViT-L/14 text), batch 2 × 77 tokens. */
export async function sd15Text(threads: number): Promise<BenchResult> {
  const te = new CLIPTextModel(parseClipTextConfig(JSON.parse(readFileSync(join(SD, 'text_encoder', 'config.json'), 'utf8')), 'text_encoder', quiet)).nameTree('text_encoder');
  te.loadWeights(storedTensors(openCheckpoint(randomWeights(te, 'sd15_text_encoder'))));
  const g = new Graph('clip');
  const ids = new Tensor(g, g.addInput('input_ids', { dtype: 'int64', shape: [2, 77] }));
  g.setOutputs({ h: te.forward(ids).value });
  const s = await compileGraph(g, { threads, cache: false });
  const data = BigInt64Array.from({ length: 154 }, (_, i) => BigInt((i * 97) % 49408));
  const timing = await timeIt(() => s.run({ input_ids: { dtype: 'int64', shape: [2, 77], data } }), { warmup: 1, iters: 5 });
  await s.release();
  return { name: 'sd15 text encoder 2×77', timing, flops: graphFlops(g), extra: { 'peak RSS MiB': maxRssMiB().toFixed(0) } };
}
