/**
 * The abuse suite's engine (issue 21): seeded random mutations of valid inputs thrown at each
 * reader. A reader may refuse an input only with a typed error (PasdError); anything else, a
 * RangeError, a TypeError, a hang, a 5xx, is a crash and is recorded with the seed and input
 * number that reproduce it. `fuzz.test.ts` runs a bounded count in `npm test`;
 * `scripts/fuzz.ts` runs as many as asked by hand.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { serializeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { openTorchZip } from '../../src/checkpoint/torch-zip.ts';
import { writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { readZipDirectory, readStoredEntry } from '../../src/checkpoint/zip.ts';
import { withFile } from '../../src/checkpoint/file.ts';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { parsePixelShuffleConfig, parseVaeConfig } from '../../src/config/vae.ts';
import { PasdError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { decodeImage } from '../../src/image/codec-node.ts';
import { createScheduler } from '../../src/schedulers/index.ts';
import { DEFAULT_OPTION_LIMITS, parseJobOptions } from '../../src/server/options.ts';
import { HttpError } from '../../src/server/errors.ts';
import { decodeUpload, parseUpload } from '../../src/server/upload.ts';

export interface Crash {
  target: string;
  input: number;
  error: string;
}

export interface TargetResult {
  target: string;
  inputs: number;
  refused: number;
  crashes: Crash[];
}

/** One random byte-level change: flip, set, an interesting 32-bit value (lengths, offsets), cut, insert, duplicate. */
export function mutate(src: Uint8Array, rnd: Random): Uint8Array {
  const b = Buffer.from(src);
  const at = () => Math.floor(rnd.uniform() * Math.max(1, b.length));
  const edits = 1 + Math.floor(rnd.uniform() * 4);
  let out: Buffer = b;
  for (let k = 0; k < edits; k++) {
    const kind = Math.floor(rnd.uniform() * 6);
    const i = at();
    if (kind === 0 && out.length) out[i % out.length] ^= 1 << Math.floor(rnd.uniform() * 8);
    else if (kind === 1 && out.length) out[i % out.length] = Math.floor(rnd.uniform() * 256);
    else if (kind === 2 && out.length >= 4) {
      const v = [0, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 1][Math.floor(rnd.uniform() * 6)];
      out.writeUInt32LE(v, Math.min(i, out.length - 4));
    } else if (kind === 3) out = out.subarray(0, i);
    else if (kind === 4) out = Buffer.concat([out.subarray(0, i), Buffer.from(Array.from({ length: 1 + Math.floor(rnd.uniform() * 16) }, () => Math.floor(rnd.uniform() * 256))), out.subarray(i)]);
    else out = Buffer.concat([out.subarray(0, i), out.subarray(Math.min(i, out.length), Math.min(out.length, i + 64)), out.subarray(i)]);
  }
  return out;
}

/** A random JSON value: numbers at the edges (huge, negative, fractional), strings, lists, objects. */
function randomJson(rnd: Random, depth = 0): unknown {
  const r = rnd.uniform();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd.uniform() * xs.length)];
  if (r < 0.35) return pick([0, 1, -1, 2, 3, 8, 32, 320, 1e8, -1e8, 2 ** 31, 2 ** 53, 1e308, 0.5, -0.0, 1e-300]);
  if (r < 0.5) return pick(['', 'silu', 'default', 'linear', 'scaled_linear', 'DownBlock2D', 'CrossAttnUpBlock2D', 'x'.repeat(100)]);
  if (r < 0.6) return pick([true, false, null]);
  if (r < 0.85 && depth < 2) return Array.from({ length: Math.floor(rnd.uniform() * 6) }, () => randomJson(rnd, depth + 1));
  if (depth < 2) return { [pick(['a', 'b', '__proto__'])]: randomJson(rnd, depth + 1) };
  return 7;
}

