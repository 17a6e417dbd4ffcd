/**
 * Stage 1 of the mini model (scripts/train-mini.sh): trains the small AutoencoderKL of
 * models/pasd-mini from scratch, because no pretrained VAE can be downloaded here and
 * `pasd train` keeps the VAE frozen (train_pasd.py never trains it).
 *
 *   node --import tsx scripts/train-mini-vae.ts --data DIR --config vae/config.json --out DIR
 *        [--init random|linear] [--steps N] [--batch N] [--crop N] [--lr X] [--kl X] [--threads N] [--resume]
 *
 * Loss: L1(decode(sample), x) + kl·KL(q(z|x) ‖ N(0, I)) (the reconstruction + KL part of the
 * LDM autoencoder objective, without its LPIPS and GAN terms, which need pretrained nets),
 * differentiated by our autodiff and stepped with our AdamW. Checkpoints use src/train's
 * atomic `checkpoint-N/` layout (vae/ + optimizer state), so `--resume` continues a run.
 * At the end `scaling_factor` is set to 1 / std of the latents over held crops (the LDM
 * recipe) and written to the last checkpoint's vae/config.json.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gradOrNull } from '../src/autodiff/grad.ts';
import { parseVaeConfig } from '../src/config/vae.ts';
import { InputError } from '../src/core/errors.ts';
import { Random } from '../src/core/random.ts';
import { compileGraph } from '../src/engine/compile.ts';
import { readImage } from '../src/image/codec-node.ts';
import type { Image } from '../src/image/image.ts';
import { Graph } from '../src/ir/graph.ts';
import { AutoencoderKL, traceVaeEncode, vaeScaleFactor } from '../src/models/autoencoders/autoencoder-kl.ts';
import { Tensor } from '../src/ops/tensor.ts';
import { listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint } from '../src/train/checkpoint.ts';
import { listImages, mixSeed } from '../src/train/dataset.ts';
import { bindOrInit } from '../src/train/init.ts';
import { AdamW, clipGradNorm } from '../src/train/optimizer.ts';
import { bindHostValues, parameterValues } from '../src/train/params.ts';
import { linearVaeInit } from './mini-vae-init.ts';

const str = { type: 'string' as const };
const { values: a } = parseArgs({
  options: {
    data: str, config: str, out: str, init: str, steps: str, batch: str, crop: str, lr: str, kl: str, threads: str,
    'checkpoint-every': str, resume: { type: 'boolean' },
  },
});
for (const k of ['data', 'config', 'out'] as const) if (!a[k]) throw new InputError(`--${k} is required`);
const steps = Number(a.steps ?? 2000), B = Number(a.batch ?? 4), R = Number(a.crop ?? 128);
const lr = Number(a.lr ?? 1e-3), klWeight = Number(a.kl ?? 1e-6), every = Number(a['checkpoint-every'] ?? 200);
const threads = a.threads ? Number(a.threads) : undefined;

const raw = JSON.parse(readFileSync(a.config!, 'utf8')) as Record<string, unknown>;
const vae = new AutoencoderKL(parseVaeConfig(raw, a.config)).nameTree('vae');
bindOrInit(vae, new Map(), new Random(mixSeed(7, 0)), { what: 'vae', mayInit: () => true });
// The posterior starts nearly deterministic (logvar bias −10, σ ≈ 0.007): with torch's default
// init σ ≈ 1 drowns the latent and, at a KL weight of 1e-6, takes thousands of steps to shrink.
const qb = vae.quant_conv?.bias;
if (qb?.source?.kind === 'host') (qb.source.data as Float32Array).fill(-10, vae.config.latentChannels);
// Or the near-linear start of ./mini-vae-init.ts (box average down, bilinear up).
if (a.init === 'linear') linearVaeInit(vae);
const params = vae.namedParameters().map(([, p]) => p);
let values = parameterValues(params);
const adam = new AdamW(values.map((v) => v.length), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
let step = 0;
const last = a.resume ? listCheckpoints(a.out!).at(-1) : undefined;
if (last) {
  const c = readCheckpoint(last.dir, params);
  values = c.values;
  c.expAvg.forEach((m, i) => adam.expAvg[i].set(m));
  c.expAvgSq.forEach((m, i) => adam.expAvgSq[i].set(m));
  adam.step = c.state.adamStep;
  step = c.state.step;
}
bindHostValues(params, values);

// The images, decoded once: crops are cut from memory.
const images: Image[] = [];
for (const f of listImages(a.data!)) images.push((await readImage(f)).rgb);

/** [B, 3, R, R] in [-1, 1]: a random crop (with flip) of a random image per batch entry, seeded by (step, i). */
function batchAt(s: number, salt = 0): Float32Array {
  const out = new Float32Array(B * 3 * R * R);
  for (let i = 0; i < B; i++) {
    const rng = new Random(mixSeed(11, salt, s, i));
    const img = images[rng.randint(0, images.length)];
    const x0 = rng.randint(0, img.width - R + 1), y0 = rng.randint(0, img.height - R + 1), flip = rng.uniform() < 0.5;
    for (let y = 0; y < R; y++) for (let x = 0; x < R; x++) {
      const sx = x0 + (flip ? R - 1 - x : x), p = ((y0 + y) * img.width + sx) * 3;
      for (let c = 0; c < 3; c++) out[((i * 3 + c) * R + y) * R + x] = img.data[p + c] / 127.5 - 1;
    }
  }
  return out;
}

