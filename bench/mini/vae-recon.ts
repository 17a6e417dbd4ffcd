/**
 * Reconstruction quality of the mini model's VAE alone: every image of a folder (cropped to
 * a multiple of 8) → encode (posterior mean) → decode, PSNR on RGB in [0, 255] and the mean
 * absolute error, per image and mean. The VAE bounds what the whole model can restore.
 *
 *   node --import tsx bench/mini/vae-recon.ts ../shared/data/eval/Set14/HR [--vae DIR]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { inputFiles } from '../../src/cli/args.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensor } from '../../src/engine/weights.ts';
import { readImage } from '../../src/image/codec-node.ts';
import { toTensor } from '../../src/image/image.ts';
import { AutoencoderKL, traceVaeDecode, traceVaeEncode } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { modcrop } from '../../src/metrics/benchmark.ts';
import { defaultModelPaths } from '../../src/pipelines/load.ts';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { vae: { type: 'string' } } });
const dir = v.vae ?? defaultModelPaths().vae;
const folder = loadModelFolder(dir);
const vae = new AutoencoderKL(parseVaeConfig(folder.config, join(dir, 'config.json'))).nameTree('vae');
vae.loadWeights(new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)])), { what: dir });
const rows: string[] = [];
let sp = 0, sm = 0, n = 0;
for (const file of inputFiles(positionals)) {
  const img = modcrop((await readImage(file)).rgb, 8);
  const x = toTensor(img).data.map((p) => p * 2 - 1);
  const [H, W] = [img.height, img.width];
  const enc = await compileGraph(traceVaeEncode(vae, { batch: 1, height: H, width: W }), { cache: false });
  const mean = (await enc.run({ image: { dtype: 'float32', shape: [1, 3, H, W], data: x } })).mean;
  await enc.release();
  const dec = await compileGraph(traceVaeDecode(vae, { batch: 1, height: H / 8, width: W / 8 }), { cache: false });
  const y = (await dec.run({ latent: mean })).image.data as Float32Array;
  await dec.release();
  let se = 0, ae = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.round(Math.min(1, Math.max(0, (x[i] + 1) / 2)) * 255), b = Math.round(Math.min(1, Math.max(0, (y[i] + 1) / 2)) * 255);
    se += (a - b) ** 2; ae += Math.abs(a - b);
  }
  const psnr = 10 * Math.log10((255 * 255) / (se / x.length)), mae = ae / x.length;
  sp += psnr; sm += mae; n++;
  rows.push(`| ${file.split('/').pop()} | ${psnr.toFixed(2)} | ${mae.toFixed(2)} |`);
}
process.stdout.write(['| image | PSNR (RGB, dB) | MAE (0–255) |', '| --- | --- | --- |', ...rows, `| **mean (${n})** | **${(sp / n).toFixed(2)}** | **${(sm / n).toFixed(2)}** |`].join('\n') + '\n');
