/**
 * `node --import tsx bench/sd15-upscale.ts [--threads N] [--out 512] [--steps 20] [--cfg 9] [--tile 64]
 *  [--provider cpu|webgpu|cuda] [--precision fp32|fp16]`:
 * one whole PASD upscale at SD1.5 scale (random weights at the real configs, see ./sd15.ts; the
 * configs from PASD_SD15_DIR when set, as the device script carries them):
 * a (out/4)² input ×4 → out² output, `steps` UniPC steps with CFG (batch 2), the exact tiled
 * VAE, latent tiles of `tile`. Prints wall time per phase and peak RSS (one run: minutes).
 * Progress arrives after each denoising tile, so the first phase ends with the first step
 * (text + VAE encode + compiling and running step 1).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { parseClipTextConfig } from '../src/config/clip.ts';
import { parseVaeConfig } from '../src/config/vae.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { makeImage } from '../src/image/image.ts';
import { AutoencoderKL } from '../src/models/autoencoders/autoencoder-kl.ts';
import { CLIPTextModel } from '../src/models/clip/clip-text.ts';
import { SD15_SCHEDULER_CONFIG } from '../src/pipelines/load.ts';
import { PasdPipeline, type Progress } from '../src/pipelines/pasd.ts';
import { ClipTokenizer } from '../src/tokenizer/clip_tokenizer.ts';
import { runtimeChoiceOf } from '../src/cli/args.ts';
import { probeProvider } from '../src/engine/compile.ts';
import { report } from './lib.ts';
import { randomWeights, sd15Denoiser } from './sd15.ts';

const SD = process.env.PASD_SD15_DIR ? resolve(process.env.PASD_SD15_DIR) : resolve(process.cwd(), '../shared/data/misc/stable-diffusion-v1-5');
const args = process.argv.slice(2);
const text = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const opt = (name: string, def: number) => Number(text(name) ?? def);
const threads = opt('--threads', 2), out = opt('--out', 512), steps = opt('--steps', 20), cfg = opt('--cfg', 9), tile = opt('--tile', 64);
const runtime = runtimeChoiceOf({ provider: text('--provider'), precision: text('--precision') });
if (runtime.provider && runtime.provider !== 'cpu') await probeProvider(runtime);
const quiet = () => {};
const config = (sub: string) => JSON.parse(readFileSync(join(SD, sub, 'config.json'), 'utf8'));

const { den } = sd15Denoiser(threads, 1, 8, undefined, runtime);
const vae = new AutoencoderKL(parseVaeConfig(config('vae'), 'vae', quiet)).nameTree('vae');
vae.loadWeights(storedTensors(openCheckpoint(randomWeights(vae, 'sd15_vae'))));
const textEncoder = new CLIPTextModel(parseClipTextConfig(config('text_encoder'), 'text_encoder', quiet)).nameTree('text_encoder');
textEncoder.loadWeights(storedTensors(openCheckpoint(randomWeights(textEncoder, 'sd15_text_encoder'))));
const pipe = new PasdPipeline({
  unet: den.unet, controlnet: den.controlnet, vae, textEncoder, tokenizer: ClipTokenizer.fromFolder(join(SD, 'tokenizer')),
  light: false, schedulerConfig: SD15_SCHEDULER_CONFIG, colorizationSchedulerConfig: SD15_SCHEDULER_CONFIG,
}, { ...runtime, threads, cache: false });

const input = out / 4;
const px = new Uint8Array(input * input * 3).map((_, i) => (i * 37) % 251);
const LABEL: Record<string, string> = { encode: 'encode + step 1 s', denoise: 'steps 2… s', decode: 'decode s' };
const phases = new Map<string, number>();
let phase = 'encode', t = performance.now();
const onProgress = (p: Progress) => {
  if (p.phase === phase) return;
  const now = performance.now();
  phases.set(LABEL[phase], now - t);
  phase = p.phase;
  t = now;
};
const t0 = performance.now();
const img = await pipe.upscale(makeImage(input, input, 3, px), { upscale: 4, processSize: out, steps, guidanceScale: cfg, latentTileSize: tile, onProgress });
const ms = performance.now() - t0;
await pipe.release();
report([{
  name: `sd15 PASD upscale ${input}² ×4 → ${img.width}×${img.height}, ${steps} steps, cfg ${cfg}, ${runtime.provider ?? 'cpu'} ${runtime.precision ?? 'fp32'}`,
  timing: { minMs: ms, medianMs: ms, iters: 1 },
  extra: {
    ...Object.fromEntries([...phases].map(([k, v]) => [k, (v / 1000).toFixed(1)])),
    'latent tile': tile, 'peak RSS MiB': (process.resourceUsage().maxRSS / 1024).toFixed(0),
  },
}], threads);
