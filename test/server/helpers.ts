/**
 * Shared by the server tests: the tiny fixture models laid out as --model/--base folders
 * (as test/cli/upscale.test.ts does), a server on a free loopback port, small PNGs, and
 * options that keep a job to a second or two.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { componentPaths } from '../../src/pipelines/load.ts';
import type { WorkerModel } from '../../src/server/runner.ts';
import { PasdServer, type ServerConfig } from '../../src/server/server.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

/** `--model` and `--base` folders of the tiny fixture models in a fresh temp folder. */
export function tinyModelFolders(): { dir: string; model: string; base: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-serve-'));
  const model = join(dir, 'tiny'), base = join(dir, 'sd15');
  for (const d of [model, base]) mkdirSync(d);
  symlinkSync(modelDir('pasd_unet'), join(model, 'unet'));
  symlinkSync(modelDir('pasd_controlnet'), join(model, 'controlnet'));
  symlinkSync(modelDir('vae'), join(base, 'vae'));
  symlinkSync(modelDir('text_encoder'), join(base, 'text_encoder'));
  symlinkSync(resolve(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
  return { dir, model, base, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tinyModel(model: string, base: string): WorkerModel {
  return { name: 'tiny', paths: componentPaths(model, base), defaults: {} };
}

/** Options that make a job on the tiny models take about a second. */
export const FAST = { processSize: 32, steps: 2, scale: 2 };

export async function png(width: number, height: number, rgb: [number, number, number] = [200, 80, 30]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

/** A started server with the tiny model; `stop` shuts it down gracefully. */
export async function startServer(config: Partial<ServerConfig> & { models: WorkerModel[] }): Promise<{ server: PasdServer; url: string; stop: () => Promise<void> }> {
  const server = new PasdServer({ port: 0, threads: 1, ...config });
  const url = await server.listen();
  return { server, url, stop: () => server.close(2000) };
}

export function form(image: Uint8Array | null, options?: unknown, name = 'a.png'): FormData {
  const f = new FormData();
  if (image) f.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), name);
  if (options !== undefined) f.append('options', JSON.stringify(options));
  return f;
}

export interface JobBody {
  id: string;
  state: string;
  error?: string;
  input?: { width: number; height: number };
  output?: { width: number; height: number };
  progress?: { phase: string; fraction: number };
  etaSeconds?: number;
}

/** Polls a job until it is final. */
export async function waitFinal(url: string, id: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<JobBody> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${url}/v1/jobs/${id}`, { headers });
    const j = (await r.json()) as JobBody;
    if (['done', 'failed', 'canceled'].includes(j.state)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} still ${j.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
