/**
 * Where the HTTP API keeps its jobs: this process (`MemoryJobs`, the default: a `JobQueue` in
 * front of one worker thread) or Redis through BullMQ (`RedisJobs`, `pasd serve --queue`), so
 * any number of API processes share one queue. The server only talks to this interface.
 */
import type { Readable } from 'node:stream';
import type { DecodedImage } from '../image/codec-node.ts';
import { HttpError } from './errors.ts';
import type { JobQueue, JobView } from './jobs.ts';
import type { JobOptions } from './options.ts';

/** An accepted upload: its bytes as sent and the decoded image (each backend takes what it keeps). */
export interface Upload {
  bytes: Uint8Array;
  image: DecodedImage;
}

/** A result to stream: the PNG in memory, or a stream of `length` bytes. */
export type ResultBody = { png: Uint8Array } | { stream: Readable; length: number };

export interface JobCounts {
  queued: number;
  running: number;
  finished: number;
}

export interface JobBackend {
  /** Jobs that may wait; more get 429. */
  readonly maxQueued: number;
  submit(upload: Upload, options: JobOptions): Promise<JobView>;
  /** The job's view; undefined when there is no such job (or it expired). */
  view(id: string): Promise<JobView | undefined>;
  /** Cancels a queued or running job, forgets a finished one; the view before forgetting. */
  cancel(id: string): Promise<JobView | undefined>;
  /** The result of a done job; 409 before that, 404 when it expired. */
  result(id: string): Promise<ResultBody>;
  /** Calls `fn` with the job's view on every change until it is final; returns the unsubscribe. */
  subscribe(id: string, fn: (v: JobView) => void): () => void;
  counts(): Promise<JobCounts>;
  /** Stops taking jobs; what happens to the queued and running ones is the backend's. */
  close(graceMs: number): Promise<void>;
}

/** 409 for a job that exists but has no result (yet). */
export const noResult = (v: JobView) =>
  new HttpError(409, `job ${v.id} is ${v.state}${v.error ? ` (${v.error})` : ''}; the result exists once it is done`, 'id');

/** The in-process queue: jobs live and die with this process. */
export class MemoryJobs implements JobBackend {
  constructor(readonly queue: JobQueue) {}

  get maxQueued(): number {
    return this.queue.limits.maxQueued;
  }

  async submit(upload: Upload, options: JobOptions): Promise<JobView> {
    return this.queue.view(this.queue.submit(upload.image, options));
  }

  async view(id: string): Promise<JobView | undefined> {
    const job = this.queue.get(id);
    return job && this.queue.view(job);
  }

  async cancel(id: string): Promise<JobView | undefined> {
    const job = this.queue.get(id);
    if (!job) return undefined;
    this.queue.cancel(job);
    return this.queue.view(job);
  }

  async result(id: string): Promise<ResultBody> {
    const job = this.queue.get(id);
    if (!job) throw new HttpError(404, `job ${id}: no such job (finished jobs expire)`, 'id');
    if (!job.result) throw noResult(this.queue.view(job));
    return { png: job.result.png };
  }

  subscribe(id: string, fn: (v: JobView) => void): () => void {
    return this.queue.subscribe(id, fn);
  }

  async counts(): Promise<JobCounts> {
    return this.queue.counts();
  }

  close(graceMs: number): Promise<void> {
    return this.queue.close(graceMs);
  }
}
