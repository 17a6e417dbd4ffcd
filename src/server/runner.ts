/**
 * The HTTP thread's side of the worker thread (./worker.ts): starts it with the TypeScript
 * loader registered, runs one job at a time through it, forwards cancels, and restarts it if
 * it dies (the running job fails, the server goes on).
 */
import { Worker } from 'node:worker_threads';
import type { RuntimeChoice } from '../engine/compile.ts';
import type { Image } from '../image/image.ts';
import type { ComponentPaths } from '../pipelines/load.ts';
import type { Progress, UpscaleOptions } from '../pipelines/pasd.ts';
import type { PromptProvider } from '../prompts/provider.ts';

/** A model the server offers: its name in the API, its folders, and the options it was made for. */
export interface WorkerModel {
  name: string;
  paths: ComponentPaths;
  defaults: Partial<UpscaleOptions>;
  /** High-level information models (pasd serve --captioner, --detector, --classifier): local folders by kind. */
  highLevel?: Partial<Record<PromptProvider['kind'], string>>;
}

export type ToWorker =
  | { type: 'load'; model: string }
  | { type: 'run'; id: string; model: string; options: UpscaleOptions; rgb: Image; alpha: Image | null }
  | { type: 'cancel'; id: string }
  | { type: 'close' };

export type ToMain =
  | { type: 'loaded'; model: string }
  | { type: 'load-error'; model: string; message: string }
  | { type: 'progress'; id: string; progress: Progress }
  | { type: 'done'; id: string; png: Uint8Array; width: number; height: number }
  | { type: 'error'; id: string; name: string; message: string; aborted: boolean }
  | { type: 'closed' };

export interface RunInput {
  id: string;
  model: string;
  options: UpscaleOptions;
  rgb: Image;
  alpha: Image | null;
}

export interface RunResult {
  png: Uint8Array;
  width: number;
  height: number;
}

/** Why a run ended without a result; `aborted` when it was cancelled. */
export class RunError extends Error {
  constructor(message: string, readonly aborted: boolean) {
    super(message);
  }
}

/** What the job queue needs of a runner (the worker thread here; tests may pass their own). */
export interface Runner {
  run(input: RunInput, onProgress: (p: Progress) => void): Promise<RunResult>;
  cancel(id: string): void;
  close(): Promise<void>;
}

type Pending = { id: string; resolve: (r: RunResult) => void; reject: (e: Error) => void; onProgress: (p: Progress) => void };

export class WorkerRunner implements Runner {
  private worker: Worker | null = null;
  private pending: Pending | null = null;
  private loads = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  private closed: (() => void) | null = null;

  constructor(private readonly models: readonly WorkerModel[], private readonly runtime: RuntimeChoice = {}) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    // Loader hooks are per thread and a worker ignores `--import`: register tsx, then import (as src/train/loader.ts).
    const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
    const w = new Worker(boot, { eval: true, workerData: { models: this.models, runtime: this.runtime } });
    w.on('message', (m: ToMain) => this.onMessage(m));
    w.on('error', (e) => this.onExit(`the worker thread failed: ${e.message}`));
    w.on('exit', (code) => this.onExit(`the worker thread exited (code ${code})`));
    this.worker = w;
    return w;
  }

  private onMessage(m: ToMain): void {
    const p = this.pending;
    switch (m.type) {
      case 'loaded':
        this.loads.get(m.model)?.resolve();
        this.loads.delete(m.model);
        break;
      case 'load-error':
        this.loads.get(m.model)?.reject(new Error(m.message));
        this.loads.delete(m.model);
        break;
      case 'progress':
        if (p?.id === m.id) p.onProgress(m.progress);
        break;
      case 'done':
      case 'error':
        if (p?.id !== m.id) break;
        this.pending = null;
        if (m.type === 'done') p.resolve({ png: m.png, width: m.width, height: m.height });
        else p.reject(new RunError(`${m.name}: ${m.message}`, m.aborted));
        break;
      case 'closed':
        this.closed?.();
        break;
    }
  }

  private onExit(why: string): void {
    if (!this.worker) return;
    this.worker = null;
    this.pending?.reject(new RunError(why, false));
    this.pending = null;
    for (const l of this.loads.values()) l.reject(new Error(why));
    this.loads.clear();
    this.closed?.();
  }

  /** Loads a model ahead of the first job (startup check and warm start); rejects with the loader's message. */
  load(model: string): Promise<void> {
    const w = this.start();
    return new Promise((resolve, reject) => {
      this.loads.set(model, { resolve, reject });
      w.postMessage({ type: 'load', model } satisfies ToWorker);
    });
  }

  run(input: RunInput, onProgress: (p: Progress) => void): Promise<RunResult> {
    if (this.pending) return Promise.reject(new Error('WorkerRunner runs one job at a time'));
    const w = this.start();
    return new Promise((resolve, reject) => {
      this.pending = { id: input.id, resolve, reject, onProgress };
      const transfer = [input.rgb.data.buffer as ArrayBuffer, ...(input.alpha ? [input.alpha.data.buffer as ArrayBuffer] : [])];
      w.postMessage({ type: 'run', ...input } satisfies ToWorker, transfer);
    });
  }

  cancel(id: string): void {
    if (this.pending?.id === id) this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker);
  }

  /**
   * Releases the loaded sessions, then ends the thread (call after the running job has ended;
   * a thread that does not answer within `waitMs`, stuck in a run, is terminated all the same).
   */
  async close(waitMs = 10_000): Promise<void> {
    const w = this.worker;
    if (!w) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.closed = resolve;
      timer = setTimeout(resolve, waitMs);
      w.postMessage({ type: 'close' } satisfies ToWorker);
    });
    clearTimeout(timer);
    await w.terminate();
  }
}
