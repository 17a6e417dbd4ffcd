/**
 * `pasd worker`: takes the jobs of one model from its BullMQ queue, one at a time, and runs
 * them on the same worker thread as `pasd serve` (./runner.ts), so this process's event loop
 * stays free to renew the job's lock (BullMQ does it every lockDuration/2) and to poll for a
 * cancel while the pipeline works. A worker that dies (kill -9, a lost machine) stops renewing;
 * when its lock expires another worker's stalled-job check puts the job back in the queue.
 * On close the running job gets `graceMs` to finish, then it is aborted and handed back.
 */
import { join } from 'node:path';
import { readdir, stat, unlink } from 'node:fs/promises';
import { type Job, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { writeFileAtomic } from '../core/atomic.ts';
import type { RuntimeChoice } from '../engine/compile.ts';
import { decodeImage } from '../image/codec-node.ts';
import { CANCELED } from './jobs.ts';
import { RunError, type RunResult, type WorkerModel, WorkerRunner } from './runner.ts';
import type { QueueConnection } from './redis-url.ts';
import { INPUT_TTL_SEC, type QueuedJob, RESULT_FILE, type StoredResult, lockTag, queueName, redisKeys } from './redis-wire.ts';

export interface QueueWorkerConfig {
  connection: QueueConnection;
  model: WorkerModel;
  runtime?: RuntimeChoice;
  /** Results go to this shared folder instead of Redis. */
  resultsDir?: string;
  /** Largest PNG kept in Redis (without resultsDir). */
  maxResultBytes: number;
  /** BullMQ's lock: renewed every half of it; a dead worker's job is taken back after about twice it. */
  lockMs: number;
  log?: (line: string) => void;
}

export const DEFAULT_WORKER = { maxResultBytes: 16 * 1024 * 1024, lockMs: 30_000 };
/** How often a running job looks for a cancel. */
const CANCEL_POLL_MS = 250;

export class QueueWorker {
  private readonly runner: WorkerRunner;
  private readonly client: Redis;
  private worker: Worker<QueuedJob, StoredResult> | null = null;
  private running: string | null = null;
  private handingBack = false;
  private lastError = '';

  constructor(private readonly config: QueueWorkerConfig) {
    this.runner = new WorkerRunner([config.model], config.runtime);
    this.client = new Redis({ ...config.connection.options, maxRetriesPerRequest: null });
    this.client.on('error', (e: Error) => this.warn(e));
  }

  private log(line: string): void {
    this.config.log?.(line);
  }

  private warn(e: Error): void {
    if (e.message === this.lastError) return;
    this.lastError = e.message;
    this.log(`queue ${this.config.connection.display}: ${e.message}`);
  }

  /** Loads the model (rejects with the loader's message), then starts taking jobs. */
  async start(): Promise<void> {
    await this.runner.load(this.config.model.name);
    const { lockMs } = this.config;
    this.worker = new Worker<QueuedJob, StoredResult>(queueName(this.config.model.name), (job, token) => this.process(job, token!), {
      connection: { ...this.config.connection.options, maxRetriesPerRequest: null },
      concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2,
    });
    this.worker.on('error', (e) => this.warn(e));
    // The input is needed until the job is final: a job taken back after a crash runs again from it.
    const ended = (job: Job | undefined) => job?.id && this.client.del(redisKeys.input(job.id)).catch(() => undefined);
    this.worker.on('completed', ended);
    this.worker.on('failed', ended);
    await this.worker.waitUntilReady();
  }

  private async process(job: Job<QueuedJob, StoredResult>, token: string): Promise<StoredResult> {
    const id = job.id!;
    this.running = id;
    const cancelKey = redisKeys.cancel(id);
    let canceled = false;
    const poll = setInterval(() => {
      this.client.exists(cancelKey).then((n) => {
        if (n && !canceled) {
          canceled = true;
          this.runner.cancel(id);
        }
      }, () => undefined);
    }, CANCEL_POLL_MS);
    try {
      if (await this.client.exists(cancelKey)) throw new Error(CANCELED.queued);
      const bytes = await this.client.getBuffer(redisKeys.input(id));
      if (!bytes) throw new Error(`the uploaded image is gone from Redis (kept ${INPUT_TTL_SEC / 3600} h, or Redis lost it); submit the job again`);
      const { rgb, alpha } = await decodeImage(bytes);
      this.log(`job ${id}: running${job.attemptsStarted > 1 ? ` (start ${job.attemptsStarted}, after a worker stopped)` : ''}`);
      const out = await this.runner.run({ id, model: job.data.options.model, options: job.data.options.upscale, rgb, alpha }, (p) => {
        job.updateProgress({ ...p }).catch(() => undefined);
      });
      const stored = await this.store(id, token, out, job.data.ttlSec);
      this.log(`job ${id}: done`);
      return stored;
    } catch (e) {
      const aborted = e instanceof RunError && e.aborted;
      if (aborted && this.handingBack && !canceled) {
        await job.moveToWait(token);
        this.log(`job ${id}: handed back to the queue`);
        throw new WaitingError();
      }
      const err = canceled && aborted ? new Error(CANCELED.running) : (e as Error);
      this.log(`job ${id}: ${(Object.values(CANCELED) as string[]).includes(err.message) ? 'canceled' : `failed (${err.message})`}`);
      throw err;
    } finally {
      clearInterval(poll);
      this.running = null;
    }
  }

  /** Writes the PNG where the API will look (see ./redis-wire.ts), named by this run's lock. */
  private async store(id: string, token: string, out: RunResult, ttlSec: number): Promise<StoredResult> {
    const meta = { width: out.width, height: out.height, bytes: out.png.length };
    const dir = this.config.resultsDir;
    if (dir) {
      const file = `${id}.${lockTag(token)}.png`;
      writeFileAtomic(join(dir, file), [out.png]);
      await sweepResults(dir, ttlSec * 1000);
      return { ...meta, file };
    }
    const cap = this.config.maxResultBytes;
    if (out.png.length > cap)
      throw new Error(`the result is ${out.png.length} bytes, more than the ${cap} bytes a result may take in Redis (pasd worker --max-result-bytes); give the workers and pasd serve a shared --results-dir`);
    const key = redisKeys.result(id, lockTag(token));
    await this.client.set(key, Buffer.from(out.png.buffer, out.png.byteOffset, out.png.length), 'EX', ttlSec);
    return { ...meta, key };
  }

  /**
   * Stops taking jobs; the running one gets `graceMs` to finish, then it is aborted and put back
   * in the queue for another worker. Resolves when the job is off this worker and the model released.
   */
  async close(graceMs: number): Promise<void> {
    const timer = setTimeout(() => {
      this.handingBack = true;
      if (this.running) this.runner.cancel(this.running);
    }, graceMs);
    await this.worker?.close();
    clearTimeout(timer);
    await this.runner.close();
    this.client.disconnect();
  }
}

/** Removes result files (and temp files of interrupted writes) older than `ttlMs`. */
async function sweepResults(dir: string, ttlMs: number): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (!RESULT_FILE.test(name) && !(name.startsWith('.') && RESULT_FILE.test(name.slice(1).replace(/\.\d+\.[0-9a-f]+\.tmp$/, '')))) continue;
    const s = await stat(join(dir, name)).catch(() => null);
    if (s && now - s.mtimeMs > ttlMs) await unlink(join(dir, name)).catch(() => undefined);
  }
}
