/**
 * Jobs in Redis through BullMQ (`pasd serve --queue redis://…`): this process only accepts,
 * reports, cancels and streams; `pasd worker` processes run the jobs. Any number of API
 * processes may share the queues: every view is read from Redis, and each process follows
 * BullMQ's event stream (QueueEvents) for its Server-Sent Events. The layout in Redis is
 * ./redis-wire.ts's.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { HttpError } from './errors.ts';
import { type JobBackend, type JobCounts, type ResultBody, type Upload, noResult } from './backend.ts';
import { CANCELED, type JobState, type JobView, Subscribers, jobView } from './jobs.ts';
import type { JobOptions } from './options.ts';
import type { QueueConnection } from './redis-url.ts';
import { INPUT_TTL_SEC, type QueuedJob, RESULT_FILE, type StoredResult, queueName, redisKeys } from './redis-wire.ts';

export interface RedisJobsConfig {
  connection: QueueConnection;
  /** The served models; one queue each. */
  models: readonly string[];
  /** Jobs waiting over all models' queues; more get 429 (a soft bound across API processes). */
  maxQueued: number;
  /** How long finished jobs and results are kept. */
  ttlMs: number;
  /** The folder the workers write results to (`--results-dir`), as mounted here. */
  resultsDir?: string;
  log?: (line: string) => void;
}

const QUEUE_EVENTS = ['waiting', 'active', 'progress', 'completed', 'failed', 'stalled', 'removed'] as const;
type Found = { queue: Queue; job: Job<QueuedJob, StoredResult>; state: Awaited<ReturnType<Job['getState']>> };
const gone = (id: string) => new HttpError(404, `job ${id}: no such job (finished jobs expire)`, 'id');

export class RedisJobs implements JobBackend {
  readonly maxQueued: number;
  private readonly queues: Queue[];
  private readonly events: QueueEvents[];
  /** Our own keys (./redis-wire.ts) and the wait-list reads. */
  private readonly client: Redis;
  private readonly listeners = new Subscribers();
  /** Views of one job are read one after another, so its listeners never see them out of order. */
  private readonly reads = new Map<string, Promise<void>>();
  private lastError = '';

  constructor(private readonly config: RedisJobsConfig) {
    this.maxQueued = config.maxQueued;
    // Requests fail (503) after one reconnection attempt instead of hanging while Redis is away.
    const connection = { ...config.connection.options, maxRetriesPerRequest: 1 };
    this.queues = config.models.map((m) => new Queue(queueName(m), { connection }));
    this.events = config.models.map((m) => new QueueEvents(queueName(m), { connection: { ...config.connection.options, maxRetriesPerRequest: null } }));
    this.client = new Redis(connection);
    for (const q of this.queues) q.on('error', (e: Error) => this.warn(e));
    for (const q of this.events) q.on('error', (e: Error) => this.warn(e));
    this.client.on('error', (e: Error) => this.warn(e));
    for (const ev of this.events) for (const name of QUEUE_EVENTS) ev.on(name, ({ jobId }: { jobId: string }) => this.changed(jobId));
  }

  /** Connection errors repeat at every reconnection attempt: each different one is logged once. */
  private warn(e: Error): void {
    if (e.message === this.lastError) return;
    this.lastError = e.message;
    this.config.log?.(`queue ${this.config.connection.display}: ${e.message}`);
  }

