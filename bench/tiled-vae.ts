/**
 * `node --import tsx bench/tiled-vae.ts [--size 2048] [--tile 32] [--budget-mib 32]
 *   [--threads N] [--model ../shared/fixtures/models/vae] [--encode] [--keep-graphs]`
 *
 * One tiled VAE decode of a (size/8)² latent (or, with --encode, encode of a size² image)
 * with the given tile (latent px for decoding, image px for encoding) and memory budget:
 * wall time, peak RSS of the process and what the run did (tile runs, attention blocks,
 * maps held in memory). The mid-block attention is exact and quadratic in latent pixels, so
 * it dominates at large sizes (4096² with the tiny fixture VAE: N = 262144 tokens).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { loadModelFolder } from '../src/checkpoint/folder.ts';
import { parseVaeConfig } from '../src/config/vae.ts';
import { storedTensors } from '../src/engine/weights.ts';
import { AutoencoderKL } from '../src/models/autoencoders/autoencoder-kl.ts';
import { TiledVae } from '../src/pipelines/tiled-vae.ts';
import { type BenchResult, report } from './lib.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const size = Number(arg('size', '2048'));
const tile = Number(arg('tile', '32'));
const budgetMiB = Number(arg('budget-mib', '32'));
const threads = Number(arg('threads', String(availableParallelism())));
const model = resolve(arg('model', '../shared/fixtures/models/vae'));
const encode = process.argv.includes('--encode');

const folder = loadModelFolder(model);
const vae = new AutoencoderKL(parseVaeConfig(folder.config, `${model}/config.json`)).nameTree();
vae.loadWeights(storedTensors(...folder.weightFiles), { what: model });
const tiled = new TiledVae(vae, {
  encoderTileSize: tile, decoderTileSize: tile, memoryBudgetBytes: budgetMiB * 2 ** 20, keepGraphs: process.argv.includes('--keep-graphs'), threads,
});

const MiB = 2 ** 20;
const rssBefore = process.resourceUsage().maxRSS * 1024;
const t0 = performance.now();
let run;
if (encode) {
  const image = Float32Array.from({ length: 3 * size * size }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.013));
  ({ run } = await tiled.encode(image, [1, 3, size, size]));
} else {
  const s = size / 8;
  const latents = Float32Array.from({ length: 4 * s * s }, (_, i) => 0.8 * Math.sin(i * 0.37));
  ({ run } = await tiled.decode(latents, [1, 4, s, s]));
}
const ms = performance.now() - t0;
await tiled.release();
const result: BenchResult = {
  name: `tiled VAE ${encode ? 'encode' : 'decode'} ${size}² (${model.split('/').pop()}, tile ${tile}, budget ${budgetMiB} MiB)`,
  timing: { minMs: ms, medianMs: ms, iters: 1 },
  extra: {
    'peak RSS MiB': (process.resourceUsage().maxRSS * 1024 / MiB).toFixed(0),
    'RSS before MiB': (rssBefore / MiB).toFixed(0),
    'maps in RAM MiB': (run.peakMapBytes / MiB).toFixed(1),
    spilled: run.spilled,
    'tile runs': run.tiles,
    'attention blocks': run.attentionChunks.join('x'),
  },
};
report([result], threads);
