/**
 * JobQueue without a model: a runner the test drives by hand and a clock it sets, so the
 * one-at-a-time order, the store bounds (age, count, bytes), ETA and cancel paths are exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeImage } from '../../src/image/image.ts';
import type { Progress } from '../../src/pipelines/pasd.ts';
import { JobQueue, progressFraction } from '../../src/server/jobs.ts';
import { RunError, type RunInput, type RunResult, type Runner } from '../../src/server/runner.ts';

class HandRunner implements Runner {
  runs: { input: RunInput; onProgress: (p: Progress) => void; resolve: (r: RunResult) => void; reject: (e: Error) => void }[] = [];
  canceled: string[] = [];
  closed = false;
  run(input: RunInput, onProgress: (p: Progress) => void): Promise<RunResult> {
    return new Promise((resolve, reject) => this.runs.push({ input, onProgress, resolve, reject }));
  }
  cancel(id: string): void {
    this.canceled.push(id);
    const r = this.runs.find((x) => x.input.id === id);
    r?.reject(new RunError('AbortError: aborted', true));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const image = () => ({ rgb: makeImage(4, 4, 3), alpha: null });
const options = { model: 'm', upscale: { upscale: 2 } };
const tick = () => new Promise((r) => setImmediate(r));
const png = (n: number) => ({ png: new Uint8Array(n), width: 8, height: 8 });

test('one job at a time in FIFO order; finished jobs expire by age, then by count and bytes, oldest first', async () => {
  let now = 1000;
  const runner = new HandRunner();
  const q = new JobQueue(runner, { maxQueued: 2, maxFinished: 2, maxResultBytes: 100, ttlMs: 10_000 }, () => now);
  const a = q.submit(image(), options), b = q.submit(image(), options), c = q.submit(image(), options);
  assert.deepEqual([a.state, b.state, c.state], ['running', 'queued', 'queued']);
  assert.equal(q.view(c).position, 2);
  assert.throws(() => q.submit(image(), options), (e: { status?: number }) => e.status === 429);
  assert.equal(runner.runs.length, 1);
  assert.equal(a.image, undefined, 'the upload is handed to the runner, not kept');

  runner.runs[0].resolve(png(60));
  await tick();
  assert.equal(a.state, 'done');
  assert.equal(b.state, 'running');
  now += 5000;
  runner.runs[1].resolve(png(30));
  await tick();
  runner.runs[2].resolve(png(30));
  await tick();
  assert.deepEqual([a, b, c].map((j) => j.state), ['done', 'done', 'done']);
  // 3 finished > maxFinished 2: the oldest (a) went.
  assert.equal(q.get(a.id), undefined);
  assert.ok(q.get(b.id) && q.get(c.id));

  const d = q.submit(image(), options);
  runner.runs[3].resolve(png(90));
  await tick();
  // 30 + 30 + 90 bytes > 100: b then c go, d stays although alone it is under the count bound.
  assert.deepEqual([b, c, d].map((j) => Boolean(q.get(j.id))), [false, false, true]);
  now += 10_001;
  q.sweep();
  assert.equal(q.get(d.id), undefined, 'expired by age');
  await q.close(0);
  assert.ok(runner.closed);
});

test('ETA from the finished fraction; cancel of queued, running and finished jobs; a failed run keeps its message', async () => {
  let now = 0;
  const runner = new HandRunner();
  const q = new JobQueue(runner, { maxQueued: 4, maxFinished: 10, maxResultBytes: 1e9, ttlMs: 1e9 }, () => now);
  const a = q.submit(image(), options), b = q.submit(image(), options);
  const seen: string[] = [];
  const unsubscribe = q.subscribe(a.id, (v) => seen.push(`${v.state}:${v.progress?.step ?? '-'}`));
  now = 1000;
  runner.runs[0].onProgress({ phase: 'encode', step: 0, steps: 4, tile: 0, tiles: 0 });
  assert.equal(q.view(a).etaSeconds, undefined, 'no ETA before the first step');
  now = 11_000;
  runner.runs[0].onProgress({ phase: 'denoise', step: 2, steps: 4, tile: 1, tiles: 1 }); // two of four steps done
  const v = q.view(a);
  assert.equal(v.progress!.fraction, 0.05 + 0.9 * 0.5);
  assert.equal(v.etaSeconds, Math.round((11 / 0.5 - 11) * 10) / 10);

  q.cancel(b);
  assert.equal(b.state, 'canceled');
  assert.equal(runner.runs.length, 1, 'a canceled queued job never runs');
  q.cancel(a);
  await tick();
  assert.deepEqual(runner.canceled, [a.id]);
  assert.equal(a.state, 'canceled');
  assert.deepEqual(seen, ['running:0', 'running:2', 'canceled:2']);
  unsubscribe();

  const c = q.submit(image(), options);
  runner.runs[1].reject(new RunError('InputError: bad things', false));
  await tick();
  assert.equal(c.state, 'failed');
  assert.equal(q.view(c).error, 'InputError: bad things');
  q.cancel(c);
  assert.equal(q.get(c.id), undefined, 'DELETE of a finished job forgets it');
  await q.close(0);
});

test('progress fraction rises through encode, every step and tile, decode and done', () => {
  const ps: Progress[] = [
    { phase: 'encode', step: 0, steps: 2, tile: 0, tiles: 0 },
    { phase: 'denoise', step: 1, steps: 2, tile: 1, tiles: 2 },
    { phase: 'denoise', step: 1, steps: 2, tile: 2, tiles: 2 },
    { phase: 'denoise', step: 2, steps: 2, tile: 1, tiles: 2 },
    { phase: 'denoise', step: 2, steps: 2, tile: 2, tiles: 2 },
    { phase: 'decode', step: 2, steps: 2, tile: 0, tiles: 0 },
    { phase: 'done', step: 2, steps: 2, tile: 0, tiles: 0 },
  ];
  const f = ps.map(progressFraction);
  assert.deepEqual(f, [0.02, 0.05 + 0.9 * 0.25, 0.5, 0.05 + 0.9 * 0.75, 0.95, 0.95, 1]);
});
