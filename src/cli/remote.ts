/**
 * `pasd upscale --server http://…`: the images go to a running `pasd serve` (with `--queue`,
 * a whole folder spreads over every worker) and the results come back to `-o DIR`. Outputs
 * that exist are skipped, so re-running after an interruption resumes; each result is written
 * atomically. Jobs are submitted while the server accepts them (a 429 waits for one of ours to
 * finish, or for its Retry-After) and followed by polling, one line per change of phase.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { PasdError } from '../core/errors.ts';
import type { UpscaleOptions } from '../pipelines/pasd.ts';
import { UsageError } from './args.ts';

export interface RemoteResult {
  input: string;
  output?: string;
  error?: string;
  skipped?: boolean;
  seconds: number;
}

/** The pipeline's option names where the HTTP API's differ (README, Serve). */
const API_NAMES: Partial<Record<keyof UpscaleOptions, string>> = {
  upscale: 'scale', guidanceScale: 'cfg', latentTileSize: 'tileSize', latentTileOverlap: 'tileOverlap', initLatentWithNoise: 'initNoise',
};
/** Jobs of this run in the server at once (it answers 429 before that when its queue is smaller). */
const MAX_IN_FLIGHT = 32;
const POLL_MS = 500;

export function apiOptions(o: UpscaleOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && !(k === 'colorize' && v === false)) out[API_NAMES[k as keyof UpscaleOptions] ?? k] = v;
  return out;
}

interface JobBody {
  id: string;
  state: string;
  error?: string;
  position?: number;
  progress?: { phase: string; step: number; steps: number; fraction: number };
}

class ServerError extends PasdError {}

export async function upscaleRemote(server: string, token: string | undefined, files: readonly string[], outDir: string, options: UpscaleOptions,
  say: (line: string) => void): Promise<RemoteResult[]> {
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw new UsageError(`--server: expected http://host:port, got "${server}"`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--server: expected an http:// or https:// URL, got ${base.protocol}//…`);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(new URL(path, base), { ...init, headers });
    } catch (e) {
      throw new ServerError(`cannot reach the server at ${base.origin} (${(e as Error).cause ?? (e as Error).message}); run again to resume`);
    }
  };
  const failure = async (r: Response) => ((await r.json().catch(() => null)) as { error?: { message: string } } | null)?.error?.message ?? `HTTP ${r.status}`;

  const results: RemoteResult[] = [];
  const todo: { input: string; output: string; t0: number }[] = [];
  for (const input of files) {
    const output = join(outDir, `${basename(input, extname(input))}.png`);
    if (existsSync(output)) {
      say(`${basename(input)}: skipped, ${output} exists`);
      results.push({ input, output, skipped: true, seconds: 0 });
    } else todo.push({ input, output, t0: 0 });
  }
  const active = new Map<string, (typeof todo)[number] & { seen: string }>();
  let waitUntil = 0;
  while (todo.length || active.size) {
    while (todo.length && active.size < MAX_IN_FLIGHT && Date.now() >= waitUntil) {
      const next = todo[0];
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(await readFile(next.input))]), basename(next.input));
      form.append('options', JSON.stringify(apiOptions(options)));
      const r = await call('/v1/jobs', { method: 'POST', body: form });
      if (r.status === 429 || r.status === 503) {
        await r.arrayBuffer();
        waitUntil = Date.now() + 1000 * Number(r.headers.get('retry-after') ?? 5);
        break;
      }
      todo.shift();
      if (r.status === 401) throw new ServerError(`${base.origin}: ${await failure(r)} (pasd upscale --token, or $PASD_TOKEN)`);
      if (r.status !== 202) {
        const error = await failure(r);
        say(`${basename(next.input)}: refused: ${error}`);
        results.push({ input: next.input, error, seconds: 0 });
        continue;
      }
      const job = (await r.json()) as JobBody;
      active.set(job.id, { ...next, t0: Date.now(), seen: '' });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
    for (const [id, a] of active) {
      const r = await call(`/v1/jobs/${id}`);
      if (r.status !== 200) throw new ServerError(`${base.origin}: job ${id} of ${a.input}: ${await failure(r)}`);
      const j = (await r.json()) as JobBody;
      const phase = j.state === 'queued' ? `queued (${j.position ?? '?'} ahead)` : j.progress ? `${j.progress.phase === 'denoise' ? `step ${j.progress.step}/${j.progress.steps}` : j.progress.phase} ${Math.round(j.progress.fraction * 100)}%` : j.state;
      if (phase !== a.seen && !['done', 'failed', 'canceled'].includes(j.state)) say(`${basename(a.input)}: ${phase}`);
      a.seen = phase;
      if (j.state === 'queued' || j.state === 'running') continue;
      active.delete(id);
      waitUntil = 0; // a slot is free
      const seconds = (Date.now() - a.t0) / 1000;
      if (j.state !== 'done') {
        say(`${basename(a.input)}: ${j.state}: ${j.error ?? ''}`);
        results.push({ input: a.input, error: `${j.state}: ${j.error ?? ''}`, seconds });
        continue;
      }
      const png = await call(`/v1/jobs/${id}/result`);
      if (png.status !== 200) throw new ServerError(`${base.origin}: result of ${a.input}: ${await failure(png)}`);
      writeFileAtomic(a.output, [new Uint8Array(await png.arrayBuffer())]);
      await (await call(`/v1/jobs/${id}`, { method: 'DELETE' })).arrayBuffer(); // frees its place in the server's store
      say(`${basename(a.input)}: done → ${a.output} (${seconds.toFixed(1)} s)`);
      results.push({ input: a.input, output: a.output, seconds });
    }
  }
  return results;
}
