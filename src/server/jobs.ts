/**
 * Jobs: a bounded FIFO in front of one runner (one job at a time), their progress and ETA,
 * listeners for Server-Sent Events, and finished jobs kept in a bounded store (count, bytes,
 * age) until they expire. Jobs belong to the server, not to a connection: a client that
 * disconnects loses nothing, it can poll or reconnect with the id.
 */
import { randomUUID } from 'node:crypto';
import type { Image } from '../image/image.ts';
import type { Progress } from '../pipelines/pasd.ts';
import { HttpError } from './errors.ts';
import type { JobOptions } from './options.ts';
import { RunError, type Runner } from './runner.ts';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'canceled';
const FINAL: readonly JobState[] = ['done', 'failed', 'canceled'];
export const isFinal = (s: JobState) => FINAL.includes(s);
/** The errors of canceled jobs (a Redis worker fails a canceled job with one of these). */
export const CANCELED = { queued: 'canceled before it started', running: 'canceled while running' } as const;

export interface StoreLimits {
  /** Jobs waiting behind the running one; more gives 429. */
  maxQueued: number;
  /** Finished jobs kept (results and errors); the oldest go first. */
  maxFinished: number;
  /** Bytes of result PNGs kept. */
  maxResultBytes: number;
  /** How long a finished job is kept. */
  ttlMs: number;
}

/** How long a canceled run may take to stop before shutdown goes on without it. */
const ABORT_WAIT_MS = 15_000;

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxQueued: 8, maxFinished: 64, maxResultBytes: 512 * 1024 * 1024, ttlMs: 60 * 60 * 1000 };

export interface Job {
  readonly id: string;
  readonly options: JobOptions;
  readonly created: number;
  readonly input: { width: number; height: number };
  state: JobState;
  started?: number;
  finished?: number;
  progress?: Progress;
  error?: string;
  result?: { png: Uint8Array; width: number; height: number };
  /** The decoded upload, dropped once it went to the runner. */
  image?: { rgb: Image; alpha: Image | null };
  cancelRequested?: boolean;
}

/** What `GET /v1/jobs/:id` and the SSE events report about a job. */
export interface JobView {
  id: string;
  state: JobState;
  model: string;
  input: { width: number; height: number };
  output?: { width: number; height: number };
  /** Queued: jobs ahead of this one (the running one included). */
  position?: number;
  progress?: Progress & { fraction: number };
  /** Seconds left, estimated from the time the finished part took. */
  etaSeconds?: number;
  elapsedSeconds?: number;
  error?: string;
}

/** Fraction of the work done: encode ≈ 5 %, the denoising steps (× tiles) 90 %, decode the rest. */
export function progressFraction(p: Progress): number {
  if (p.phase === 'done') return 1;
  if (p.phase === 'decode') return 0.95;
  if (p.phase === 'encode') return 0.02;
  const tiles = Math.max(1, p.tiles);
  const done = (p.step - 1 + Math.min(p.tile, tiles) / tiles) / Math.max(1, p.steps);
  return Math.min(0.95, 0.05 + 0.9 * Math.max(0, done)); // min: 0.05 + 0.9 is 0.9500000000000001
}

/** What a view is made of, wherever the job lives (this process or Redis). */
export type JobFacts = Omit<JobView, 'progress' | 'etaSeconds' | 'elapsedSeconds'> & { progress?: Progress; started?: number; finished?: number };

export function jobView(job: JobFacts, now: number): JobView {
  const v: JobView = { id: job.id, state: job.state, model: job.model, input: job.input };
  if (job.state === 'queued' && job.position !== undefined) v.position = job.position;
  if (job.progress) v.progress = { ...job.progress, fraction: progressFraction(job.progress) };
  if (job.started !== undefined) {
    const elapsed = ((job.finished ?? now) - job.started) / 1000;
    v.elapsedSeconds = Math.round(elapsed * 10) / 10;
    const f = v.progress?.fraction ?? 0;
    // Only past the first denoising step: model loading and encoding say little about the rest.
    if (job.state === 'running' && f > 0.05) v.etaSeconds = Math.round((elapsed / f) * (1 - f) * 10) / 10;
  }
  if (job.output) v.output = { width: job.output.width, height: job.output.height };
  if (job.error) v.error = job.error;
  return v;
}

/** Per job, the functions that follow its view (Server-Sent Events). */
export class Subscribers {
  private readonly byId = new Map<string, Set<(v: JobView) => void>>();