/** A valid config mutated: some keys set to random JSON values, some removed, some unknown added. */
function mutateConfig(base: Record<string, unknown>, rnd: Random): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const keys = Object.keys(base);
  const n = 1 + Math.floor(rnd.uniform() * 3);
  for (let k = 0; k < n; k++) {
    const key = keys[Math.floor(rnd.uniform() * keys.length)];
    if (rnd.uniform() < 0.15) delete out[key];
    else out[key] = randomJson(rnd);
  }
  if (rnd.uniform() < 0.1) out[`unknown_${Math.floor(rnd.uniform() * 10)}`] = randomJson(rnd);
  return out;
}

const isTyped = (e: unknown) => e instanceof PasdError;

/** Runs `count` inputs of one target; each `run(i)` may throw a PasdError (a refusal) or nothing. */
async function drive(target: string, count: number, run: (i: number) => Promise<void> | void): Promise<TargetResult> {
  const res: TargetResult = { target, inputs: 0, refused: 0, crashes: [] };
  for (let i = 0; i < count; i++) {
    res.inputs++;
    try {
      await run(i);
    } catch (e) {
      if (isTyped(e)) res.refused++;
      else res.crashes.push({ target, input: i, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return res;
}

const UNET = {
  in_channels: 4, out_channels: 4, block_out_channels: [32, 64], layers_per_block: 1, attention_head_dim: 8, cross_attention_dim: 32, norm_num_groups: 32,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'], use_linear_projection: false,
};
const VAE = { in_channels: 3, out_channels: 3, block_out_channels: [32, 64], layers_per_block: 1, latent_channels: 4, norm_num_groups: 32,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] };
const CLIP = { vocab_size: 1000, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 77, hidden_act: 'quick_gelu' };
const SCHED = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000, steps_offset: 1, prediction_type: 'epsilon', timestep_spacing: 'leading' };
const SCHEDULERS = ['UniPCMultistepScheduler', 'DDIMScheduler', 'DPMSolverMultistepScheduler', 'EulerDiscreteScheduler', 'LCMScheduler', 'DDPMScheduler'];

/** Every target with `count` inputs each, from `seed`; `scratch` is a folder for files. */
export async function fuzzAll(count: number, seed: number, scratch: string): Promise<TargetResult[]> {
  const rnd = new Random(seed);
  const img = sharp({ create: { width: 12, height: 9, channels: 4, background: { r: 200, g: 30, b: 90, alpha: 0.6 } } });
  const images = await Promise.all([img.clone().png().toBuffer(), img.clone().jpeg().toBuffer(), img.clone().webp().toBuffer(), img.clone().gif().toBuffer(), img.clone().tiff().toBuffer()]);
  const tensors = [
    { name: 'a.weight', dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(6).fill(0.5) },
    { name: 'b.bias', dtype: 'float16' as const, shape: [4], data: new Uint16Array(4).fill(0x3c00) },
  ];
  const safetensors = Buffer.concat(serializeSafetensors(tensors));
  const zipPath = join(scratch, 'valid.bin');
  writeTorchZip(zipPath, [tensors[0]]);
  const torchZip = readFileSync(zipPath);
  const file = (name: string, bytes: Uint8Array) => {
    const p = join(scratch, `${name}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}`);
    writeFileSync(p, bytes);
    return p;
  };
  const results: TargetResult[] = [];
  results.push(await drive('image decoder', count, async (i) => {
    await decodeImage(mutate(images[i % images.length], rnd), { maxPixels: 4096 * 4096, name: `fuzz-${i}` });
  }));
  results.push(await drive('safetensors', count, (i) => {
    const f = openSafetensors(file(`st${i}`, mutate(safetensors, rnd)));
    for (const name of f.tensors.keys()) f.readF32(name);
  }));
  results.push(await drive('zip directory', count, () => {
    const p = file('zip', mutate(torchZip, rnd));
    withFile(p, (f) => {
      for (const e of readZipDirectory(f, p)) if (e.name.endsWith('.pkl')) readStoredEntry(f, e, p, 1 << 20);
    });
  }));
  results.push(await drive('torch zip + pickle', count, () => {
    const f = openTorchZip(file('torch', mutate(torchZip, rnd)));
    for (const name of f.tensors.keys()) f.readF32(name);
  }));
  const configs: [string, Record<string, unknown>, (c: Record<string, unknown>) => unknown][] = [
    ['unet', UNET, (c) => parseUNetConfig(c, 'unet', () => {})], ['controlnet', UNET, (c) => parseControlNetConfig(c, 'controlnet', () => {})],
    ['vae', VAE, (c) => parseVaeConfig(c, 'vae', () => {})], ['pixel shuffle', { factor: 4, in_channels: 3 }, (c) => parsePixelShuffleConfig(c, 'vae', () => {})],
    ['clip', CLIP, (c) => parseClipTextConfig(c, 'clip', () => {})],
    ['scheduler', SCHED, (c) => createScheduler(SCHEDULERS[Math.floor(rnd.uniform() * SCHEDULERS.length)], c, () => {}).setTimesteps(1 + Math.floor(rnd.uniform() * 60))],
  ];
  results.push(await drive('config readers', count, (i) => {
    const [, base, parse] = configs[i % configs.length];
    parse(mutateConfig(base, rnd));
  }));
  const models = new Map([['m', { defaults: {} }]]);
  const option = ['scale', 'steps', 'cfg', 'processSize', 'tileSize', 'tileOverlap', 'seed', 'samples', 'strength', 'scheduler', 'colorize', 'prompt', 'model', 'bogus'];
  results.push(await drive('upload parsing', count, async (i) => {
    const opts = Object.fromEntries(Array.from({ length: 1 + Math.floor(rnd.uniform() * 3) }, () => [option[Math.floor(rnd.uniform() * option.length)], randomJson(rnd)]));
    const image = mutate(images[i % images.length], rnd);
    const f = new FormData();
    f.append('image', new Blob([new Uint8Array(image)]), 'x.png');
    f.append('options', rnd.uniform() < 0.1 ? '{"steps": ' : JSON.stringify(opts));
    const req = new Request('http://127.0.0.1/', { method: 'POST', body: f });
    let body = Buffer.from(await req.arrayBuffer());
    if (rnd.uniform() < 0.5) body = Buffer.from(mutate(body, rnd));
    const upload = await parseUpload(req.headers.get('content-type') ?? undefined, body, new URLSearchParams());
    parseJobOptions(upload.options, models, DEFAULT_OPTION_LIMITS);
    await decodeUpload(upload.image, 4096 * 4096);
  }));
  return results;
}

/** Bodies thrown at a live server's POST /v1/jobs over loopback: any 5xx or dropped answer is a crash. */
export async function fuzzServer(url: string, count: number, seed: number, png: Uint8Array): Promise<TargetResult> {
  const rnd = new Random(seed);
  const types = ['multipart/form-data; boundary=x', 'image/png', 'application/octet-stream', 'text/plain', 'multipart/form-data'];
  return drive('server upload (loopback)', count, async (i) => {
    const f = new FormData();
    f.append('image', new Blob([new Uint8Array(mutate(png, rnd))]), 'x.png');
    f.append('options', JSON.stringify({ steps: 1, [['scale', 'processSize', 'samples', 'scheduler'][i % 4]]: randomJson(rnd) }));
    const req = new Request(url, { method: 'POST', body: f });
    let body: Uint8Array = new Uint8Array(await req.arrayBuffer());
    let type = req.headers.get('content-type')!;
    if (rnd.uniform() < 0.5) body = mutate(body, rnd);
    if (rnd.uniform() < 0.2) type = types[Math.floor(rnd.uniform() * types.length)];
    const r = await fetch(`${url}/v1/jobs`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });
    const text = await r.text();
    if (r.status >= 500) throw new Error(`HTTP ${r.status} for input ${i}: ${text}`);
    if (r.status >= 400) throw new HttpError(r.status, text); // a refusal
    // An accepted job is canceled at once: the suite is about the upload path, not the runs.
    if (r.status === 202) await (await fetch(`${url}/v1/jobs/${(JSON.parse(text) as { id: string }).id}`, { method: 'DELETE' })).arrayBuffer();
  });
}
