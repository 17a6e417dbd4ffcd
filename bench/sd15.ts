/**
 * SD1.5-scale cases: PASD ControlNet + UNet (one denoising evaluation) at a 64×64 latent with
 * batch 2 (CFG) and 1, on random weights written once to a temporary safetensors file at the
 * real SD1.5 configs (../shared/data/misc/stable-diffusion-v1-5). Reports ms, GFLOP/s from the
 * graph's FLOP count, and peak RSS.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { type TensorSpec, writeSafetensorsStreaming } from '../src/checkpoint/safetensors-write.ts';
import { parseControlNetConfig, parseUNetConfig } from '../src/config/unet.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { ControlNetModel } from '../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../src/models/unets/pasd-unet.ts';
import type { Module } from '../src/nn/module.ts';
import { graphFlops } from '../src/ops/flops.ts';
import { Denoiser } from '../src/pipelines/denoiser.ts';
import { type BenchResult, timeIt } from './lib.ts';

const SD = resolve(process.cwd(), '../shared/data/misc/stable-diffusion-v1-5');
const quiet = () => {};

/** Random N(0, 0.02)-ish weights (norm weights 1), written once per model and reused. */
function randomWeights(m: Module, name: string): string {
  const dir = join(tmpdir(), 'pasd-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.safetensors`);
  if (existsSync(path)) return path;
  let s = 12345;
  const specs: TensorSpec[] = m.namedParameters().map(([k, p]) => ({ name: k, dtype: 'float32', shape: p.shape }));
  writeSafetensorsStreaming(path, specs, (spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    if (/norm.*weight$/.test(spec.name)) return out.fill(1);
    for (let i = 0; i < n; i++) out[i] = (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5) * 0.04;
    return out;
  });
  return path;
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export async function pasdStep(threads: number, batch: number, latent = 64): Promise<BenchResult> {
  const unetCfg = JSON.parse(readFileSync(join(SD, 'unet', 'config.json'), 'utf8'));
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(unetCfg, 'unet', quiet)).nameTree('unet');
  const cn = new ControlNetModel(parseControlNetConfig({ ...unetCfg, conditioning_embedding_out_channels: [16, 32, 96, 256] }, 'controlnet', quiet)).nameTree('controlnet');
  unet.loadWeights(storedTensors(openCheckpoint(randomWeights(unet, 'sd15_pasd_unet'))));
  cn.loadWeights(storedTensors(openCheckpoint(randomWeights(cn, 'sd15_pasd_controlnet'))));
  const den = new Denoiser(unet, cn, { threads, cache: false });
  const h = latent, w = latent;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const x = {
    latents: rnd(batch * 4 * h * w), shape: [batch, 4, h, w] as [number, number, number, number], timestep: 999,
    embeds: { dtype: 'float32' as const, shape: [batch, 77, 768], data: rnd(batch * 77 * 768) },
    image: rnd(batch * 3 * 64 * h * w).map((v) => v + 0.5), conditioningScale: 1,
  };
  const t0 = performance.now();
  await den.run(x); // compile + first run
  const firstMs = performance.now() - t0;
  const timing = await timeIt(() => den.run(x), { warmup: 0, iters: 2 });
  // FLOPs of the traced step (the same graph the denoiser compiled).
  const g = den.trace(batch, h, w, 77, 768);
  await den.release();
  return { name: `pasd step ${h}x${w} latent, batch ${batch}`, timing, flops: graphFlops(g), extra: { 'first run ms': firstMs.toFixed(0), 'peak RSS MiB': maxRssMiB().toFixed(0) } };
}
