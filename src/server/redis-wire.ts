/**
 * What API processes (./redis-jobs.ts) and queue workers (./queue-worker.ts) agree on in Redis:
 * one BullMQ queue per model, the job's data, and three keys of our own per job:
 *
 *   pasd:input:<id>           the uploaded image bytes (kept out of the job hash, which every
 *                             status poll reads); deleted when the job ends
 *   pasd:cancel:<id>          set by any API process; the worker checks it before it starts and
 *                             between denoising steps (polled)
 *   pasd:result:<id>:<token>  the PNG, written by the worker holding the job's lock `token`
 *
 * A result becomes visible only through the job's return value, which BullMQ commits together
 * with the completion and only for the lock holder: a worker that lost its lock (it stalled
 * and the job went to another worker) may leave an orphan that expires, never a second result.
 */
import type { JobOptions } from './options.ts';

/** BullMQ queue names may not hold ':'; model names are free text. */
export const queueName = (model: string) => `pasd.${encodeURIComponent(model)}`;

export const redisKeys = {
  input: (id: string) => `pasd:input:${id}`,
  cancel: (id: string) => `pasd:cancel:${id}`,
  result: (id: string, tag: string) => `pasd:result:${id}:${tag}`,
};

/** How long an upload may wait for a worker before it is dropped (and the job fails saying so). */
export const INPUT_TTL_SEC = 24 * 3600;

/** The job's data in BullMQ. */
export interface QueuedJob {
  options: JobOptions;
  input: { width: number; height: number };
  /** How long the result is kept, seconds (the API's --result-ttl). */
  ttlSec: number;
}

/** The job's return value: where its PNG is (a Redis key, or a file in the shared results folder). */
export type StoredResult = { width: number; height: number; bytes: number } & ({ key: string } | { file: string });

/** Result file names: `<job id>.<lock tag>.png`; anything else in the folder is never served. */
export const RESULT_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[\w-]+\.png$/;

/** A lock token as a key or file name part. */
export const lockTag = (token: string) => token.replace(/[^\w-]/g, '-');
