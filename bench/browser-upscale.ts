/**
 * `node --import tsx bench/browser-upscale.ts [--size 32] [--scale 4] [--samples 1] [--providers cpu,webgpu]`:
 * one mini-model upscale of a crop of a real photo, measured in one run three ways:
 * - Node, CPU (onnxruntime-node), in its own process: wall time and peak RSS;
 * - the static site (npm run build:web) in headless Chromium on WebAssembly, and on WebGPU
 *   (SwiftShader, i.e. on the CPU too): the page's own timings and the peak RSS (VmHWM) of
 *   Chromium's processes (the renderer holds the Worker and wasm memory; the GPU process holds
 *   SwiftShader's buffers), each provider in a freshly launched browser.
 * Each page runs twice: cold (runtime start, model fetch, tracing, sessions) and warm (the same
 * page again). Prints a table (Node CPU is the baseline) and appends to bench/results.jsonl.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import sharp from 'sharp';
import { CHROMIUM, buildSite, fillSitePage, launchChromium, runSitePage, serveStatic } from '../test/browser/static-site.ts';
import { type BenchResult, report } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const size = Number(opt('--size', '32'));
const run = { upscale: Number(opt('--scale', '4')), samples: Number(opt('--samples', '1')), seed: 1 };

async function input(): Promise<Buffer> {
  return sharp('models/pasd-mini/samples/set14-lenna-bicubic.png').extract({ left: 300, top: 40, width: size, height: size }).png().toBuffer();
}

if (args.includes('--node-child')) {
  // The Node CPU measurement, in a process of its own so that its peak RSS is its own.
  const { decodeImage } = await import('../src/image/codec-node.ts');
  const { defaultModelOptions, defaultModelPaths } = await import('../src/pipelines/load.ts');
  const { withDoorDefaults } = await import('../src/pipelines/options.ts');
  const { PasdPipeline } = await import('../src/pipelines/pasd.ts');
  const t0 = performance.now();
  const pipe = PasdPipeline.fromFolders(defaultModelPaths(), { cache: false });
  const { rgb } = await decodeImage(await input());
  await pipe.upscale(rgb, { ...defaultModelOptions(), ...withDoorDefaults(run) });
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, peakMiB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

/** Peak RSS (VmHWM, MiB) of the Chromium whose profile is `profile`: the largest per process type, and `all`, the sum over its processes (an upper bound of the whole). */
function chromiumPeaks(profile: string): Record<string, number> {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      return [{ pid: Number(pid), ppid, cmd, hwm }];
    } catch {
      return [];
    }
  });
  const mine = new Set(procs.filter((p) => p.cmd.some((a) => a.includes(profile))).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!mine.has(p.pid) && mine.has(p.ppid)) { mine.add(p.pid); grew = true; }
  }
  const out: Record<string, number> = { all: 0 };
  for (const p of procs.filter((q) => mine.has(q.pid))) {
    // Forked children rewrite their title: the arguments arrive as one space-separated string.
    const type = /--type=(\S+)/.exec(p.cmd.join(' '))?.[1] ?? 'browser';
    out[type] = Math.max(out[type] ?? 0, Math.round(p.hwm));
    out.all += Math.round(p.hwm);
  }
  return out;
}

const image = await input();
const node = spawnSync(process.execPath, ['--import', 'tsx', 'bench/browser-upscale.ts', '--node-child', ...args], { encoding: 'utf8' });
if (node.status !== 0) throw new Error(node.stderr);
const base = JSON.parse(node.stdout) as { seconds: number; peakMiB: number };
const rows: { name: string; seconds: number; peak: string }[] = [{ name: 'node cpu', seconds: base.seconds, peak: `${Math.round(base.peakMiB)} MiB (process)` }];

const results: BenchResult[] = [{ name: 'browser-upscale node-cpu', timing: { minMs: base.seconds * 1000, medianMs: base.seconds * 1000, iters: 1 }, extra: { size, ...run, peakMiB: base.peakMiB } }];
const site = buildSite();
const { url, server } = await serveStatic(site);
try {
  for (const provider of opt('--providers', 'cpu,webgpu').split(',') as ('cpu' | 'webgpu')[]) {
    const { context, profile } = await launchChromium();
    try {
      const page = await context.newPage();
      await page.goto(url);
      await fillSitePage(page, provider, run, image);
      // First run: runtime start, model fetch, tracing, session creation; second: the same page again (all of that kept).
      for (const pass of ['cold', 'warm']) {
        const t0 = performance.now();
        const r = await runSitePage(page, 1_800_000);
        const wall = (performance.now() - t0) / 1000;
        if (!r.result) throw new Error(`${provider}: ${r.message}`);
        const peaks = chromiumPeaks(profile);
        rows.push({ name: `page ${provider === 'cpu' ? 'wasm' : 'webgpu (SwiftShader)'} ${pass}`, seconds: wall, peak: Object.entries(peaks).map(([k, v]) => `${k} ${v}`).join(', ') + ' MiB' });
        results.push({ name: `browser-upscale ${provider} ${pass}`, timing: { minMs: wall * 1000, medianMs: wall * 1000, iters: 1 }, extra: { size, ...run, page: r.result, peaks } });
      }
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
} finally {
  server.close();
  rmSync(site, { recursive: true, force: true });
}
report(results, cpus().length);
process.stdout.write(`\nmini-model upscale of a ${size}² crop ×${run.upscale}, ${run.samples} sample(s) (${CHROMIUM}):\n`);
for (const r of rows) process.stdout.write(`${r.name.padEnd(34)} ${r.seconds.toFixed(1).padStart(7)} s  ×${(r.seconds / base.seconds).toFixed(2)} of node cpu   peak: ${r.peak}\n`);
