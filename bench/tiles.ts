/**
 * `node --import tsx bench/tiles.ts [--threads N] [--batch B] [--sizes 48,64,96,128] [--latents 128,192]`:
 * what latent tile size to default to on CPU. One SD1.5 PASD step (random weights, batch B:
 * 2 = CFG) per tile size, each in its own child process (its own peak RSS); then, for whole
 * latents of the given sizes (128 = a 1024² output), the step time the original's tiling
 * (src/pipelines/tiles.ts, overlap 8) implies: tiles × time per tile. Quadratic attention
 * makes big tiles slow per pixel; small tiles pay for their overlap.
 * Before/after of the automatic tile choice, same run: for each whole latent (≤ 320, so the
 * original's default runs it whole) the whole latent's step (before) against the step of the
 * tiles `autoTileSize` picks (after); both sizes are added to the measured ones. `--sizes ''`
 * measures only those.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { autoTileSize, latentTiles } from '../src/pipelines/tiles.ts';
import { type BenchResult, report, timeIt } from './lib.ts';
import { sd15Denoiser } from './sd15.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const threads = Number(opt('--threads', '2')), batch = Number(opt('--batch', '1'));
const latents = opt('--latents', '128,192').split(',').map(Number);
const auto = new Map(latents.map((l) => [l, autoTileSize(l, l, 8)]));
const sizes = [...new Set([...opt('--sizes', '48,64,96,128').split(',').filter(Boolean).map(Number), ...latents.filter((l) => l <= 320), ...auto.values()])].sort((a, b) => a - b);
const one = args.includes('--one') ? Number(opt('--one', '64')) : null;

if (one) {
  const { den, x } = sd15Denoiser(threads, batch, one);
  await den.run(x);
  const timing = await timeIt(() => den.run(x), { warmup: 0, iters: 1 });
  await den.release();
  console.log(`RESULT ${JSON.stringify({ timing, rss: process.resourceUsage().maxRSS / 1024 })}`);
} else {
  const results: BenchResult[] = [];
  const perTile = new Map<number, number>();
  for (const s of sizes) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', String(s), '--threads', String(threads), '--batch', String(batch)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const r = JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as { timing: BenchResult['timing']; rss: number };
    perTile.set(s, r.timing.minMs);
    const whole = Object.fromEntries(latents.map((l) => [`${l}² latent step s`, ((latentTiles(l, l, s, 8)?.length ?? 1) * r.timing.minMs / 1000).toFixed(1)]));
    results.push({ name: `tile ${s}² b${batch}`, timing: r.timing, extra: { 'µs per latent px': ((1000 * r.timing.minMs) / (s * s)).toFixed(0), ...whole, 'peak RSS MiB': r.rss.toFixed(0) } });
    console.log(`tile ${s}: ${r.timing.minMs.toFixed(0)} ms`);
  }
  for (const l of latents) {
    const s = auto.get(l)!, n = latentTiles(l, l, s, 8)?.length ?? 1;
    const before = perTile.get(l), after = n * perTile.get(s)!;
    results.push({
      name: `${l}² latent step b${batch}: original (whole) vs auto (${n === 1 ? 'whole' : `${n} tiles of ${s}`})`,
      timing: { minMs: after, medianMs: after, iters: 1 },
      extra: { 'before s': before === undefined ? 'not measured (> 320)' : (before / 1000).toFixed(1), 'after s': (after / 1000).toFixed(1), ...(before ? { 'faster %': (100 * (1 - after / before)).toFixed(0) } : {}) },
    });
  }
  console.log(`threads: ${threads}`);
  report(results, threads);
}