  /** Returns the unsubscribe. */
  add(id: string, fn: (v: JobView) => void): () => void {
    let set = this.byId.get(id);
    if (!set) this.byId.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size && this.byId.get(id) === set) this.byId.delete(id);
    };
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  emit(id: string, v: JobView): void {
    for (const fn of [...(this.byId.get(id) ?? [])]) fn(v);
  }

  /** Forgets the job's listeners (it is final). */
  drop(id: string): void {
    this.byId.delete(id);
  }
}

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running: Job | null = null;
  private readonly listeners = new Subscribers();
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;
  private idle: (() => void) | null = null;

  constructor(private readonly runner: Runner, readonly limits: StoreLimits = DEFAULT_STORE_LIMITS, private readonly now: () => number = Date.now,
    private readonly log?: (line: string) => void) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, limits.ttlMs / 4))).unref();
  }

  submit(image: { rgb: Image; alpha: Image | null }, options: JobOptions): Job {
    if (this.closing) throw new HttpError(503, 'the server is shutting down');
    if (this.queue.length >= this.limits.maxQueued)
      throw new HttpError(429, `the queue is full (${this.limits.maxQueued} jobs waiting); retry later`, undefined, { 'retry-after': '10' });
    const job: Job = { id: randomUUID(), options, created: this.now(), input: { width: image.rgb.width, height: image.rgb.height }, state: 'queued', image };
    this.jobs.set(job.id, job);
    this.queue.push(job);
    this.pump();
    return job;
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  counts(): { queued: number; running: number; finished: number } {
    return { queued: this.queue.length, running: this.running ? 1 : 0, finished: this.jobs.size - this.queue.length - (this.running ? 1 : 0) };
  }

  view(job: Job): JobView {
    return jobView({ ...job, model: job.options.model, output: job.result, position: job.state === 'queued' ? this.queue.indexOf(job) + (this.running ? 1 : 0) : undefined }, this.now());
  }

  /** Calls `fn` with the job's view on every change until it is final; returns the unsubscribe. */
  subscribe(id: string, fn: (v: JobView) => void): () => void {
    return this.listeners.add(id, fn);
  }

  /**
   * Cancels a queued job at once, asks the runner to abort a running one (it ends as
   * 'canceled' when the runner stops), and forgets a finished one (its result is freed).
   */
  cancel(job: Job): void {
    if (job.state === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.finish(job, 'canceled', { error: CANCELED.queued });
    } else if (job.state === 'running') {
      job.cancelRequested = true;
      this.runner.cancel(job.id);
    } else this.jobs.delete(job.id);
  }

  private emit(job: Job): void {
    if (this.listeners.has(job.id)) this.listeners.emit(job.id, this.view(job));
  }

  private finish(job: Job, state: JobState, o: { error?: string; result?: Job['result'] } = {}): void {
    job.state = state;
    job.finished = this.now();
    job.image = undefined;
    if (o.error) job.error = o.error;
    if (o.result) job.result = o.result;
    this.log?.(`job ${job.id}: ${state}${job.started !== undefined ? ` after ${((job.finished - job.started) / 1000).toFixed(1)} s` : ''}${o.error ? ` (${o.error})` : ''}`);
    this.emit(job);
    this.listeners.drop(job.id);
    this.sweep();
  }

  private pump(): void {
    if (this.running || !this.queue.length) {
      if (!this.running) this.idle?.();
      return;
    }
    const job = this.queue.shift()!;
    this.running = job;
    job.state = 'running';
    job.started = this.now();
    const { rgb, alpha } = job.image!;
    job.image = undefined;
    this.emit(job);
    this.runner
      .run({ id: job.id, model: job.options.model, options: job.options.upscale, rgb, alpha }, (p) => {
        job.progress = p;
        this.emit(job);
      })
      .then(
        (result) => this.finish(job, 'done', { result }),
        (e: Error) => {
          const canceled = e instanceof RunError && e.aborted && job.cancelRequested;
          this.finish(job, canceled ? 'canceled' : 'failed', { error: canceled ? CANCELED.running : e.message });
        },
      )
      .finally(() => {
        this.running = null;
        this.pump();
      });
  }

  /** Drops finished jobs past their age, then the oldest while over the count or byte bound. */
  sweep(): void {
    const finished = [...this.jobs.values()].filter((j) => isFinal(j.state)).sort((a, b) => a.finished! - b.finished!);
    let bytes = finished.reduce((s, j) => s + (j.result?.png.length ?? 0), 0);
    let count = finished.length;
    for (const j of finished) {
      if (this.now() - j.finished! <= this.limits.ttlMs && count <= this.limits.maxFinished && bytes <= this.limits.maxResultBytes) break;
      this.jobs.delete(j.id);
      count--;
      bytes -= j.result?.png.length ?? 0;
    }
  }

  /**
   * Graceful stop: no new jobs, queued ones are canceled, the running one gets `graceMs` to
   * finish before it is aborted; resolves when nothing runs any more and the runner is closed
   * (a run that ignores the abort for `ABORT_WAIT_MS` more is ended with the runner).
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const job of [...this.queue]) this.cancel(job);
    if (this.running) {
      const timers: NodeJS.Timeout[] = [];
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timers.push(setTimeout(() => this.running && this.cancel(this.running), graceMs));
        timers.push(setTimeout(resolve, graceMs + ABORT_WAIT_MS));
      });
      timers.forEach(clearTimeout);
    }
    await this.runner.close();
  }
}
