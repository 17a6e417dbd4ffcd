/**
 * `node --import tsx bench/lowering.ts [--threads N] [--batch B] [--latent L] [--iters K]`:
 * the before/after of each kept optimisation of the SD1.5 PASD step, measured in one run on one
 * machine. Each variant runs in its own child process (so peak RSS is its own), in the order
 * below, after the conv/GEMM peaks of the same run:
 *   - optimised: fused attention, decomposed GroupNorm, ControlNet + UNet in one graph, ORT 'all';
 *   - unfused-attention: MatMul → Softmax → MatMul attention cores;
 *   - native-groupnorm: onnxruntime's GroupNormalization-21;
 *   - two-graphs: ControlNet and UNet as separate sessions, the 13 residuals through the host;
 *   - ort-basic: onnxruntime graph optimisation level 'basic' instead of 'all';
 *   - all-before: the first three "before" choices together;
 *   - f16-storage: the optimised step with its weights stored as float16 (half the file; cast to
 *     float32 when the session starts, compute float32) — an option, not a default.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileGraph } from '../src/engine/compile.ts';
import { Graph } from '../src/ir/graph.ts';
import { setLowering } from '../src/nn/lowering.ts';
import { graphFlops } from '../src/ops/flops.ts';
import { Tensor } from '../src/ops/tensor.ts';
import { Denoiser } from '../src/pipelines/denoiser.ts';
import { convPeak, gemmPeak } from './foundation.ts';
import { type BenchResult, gflops, report, timeIt } from './lib.ts';
import { sd15Denoiser } from './sd15.ts';

const VARIANTS = ['optimised', 'unfused-attention', 'native-groupnorm', 'two-graphs', 'ort-basic', 'all-before', 'f16-storage'] as const;
type Variant = typeof VARIANTS[number];

const args = process.argv.slice(2);
const opt = (name: string, def: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const threads = opt('--threads', 2), batch = opt('--batch', 1), latent = opt('--latent', 64), iters = opt('--iters', 2);
const one = args.includes('--one') ? args[args.indexOf('--one') + 1] as Variant : null;

/** ControlNet and UNet traced apart: graph 1 → residuals (host arrays) → graph 2. */
async function twoGraphRunner(den: ReturnType<typeof sd15Denoiser>['den'], x: ReturnType<typeof sd15Denoiser>['x'], o: { threads: number }) {
  const [b, c, h, w] = x.shape, f = den.factor;
  const inputs = (g: Graph) => ({
    sample: new Tensor(g, g.addInput('sample', { dtype: 'float32', shape: [b, c, h, w] })),
    t: new Tensor(g, g.addInput('timestep', { dtype: 'int64', shape: [1] })),
    ctx: new Tensor(g, g.addInput('encoder_hidden_states', { dtype: 'float32', shape: [b, 77, 768] })),
  });
  const g1 = new Graph('controlnet');
  const i1 = inputs(g1);
  const cond = new Tensor(g1, g1.addInput('controlnet_cond', { dtype: 'float32', shape: [b, 3, f * h, f * w] }));
  const ctrl = den.controlnet.forward(i1.sample, i1.t, i1.ctx, cond, 1);
  g1.setOutputs({ ...Object.fromEntries(ctrl.down.map((d, i) => [`down_${i}`, d.value])), mid: ctrl.mid.value });
  const g2 = new Graph('unet');
  const i2 = inputs(g2);
  const down = ctrl.down.map((d, i) => new Tensor(g2, g2.addInput(`down_${i}`, d.value.type)));
  const mid = new Tensor(g2, g2.addInput('mid', ctrl.mid.value.type));
  g2.setOutputs({ noise_pred: den.unet.forward(i2.sample, i2.t, i2.ctx, { down, mid }).value });
  const [s1, s2] = [await compileGraph(g1, { ...o, cache: false }), await compileGraph(g2, { ...o, cache: false })];
  const common = {
    sample: { dtype: 'float32' as const, shape: x.shape, data: x.latents },
    timestep: { dtype: 'int64' as const, shape: [1], data: BigInt64Array.of(999n) },
    encoder_hidden_states: x.embeds,
  };
  return {
    flops: graphFlops(g1) + graphFlops(g2),
    run: async () => {
      const r = await s1.run({ ...common, controlnet_cond: { dtype: 'float32', shape: [b, 3, f * h, f * w], data: x.image } });
      return s2.run({ ...common, ...r });
    },
    release: async () => { await s1.release(); await s2.release(); },
  };
}

async function runVariant(v: Variant): Promise<BenchResult> {
  const { den, x } = sd15Denoiser(threads, batch, latent, undefined, {}, false, v === 'f16-storage' ? 'float16' : 'float32');
  const before = v === 'all-before';
  const lowering = { attention: v === 'unfused-attention' || before ? 'unfused' : 'fused', groupNorm: v === 'native-groupnorm' || before ? 'native' : 'decomposed' } as const;
  for (const m of [den.unet, den.controlnet]) setLowering(m, lowering);
  const t0 = performance.now();
  let timing, flops: number;
  if (v === 'two-graphs' || before) {
    const r = await twoGraphRunner(den, x, { threads });
    await r.run();
    timing = await timeIt(r.run, { warmup: 0, iters });
    flops = r.flops;
    await r.release();
  } else {
    const d = v === 'ort-basic' ? new Denoiser(den.unet, den.controlnet, { threads, cache: false, optimization: 'basic' }) : den;
    await d.run(x);
    timing = await timeIt(() => d.run(x), { warmup: 0, iters });
    flops = graphFlops(d.trace(batch, 4, latent, latent, 77, 768));
    await d.release();
  }
  const firstMs = performance.now() - t0 - timing.minMs * iters;
  return { name: `pasd step ${latent}² b${batch}: ${v}`, timing, flops, extra: { 'compile+first ms': firstMs.toFixed(0), 'peak RSS MiB': (process.resourceUsage().maxRSS / 1024).toFixed(0) } };
}

if (one) {
  console.log(`RESULT ${JSON.stringify(await runVariant(one))}`);
} else {
  const conv = await convPeak(threads), gemm = await gemmPeak(threads);
  const results: BenchResult[] = [conv, gemm];
  const wanted = args.filter((a) => (VARIANTS as readonly string[]).includes(a));
  for (const v of wanted.length ? wanted as Variant[] : VARIANTS) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', v, '--threads', String(threads), '--batch', String(batch), '--latent', String(latent), '--iters', String(iters)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`variant ${v} printed no result:\n${out}`);
    results.push(JSON.parse(line.slice(7)) as BenchResult);
    console.log(`${v}: ${results.at(-1)!.timing.minMs.toFixed(0)} ms`);
  }
  console.log(`threads: ${threads}`);
  report(results, threads, { conv: gflops(conv)!, gemm: gflops(gemm)! });
}
