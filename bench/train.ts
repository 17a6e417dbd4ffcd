/**
 * Training steps/s: one full step of train_pasd.py's loop body as `pasd train` runs it —
 * frozen VAE encode + text encoder, the compiled ControlNet → UNet → loss → gradients graph,
 * gradient clipping (max norm 1) and AdamW — on synthetic inputs (no data loading).
 *   - tiny: the fixture models (pasd_unet + pasd_controlnet, vae, text_encoder), 64² crops;
 *   - mid:  a PASD UNet + ControlNet at block_out_channels (64,128,128,128), 2 layers per
 *     block, 8 heads, on torch-default random weights written once to a temporary safetensors
 *     file; the fixture VAE and text encoder (so the cross-attention width is the fixture's
 *     32). At a 32×32 latent (256² crops): the step graph keeps every full-resolution
 *     attention's [B·heads, N, N] probabilities for the backward pass, so memory grows with
 *     N² — measured peak RSS 2.5 GiB at 32×32 and 8.6 GiB at 48×48 (batch 2), 12 GiB at
 *     64×64 with batch 1; 64×64 at batch 2 ran out of a 23 GiB machine.
 * Both at batch 2. FLOPs are those of the three graphs of a step; peak RSS is the process's
 * so far (run a case alone for its own peak).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { loadModelFolder } from '../src/checkpoint/folder.ts';
import { writeSafetensorsStreaming } from '../src/checkpoint/safetensors-write.ts';
import { parseControlNetConfig, parseUNetConfig } from '../src/config/unet.ts';
import { Random } from '../src/core/random.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { traceVaeEncode } from '../src/models/autoencoders/autoencoder-kl.ts';
import { traceClipText } from '../src/models/clip/clip-text.ts';
import { ControlNetModel } from '../src/models/controlnets/controlnet.ts';
import type { Module } from '../src/nn/module.ts';
import { graphFlops } from '../src/ops/flops.ts';
import { SD15_SCHEDULER_CONFIG } from '../src/pipelines/load.ts';
import { DDPMScheduler } from '../src/schedulers/ddpm.ts';
import { ClipTokenizer } from '../src/tokenizer/clip_tokenizer.ts';
import { bindOrInit } from '../src/train/init.ts';
import { buildUNet, loadTrainModels } from '../src/train/models.ts';
import { AdamW, ADAMW_DEFAULTS, clipGradNorm } from '../src/train/optimizer.ts';
import { parameterValues } from '../src/train/params.ts';
import { trainableParameters, traceTrainStep } from '../src/train/step-graph.ts';
import { StepRunner, type TrainModels } from '../src/train/step.ts';
import { type BenchResult, timeIt } from './lib.ts';

const FIXTURES = join(process.cwd(), '../shared/fixtures');
const fixture = (name: string) => join(FIXTURES, 'models', name);
const quiet = () => {};

/** block_out_channels, layers_per_block, heads (diffusers' attention_head_dim), norm groups. */
const MID = { block_out_channels: [64, 128, 128, 128], layers_per_block: 2, attention_head_dim: 8, norm_num_groups: 32 };

/** Binds `m` (rooted at its state-dict prefix) to torch-default random weights in a temporary file, written once. */
function bindRandomWeights(m: Module, file: string, seed: number): void {
  const dir = join(tmpdir(), 'pasd-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  if (!existsSync(path)) {
    bindOrInit(m, new Map(), new Random(seed), { what: file, mayInit: () => true });
    const byKey = new Map(m.namedParameters());
    writeSafetensorsStreaming(path, [...byKey].map(([k, p]) => ({ name: k, dtype: 'float32', shape: p.shape })), (spec) => {
      const src = byKey.get(spec.name)!.source!;
      return src.kind === 'host' ? src.data : new Float32Array(0);
    });
  }
  m.loadWeights(storedTensors(openCheckpoint(path)));
}

