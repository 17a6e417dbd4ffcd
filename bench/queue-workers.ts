/**
 * `node --import tsx bench/queue-workers.ts [--images 8] [--size 32] [--workers 1,2]`: throughput
 * of `pasd worker` processes on one Redis queue (the bundled mini model, one thread per worker,
 * its defaults). For each worker count: a fresh redis-server, an API server in this process,
 * the workers started and warmed up (one job each, so graph compilation is not counted), then
 * one batch of images submitted at once; the time is from submission to the last result.
 * Also reported: how the jobs spread over the workers, and the CPU the workers got (on a
 * shared machine the cores they are given, not their number, bound the throughput).
 */
import { readFileSync } from 'node:fs';
import { defaultModelOptions, defaultModelPaths } from '../src/pipelines/load.ts';
import { RedisJobs } from '../src/server/redis-jobs.ts';
import { parseQueueUrl } from '../src/server/redis-url.ts';
import { PasdServer } from '../src/server/server.ts';
import { form, png, waitFinal } from '../test/server/helpers.ts';
import { type Child, RedisServer, pasd } from '../test/server/redis-helpers.ts';
import { type BenchResult, report } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const images = Number(opt('--images', '8')), size = Number(opt('--size', '32'));
const counts = opt('--workers', '1,2').split(',').map(Number);

async function batch(url: string, n: number): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/v1/jobs`, { method: 'POST', body: form(await png(size, size, [40 + i * 20, 120, 200 - i * 10]), { seed: i }) });
    if (r.status !== 202) throw new Error(`submit: ${r.status} ${await r.text()}`);
    ids.push(((await r.json()) as { id: string }).id);
  }
  for (const id of ids) {
    const j = await waitFinal(url, id, {}, 30 * 60_000);
    if (j.state !== 'done') throw new Error(`job ${id}: ${j.state} ${j.error ?? ''}`);
  }
}

/** User + system CPU seconds of a worker process so far (Linux /proc; its threads included). */
function cpuSeconds(w: Child): number {
  const fields = readFileSync(`/proc/${w.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const doneCount = (w: Child) => w.output.split(': done').length - 1;

const results: BenchResult[] = [];
for (const n of counts) {
  const redis = await RedisServer.start();
  const server = new PasdServer({
    models: [{ name: 'pasd-mini', paths: defaultModelPaths(), defaults: defaultModelOptions() }], port: 0,
    jobs: new RedisJobs({ connection: parseQueueUrl(redis.url), models: ['pasd-mini'], maxQueued: images + n, ttlMs: 3600_000 }),
  });
  const url = await server.listen();
  const workers = Array.from({ length: n }, () => pasd(['worker', '--queue', redis.url, '--threads', '1']));
  try {
    await Promise.all(workers.map((w) => w.waitFor(/taking "pasd-mini" jobs/, 5 * 60_000)));
    await batch(url, n); // warm-up: each worker compiles its graphs on its first job
    const cpu0 = workers.map(cpuSeconds), done0 = workers.map(doneCount);
    const t0 = performance.now();
    await batch(url, images);
    const ms = performance.now() - t0;
    const cpu = workers.reduce((s, w, i) => s + cpuSeconds(w) - cpu0[i], 0);
    const perWorker = workers.map((w, i) => doneCount(w) - done0[i]).join('+');
    results.push({
      name: `${n} worker${n > 1 ? 's' : ''}, ${images} images ${size}² ×4`, timing: { minMs: ms, medianMs: ms, iters: 1 },
      extra: { 'images/min': ((images / ms) * 60_000).toFixed(2), 'jobs per worker': perWorker, 'CPU s/image': (cpu / images).toFixed(2), 'cores used': (cpu / (ms / 1000)).toFixed(2) },
    });
    console.log(`${n} worker(s): ${(ms / 1000).toFixed(1)} s for ${images} images (jobs per worker ${perWorker}, ${(cpu / (ms / 1000)).toFixed(2)} cores used)`);
  } finally {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await server.close(0);
    await redis.close();
  }
}
report(results, 1);