  /** Runs a Redis round trip; a failure is a 503 naming the queue (never its credentials). */
  private async redis<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(503, `the job queue (${this.config.connection.display}) failed to ${what}: ${(e as Error).message}; retry later`, undefined, { 'retry-after': '5' });
    }
  }

  private queueOf(model: string): Queue {
    const i = this.config.models.indexOf(model);
    if (i < 0) throw new HttpError(400, `model: "${model}" is not served here`, 'model');
    return this.queues[i];
  }

  /** The job and its BullMQ state, read consistently (see below); undefined when it is gone. */
  private async find(id: string): Promise<Found | undefined> {
    for (const queue of this.queues) {
      let job = (await queue.getJob(id)) as Job<QueuedJob, StoredResult> | undefined;
      if (!job) continue;
      const state = await job.getState();
      if (state === 'unknown') return undefined;
      // Read just before it finished: read again, so a finished job always has its return value.
      if ((state === 'completed' || state === 'failed') && job.finishedOn === undefined) job = ((await queue.getJob(id)) as typeof job) ?? job;
      return { queue, job, state };
    }
    return undefined;
  }

  async submit(upload: Upload, options: JobOptions): Promise<JobView> {
    const queue = this.queueOf(options.model);
    const { width, height } = upload.image.rgb;
    const id = randomUUID();
    const data: QueuedJob = { options, input: { width, height }, ttlSec: Math.ceil(this.config.ttlMs / 1000) };
    return this.redis('queue the job', async () => {
      if ((await this.counts()).queued >= this.maxQueued)
        throw new HttpError(429, `the queue is full (${this.maxQueued} jobs waiting); retry later`, undefined, { 'retry-after': '10' });
      const client = this.client;
      // The input first: a worker never sees a job without it.
      await client.set(redisKeys.input(id), Buffer.from(upload.bytes.buffer, upload.bytes.byteOffset, upload.bytes.length), 'EX', INPUT_TTL_SEC);
      const keep = { age: data.ttlSec };
      try {
        await queue.add('upscale', data, { jobId: id, attempts: 1, removeOnComplete: keep, removeOnFail: keep });
      } catch (e) {
        await client.del(redisKeys.input(id)).catch(() => undefined);
        throw e;
      }
      return (await this.view(id)) ?? jobView({ id, state: 'queued', model: options.model, input: data.input }, Date.now());
    });
  }

  view(id: string): Promise<JobView | undefined> {
    return this.redis('read the job', async () => {
      const found = await this.find(id);
      return found && this.viewOf(found);
    });
  }

  private async viewOf({ queue, job, state: bull }: Found): Promise<JobView> {
    const id = job.id!;
    const client = this.client;
    const cancel = await client.exists(redisKeys.cancel(id));
    let state: JobState;
    let error: string | undefined;
    let position: number | undefined;
    if (bull === 'completed') state = 'done';
    else if (bull === 'failed') {
      error = job.failedReason;
      state = (Object.values(CANCELED) as string[]).includes(error) ? 'canceled' : 'failed';
    } else if (bull === 'active') state = 'running';
    else if (cancel) [state, error] = ['canceled', CANCELED.queued];
    else {
      state = 'queued';
      // BullMQ pushes new jobs on the left of the wait list and takes from the right.
      const [length, index, running] = await Promise.all([client.llen(queue.keys.wait), client.lpos(queue.keys.wait, id), queue.getActiveCount()]);
      if (index !== null) position = length - 1 - index + running;
    }
    const progress = job.progress && typeof job.progress === 'object' ? (job.progress as unknown as JobView['progress']) : undefined;
    return jobView({
      id, state, error, position, progress, model: job.data.options.model, input: job.data.input,
      output: state === 'done' ? job.returnvalue : undefined, started: job.processedOn, finished: job.finishedOn,
    }, Date.now());
  }

  cancel(id: string): Promise<JobView | undefined> {
    return this.redis('cancel the job', async () => {
      const found = await this.find(id);
      if (!found) return undefined;
      const before = await this.viewOf(found);
      const client = this.client;
      if (before.state === 'queued' || before.state === 'running') {
        await client.set(redisKeys.cancel(id), '1', 'EX', INPUT_TTL_SEC);
        this.changed(id);
        const after = await this.find(id);
        return after ? this.viewOf(after) : before;
      }
      // A finished job is forgotten, its result with it.
      const stored = found.job.returnvalue;
      await found.job.remove();
      if (stored && 'key' in stored) await client.del(stored.key);
      const dir = this.config.resultsDir;
      if (stored && 'file' in stored && dir && RESULT_FILE.test(stored.file)) await unlink(join(dir, stored.file)).catch(() => undefined);
      return before;
    });
  }

  async result(id: string): Promise<ResultBody> {
    const stored = await this.redis('read the result', async () => {
      const found = await this.find(id);
      if (!found) throw gone(id);
      const v = await this.viewOf(found);
      if (v.state !== 'done') throw noResult(v);
      const r = found.job.returnvalue;
      if ('file' in r) return r;
      const png = await this.client.getBuffer(r.key);
      if (!png) throw new HttpError(404, `job ${id}: the result expired`, 'id');
      return { png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
    });
    if ('png' in stored) return stored;
    const dir = this.config.resultsDir;
    if (!dir) throw new HttpError(500, `job ${id}: the workers keep results in a shared folder; start pasd serve with --results-dir <that folder>`);
    if (!RESULT_FILE.test(stored.file)) throw new HttpError(500, `job ${id}: unexpected result file name`);
    const path = join(dir, stored.file);
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size < 0) throw new HttpError(404, `job ${id}: the result file is gone from --results-dir (it expired or the folder differs from the workers')`, 'id');
    return { stream: createReadStream(path), length: size };
  }

  subscribe(id: string, fn: (v: JobView) => void): () => void {
    return this.listeners.add(id, fn);
  }

  private changed(id: string): void {
    if (!this.listeners.has(id)) return;
    const read = (this.reads.get(id) ?? Promise.resolve()).then(async () => {
      const v = await this.view(id).catch(() => undefined);
      if (v) this.listeners.emit(id, v);
      if (this.reads.get(id) === read) this.reads.delete(id);
    });
    this.reads.set(id, read);
  }

  counts(): Promise<JobCounts> {
    return this.redis('count the jobs', async () => {
      const all = await Promise.all(this.queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed')));
      const sum = (k: string) => all.reduce((s, c) => s + (c[k] ?? 0), 0);
      return { queued: sum('waiting') + sum('prioritized') + sum('delayed'), running: sum('active'), finished: sum('completed') + sum('failed') };
    });
  }

  /** The jobs belong to Redis: closing only lets go of the connections. */
  async close(): Promise<void> {
    await Promise.all([...this.queues, ...this.events].map((q) => q.close()));
    this.client.disconnect();
  }
}