function midModels(): TrainModels {
  // The fixture's frozen VAE and text encoder (the tiny UNet + ControlNet it also binds go unused).
  const base = loadTrainModels({ unet: fixture('pasd_unet'), controlnet: fixture('pasd_controlnet'), vae: fixture('vae'), textEncoder: fixture('text_encoder') });
  const tag = `${MID.block_out_channels.join('-')}-l${MID.layers_per_block}`;
  const unet = buildUNet(parseUNetConfig({ ...loadModelFolder(fixture('pasd_unet')).config, ...MID }, 'mid unet', quiet), 'pasd').nameTree('unet');
  bindRandomWeights(unet, `train-mid-unet-${tag}.safetensors`, 1);
  const cnConfig = { ...loadModelFolder(fixture('pasd_controlnet')).config, ...MID, conditioning_embedding_out_channels: [16, 32, 96, 256] };
  const controlnet = new ControlNetModel(parseControlNetConfig(cnConfig, 'mid controlnet', quiet)).nameTree('controlnet');
  bindRandomWeights(controlnet, `train-mid-controlnet-${tag}.safetensors`, 2);
  return { unet, controlnet, vae: base.vae, textEncoder: base.textEncoder };
}

export async function trainStep(threads: number, size: 'tiny' | 'mid', batch = 2, latent = size === 'tiny' ? 8 : 32): Promise<BenchResult> {
  const models = size === 'tiny'
    ? loadTrainModels({ unet: fixture('pasd_unet'), controlnet: fixture('pasd_controlnet'), vae: fixture('vae'), textEncoder: fixture('text_encoder') })
    : midModels();
  const f = models.vae.factor, crop = latent * f, c = models.vae.config.latentChannels;
  const params = trainableParameters(models.controlnet, models.unet);
  const values = parameterValues(params);
  const adam = new AdamW(values.map((v) => v.length), ADAMW_DEFAULTS);
  const scheduler = new DDPMScheduler(SD15_SCHEDULER_CONFIG, quiet);
  const runner = new StepRunner(models, params, scheduler, { threads, cache: false });
  const ids = ClipTokenizer.fromFolder(join(FIXTURES, 'tokenizer')).call(Array(batch).fill('a photo of a cat')).inputIds;
  const rng = new Random(0);
  const px = batch * 3 * crop * crop, lat = batch * c * (crop / f) ** 2;
  const pixelValues = rng.randn(px).map((v) => Math.tanh(v));
  const cond = pixelValues.map((v) => (v + 1) / 2);
  const step = async () => {
    const r = await runner.run({
      pixelValues, cond, inputIds: ids, batch, height: crop, width: crop,
      posteriorNoise: rng.randn(lat), noise: rng.randn(lat), timesteps: Array.from({ length: batch }, () => rng.randint(0, 1000)),
    }, values);
    clipGradNorm(r.grads, 1);
    adam.update(values, r.grads, 1e-5);
  };
  const t0 = performance.now();
  await step(); // compile + first step
  const firstMs = performance.now() - t0;
  const timing = await timeIt(step, { warmup: 0, iters: size === 'tiny' ? 10 : 3 });
  await runner.release();
  const seq = ids.length / batch;
  const flops = graphFlops(traceTrainStep(models.controlnet, models.unet, params, { batch, height: crop, width: crop, latentFactor: f, latentChannels: c, seqLen: seq, contextDim: models.textEncoder.config.hiddenSize }).graph)
    + graphFlops(traceVaeEncode(models.vae, { batch, height: crop, width: crop })) + graphFlops(traceClipText(models.textEncoder, { batch, length: seq }));
  const trainable = values.reduce((s, v) => s + v.length, 0);
  return {
    name: `train step ${size} ${crop / f}x${crop / f} latent, batch ${batch}`, timing, flops,
    extra: {
      'steps/s': (1000 / timing.medianMs).toFixed(2), 'first step ms': firstMs.toFixed(0),
      'trainable M': (trainable / 1e6).toFixed(2), 'peak RSS MiB': (process.resourceUsage().maxRSS / 1024).toFixed(0),
    },
  };
}
