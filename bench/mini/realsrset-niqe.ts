/**
 * No-reference scores of the bundled mini model on real LR photos (RealSRSet has no ground
 * truth, so `pasd eval` cannot take it): NIQE (BasicSR protocol, Y channel, crop = scale) of
 * the MATLAB-bicubic ×4 baseline and of the mini model with its defaults.json options, per
 * image and mean, as a markdown table; optional comparison strips (bicubic | mini).
 *
 *   node --import tsx bench/mini/realsrset-niqe.ts ../shared/data/eval/RealSRSet/LR [--compare DIR] [--threads N]
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { readImage, writeImage } from '../../src/image/codec-node.ts';
import { comparisonStrip } from '../../src/metrics/benchmark.ts';
import { imresizeU8 } from '../../src/metrics/imresize.ts';
import { niqe } from '../../src/metrics/niqe.ts';
import { defaultModelOptions, defaultModelPaths } from '../../src/pipelines/load.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { inputFiles } from '../../src/cli/args.ts';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { compare: { type: 'string' }, threads: { type: 'string' } } });
const scale = 4;
const pipe = PasdPipeline.fromFolders(defaultModelPaths(), { threads: v.threads ? Number(v.threads) : undefined });
if (v.compare) mkdirSync(v.compare, { recursive: true });
const rows: [string, number, number][] = [];
try {
  for (const file of inputFiles(positionals)) {
    const lr = (await readImage(file)).rgb;
    const bic = imresizeU8(lr, scale);
    const t0 = Date.now();
    const sr = await pipe.upscale(lr, { ...defaultModelOptions(), upscale: scale, seed: 0 });
    const name = basename(file, extname(file));
    rows.push([name, niqe(bic, { cropBorder: scale }), niqe(sr, { cropBorder: scale })]);
    process.stderr.write(`${name}: ${lr.width}×${lr.height} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (v.compare) await writeImage(join(v.compare, `${name}.png`), comparisonStrip(lr, [bic, sr], scale));
  }
} finally {
  await pipe.release();
}
const mean = (i: 1 | 2) => rows.reduce((s, r) => s + r[i], 0) / rows.length;
const lines = ['| image | NIQE bicubic ↓ | NIQE mini ↓ |', '| --- | --- | --- |', ...rows.map((r) => `| ${r[0]} | ${r[1].toFixed(3)} | ${r[2].toFixed(3)} |`),
  `| **mean (${rows.length})** | **${mean(1).toFixed(3)}** | **${mean(2).toFixed(3)}** |`];
process.stdout.write(lines.join('\n') + '\n');
