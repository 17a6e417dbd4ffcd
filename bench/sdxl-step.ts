/**
 * `node --import tsx bench/sdxl-step.ts [--threads N] [--batch 2] [--latent 128] [--tiny]`: one
 * PASD-SDXL denoising evaluation (ControlNet + UNet in one graph, with text_embeds / time_ids)
 * on random weights at SDXL base 1.0's size (bench/sdxl-configs.ts; the ControlNet's DRM
 * channels are PASD SD1.5's, 16/32/96/256), against the SD1.5 PASD step (64×64 latent, same
 * batch) in the same run. Each case runs in its own child process so its peak RSS is its own.
 * The PASD-SDXL weights are 4.85 G parameters (UNet with pixel attentions 3.60 G, ControlNet
 * 1.25 G; 18 GiB as float32, written once under the OS temp folder and held in memory by
 * onnxruntime): a machine with less memory cannot run it.
 * `--tiny` runs the fixture's tiny SDXL models instead (checks the script in seconds).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { parseControlNetConfig, parseUNetConfig } from '../src/config/unet.ts';
import { numel } from '../src/core/shape.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { ControlNetModel } from '../src/models/controlnets/controlnet.ts';
import { PasdUNet2DConditionModel } from '../src/models/unets/pasd-unet.ts';
import { graphFlops } from '../src/ops/flops.ts';
import { Denoiser } from '../src/pipelines/denoiser.ts';
import { sdxl } from '../src/pipelines/families/sdxl/index.ts';
import { sdxlTimeIds } from '../src/pipelines/families/sdxl/text.ts';
import type { PasdComponents } from '../src/pipelines/load.ts';
import { type BenchResult, report, timeIt } from './lib.ts';
import { pasdStep, randomWeights } from './sd15.ts';
import { SDXL_BASE_UNET } from './sdxl-configs.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const threads = opt('--threads', 2), batch = opt('--batch', 2), latent = opt('--latent', 128);
const tiny = args.includes('--tiny');
const one = args.includes('--one') ? args[args.indexOf('--one') + 1] : null;
const quiet = () => {};
const fixtureConfig = (name: string) => JSON.parse(readFileSync(resolve(process.cwd(), '../shared/fixtures/models', name, 'config.json'), 'utf8'));

async function sdxlStep(): Promise<BenchResult> {
  const unetRaw = tiny ? fixtureConfig('sdxl_unet') : SDXL_BASE_UNET;
  const cnRaw = tiny ? fixtureConfig('sdxl_controlnet') : { ...SDXL_BASE_UNET, conditioning_embedding_out_channels: [16, 32, 96, 256] };
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(unetRaw, 'unet', quiet)).nameTree('unet');
  const cn = new ControlNetModel(parseControlNetConfig(cnRaw, 'controlnet', quiet)).nameTree('controlnet');
  const params = [unet, cn].reduce((s, m) => s + m.namedParameters().reduce((t, [, p]) => t + numel(p.shape), 0), 0);
  const tag = tiny ? 'sdxl_tiny' : 'sdxl';
  unet.loadWeights(storedTensors(openCheckpoint(randomWeights(unet, `${tag}_pasd_unet`))));
  cn.loadWeights(storedTensors(openCheckpoint(randomWeights(cn, `${tag}_pasd_controlnet`))));
  const den = new Denoiser(unet, cn, { threads, cache: false }, sdxl.denoiserConditioning({ unet } as unknown as PasdComponents));
  const a = unet.config.addition!, d = unet.config.crossAttentionDim, f = den.factor, L = latent;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const x = {
    latents: rnd(batch * 4 * L * L), shape: [batch, 4, L, L] as [number, number, number, number], timestep: 999,
    embeds: { dtype: 'float32' as const, shape: [batch, 77, d], data: rnd(batch * 77 * d) },
    image: rnd(batch * 3 * f * f * L * L).map((v) => v + 0.5), conditioningScale: 1,
    added: {
      text_embeds: { dtype: 'float32' as const, shape: [batch, a.projectionInputDim - 6 * a.timeEmbedDim], data: rnd(batch * (a.projectionInputDim - 6 * a.timeEmbedDim)) },
      time_ids: sdxlTimeIds(f * L, f * L, batch),
    },
  };
  const t0 = performance.now();
  await den.run(x);
  const firstMs = performance.now() - t0;
  const timing = await timeIt(() => den.run(x), { warmup: 0, iters: 2 });
  const flops = graphFlops(den.trace(batch, 4, L, L, 77, d));
  await den.release();
  const rss = process.resourceUsage().maxRSS / 1024;
  return { name: `pasd-sdxl${tiny ? ' (tiny fixture models)' : ''} step ${L}x${L} latent, batch ${batch}, cpu fp32`, timing, flops, extra: { params: params.toLocaleString('en'), 'first run ms': firstMs.toFixed(0), 'peak RSS MiB': rss.toFixed(0) } };
}

if (one) {
  const r = one === 'sdxl' ? await sdxlStep() : await pasdStep(threads, batch, 64);
  console.log(`RESULT ${JSON.stringify(r)}`);
} else {
  const results: BenchResult[] = [];
  for (const c of tiny ? ['sdxl'] : ['sd15', 'sdxl']) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', c, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (line) results.push(JSON.parse(line.slice(7)) as BenchResult);
  }
  report(results, threads);
}