const f = vaeScaleFactor(vae.config), L = vae.config.latentChannels, h = R / f;
const g = new Graph(`mini_vae_train_${B}x${R}`);
const names = new Set(params.map((p) => p.name));
g.paramAsInput = (n) => names.has(n);
const x = new Tensor(g, g.addInput('image', { dtype: 'float32', shape: [B, 3, R, R] }));
const eps = new Tensor(g, g.addInput('noise', { dtype: 'float32', shape: [B, L, h, h] }));
const pv = params.map((p) => p.tensor(g).value);
const { mean, logvar } = vae.encode(x);
const recon = vae.decode(mean.add(logvar.mul(0.5).exp().mul(eps)));
const all = (t: Tensor) => [...t.shape.keys()];
const l1 = recon.sub(x).abs().mean(all(recon));
// KL(N(μ, σ²) ‖ N(0, 1)) per latent element, averaged (vae.py DiagonalGaussianDistribution.kl sums; the weight absorbs the scale).
const kl = mean.mul(mean).add(logvar.exp()).sub(1).sub(logvar).mul(0.5).mean(all(mean));
const loss = l1.add(kl.mul(klWeight));
const grads = gradOrNull(g, loss.value, pv);
const outs: Record<string, import('../src/ir/graph.ts').Value> = { loss: loss.value, l1: l1.value, kl: kl.value };
grads.forEach((gr, i) => { if (gr) outs[`grad.${params[i].name}`] = gr.value; });
g.setOutputs(outs);
const session = await compileGraph(g, { threads, cache: false });

mkdirSync(a.out!, { recursive: true });
const logPath = join(a.out!, 'vae_log.jsonl');
const save = () => {
  writeCheckpoint(a.out!, { step, models: [{ name: 'vae', module: vae, config: raw }], params, expAvg: adam.expAvg, expAvgSq: adam.expAvgSq, state: { step, adamStep: adam.step, dataPosition: step, seed: 11 } });
  pruneCheckpoints(a.out!, 2);
};
const t0 = performance.now();
while (step < steps) {
  const t = performance.now();
  const feeds: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {
    image: { dtype: 'float32', shape: [B, 3, R, R], data: batchAt(step) },
    noise: { dtype: 'float32', shape: [B, L, h, h], data: new Random(mixSeed(12, step)).randn(B * L * h * h) },
  };
  params.forEach((p, i) => { feeds[p.name] = { dtype: 'float32', shape: [...p.shape], data: values[i] }; });
  const out = await session.run(feeds);
  const gs = params.map((p, i) => (grads[i] ? (out[`grad.${p.name}`].data as Float32Array) : null));
  const { totalNorm } = clipGradNorm(gs, 1);
  // Cosine decay to 10 % over the run: the tail polishes the reconstruction.
  const lrNow = lr * (0.1 + 0.45 * (1 + Math.cos((Math.PI * step) / steps)));
  adam.update(values, gs, lrNow);
  step++;
  const sc = (k: string) => (out[k].data as Float32Array)[0];
  const rec = { step, loss: sc('loss'), l1: sc('l1'), kl: sc('kl'), gradNorm: totalNorm, lr: lrNow, seconds: (performance.now() - t) / 1000 };
  appendFileSync(logPath, `${JSON.stringify(rec)}\n`);
  if (step % 20 === 0) process.stderr.write(`vae step ${step}/${steps} l1 ${rec.l1.toFixed(4)} kl ${rec.kl.toFixed(2)} ${rec.seconds.toFixed(2)} s/step (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  if (step % every === 0 || step === steps) save();
}
await session.release();
if (!listCheckpoints(a.out!).length) save();

// scaling_factor = 1 / std of the posterior means over 8 held batches (LDM's latent scale recipe).
const enc = await compileGraph(traceVaeEncode(vae, { batch: B, height: R, width: R }), { threads, cache: false });
let s1 = 0, s2 = 0, n = 0;
for (let k = 0; k < 8; k++) {
  const m = (await enc.run({ image: { dtype: 'float32', shape: [B, 3, R, R], data: batchAt(k, 1) } })).mean.data as Float32Array;
  for (const v of m) { s1 += v; s2 += v * v; n++; }
}
await enc.release();
const std = Math.sqrt(s2 / n - (s1 / n) ** 2);
const final = listCheckpoints(a.out!).at(-1)!;
const cfg = { ...raw, scaling_factor: Number((1 / std).toPrecision(5)) };
writeFileSync(join(final.dir, 'vae', 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
process.stderr.write(`vae done at step ${step}: latent mean ${(s1 / n).toFixed(4)} std ${std.toFixed(4)} → scaling_factor ${cfg.scaling_factor} (${final.dir})\n`);
