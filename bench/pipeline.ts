/**
 * Whole upscales with the tiny fixture models (../shared/fixtures): time and peak RSS for a
 * 2048×2048 (or larger) output, latent tiling and the exact tiled VAE keeping memory bounded.
 * The tiny models' FLOPs are negligible; what this measures is the pipeline's bookkeeping,
 * tiling and the VAE mid-block attention over every latent pixel (exact, quadratic).
 */
import { resolve } from 'node:path';
import { makeImage } from '../src/image/image.ts';
import { PasdPipeline } from '../src/pipelines/pasd.ts';
import type { BenchResult } from './lib.ts';

const FIX = resolve(process.cwd(), '../shared/fixtures');

export async function tinyUpscale(threads: number, input: number, scale: number, o: { tile?: number; steps?: number; vaeBudgetMiB?: number } = {}): Promise<BenchResult> {
  const dir = (n: string) => resolve(FIX, 'models', n);
  const pipe = PasdPipeline.fromFolders(
    { unet: dir('pasd_unet'), controlnet: dir('pasd_controlnet'), vae: dir('vae'), textEncoder: dir('text_encoder'), tokenizer: resolve(FIX, 'tokenizer') },
    { threads, cache: false, vae: { memoryBudgetBytes: (o.vaeBudgetMiB ?? 256) * 2 ** 20 } },
  );
  const px = new Uint8Array(input * input * 3).map((_, i) => (i * 37) % 251);
  const t0 = performance.now();
  const out = await pipe.upscale(makeImage(input, input, 3, px), { upscale: scale, steps: o.steps ?? 2, latentTileSize: o.tile ?? 64, latentTileOverlap: 8, processSize: 64 });
  const ms = performance.now() - t0;
  await pipe.release();
  return {
    name: `tiny pipeline ${input}² ×${scale} → ${out.width}×${out.height}`,
    timing: { minMs: ms, medianMs: ms, iters: 1 },
    extra: { 'peak RSS MiB': (process.resourceUsage().maxRSS / 1024).toFixed(0), steps: o.steps ?? 2, 'latent tile': o.tile ?? 64 },
  };
}
