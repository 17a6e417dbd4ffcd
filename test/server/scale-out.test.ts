/**
 * Scale-out over a real redis-server: two API servers (PasdServer with RedisJobs, in this
 * process; the `pasd serve --queue` command is run by redis-restart.test.ts) and two worker
 * processes (`pasd worker`) on the tiny fixture models. Ten jobs all finish although one worker
 * is killed with SIGKILL in the middle of a job: that job is taken back and finished by the
 * other worker, no job is lost, none completes twice, and its result is never visible half
 * written. A cancel sent to the other API process stops a job running on a worker; SIGTERM
 * hands the running job back to the queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeImage } from '../../src/image/codec-node.ts';
import { RedisJobs } from '../../src/server/redis-jobs.ts';
import { parseQueueUrl } from '../../src/server/redis-url.ts';
import { PasdServer } from '../../src/server/server.ts';
import { FAST, type JobBody, form, png, tinyModel, tinyModelFolders, waitFinal } from './helpers.ts';
import { NO_REDIS, RedisServer, pasd } from './redis-helpers.ts';

/** Long enough to be killed or canceled in the middle (a few seconds on the tiny models). */
const SLOW = { processSize: 64, steps: 24, scale: 1, seed: 3 };

async function untilDenoising(url: string, id: string): Promise<void> {
  for (;;) {
    const j = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as JobBody;
    if (j.progress?.phase === 'denoise') return;
    assert.ok(['queued', 'running'].includes(j.state), JSON.stringify(j));
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('2 APIs + 2 workers: 10 jobs finish, a worker killed mid-job loses nothing, a cancel on either API stops the job', { skip: NO_REDIS ?? false, timeout: 240_000 }, async () => {
  const redis = await RedisServer.start();
  const f = tinyModelFolders();
  const model = ['--model', f.model, '--base', f.base, '--name', 'tiny'];
  const workers = [0, 1].map(() => pasd(['worker', '--queue', redis.url, '--threads', '1', '--lock-seconds', '2', '--grace', '0', ...model]));
  const api = [0, 1].map(() => new PasdServer({
    models: [tinyModel(f.model, f.base)], port: 0,
    jobs: new RedisJobs({ connection: parseQueueUrl(redis.url), models: ['tiny'], maxQueued: 20, ttlMs: 3600_000 }),
  }));
  try {
    const [a, b] = await Promise.all(api.map((s) => s.listen()));
    await Promise.all(workers.map((w) => w.waitFor(/taking "tiny" jobs/)));
    const submit = async (options: object, url = a) => {
      const r = await fetch(`${url}/v1/jobs`, { method: 'POST', body: form(await png(16, 16), options) });
      assert.equal(r.status, 202);
      return ((await r.json()) as JobBody).id;
    };
    const slow = await submit(SLOW);
    const fast = [];
    for (let i = 0; i < 9; i++) fast.push(await submit({ ...FAST, seed: i }));
    // Server-Sent Events from the other API process follow the job to its end.
    const events = fetch(`${b}/v1/jobs/${slow}/events`).then((r) => r.text());

    // In the middle of the denoising loop, kill -9 the worker that runs it.
    for (;;) {
      const j = (await (await fetch(`${b}/v1/jobs/${slow}`)).json()) as JobBody & { progress?: { step: number } };
      if (j.progress?.phase === 'denoise' && j.progress.step >= 2) break;
      assert.ok(['queued', 'running'].includes(j.state), JSON.stringify(j));
      await new Promise((r) => setTimeout(r, 20));
    }
    const victim = workers.find((w) => w.output.includes(`job ${slow}: running`))!;
    const survivor = workers.find((w) => w !== victim)!;
    await victim.stop('SIGKILL');

    // Until it is done again, its result is a 409, never a partial image (the result is asked
    // first: a 200 means the job was done then, so the state read after must say so).
    let results409 = 0;
    for (;;) {
      const r = await fetch(`${a}/v1/jobs/${slow}/result`);
      const body = Buffer.from(await r.arrayBuffer());
      const j = (await (await fetch(`${a}/v1/jobs/${slow}`)).json()) as JobBody;
      if (r.status === 200) {
        assert.equal(j.state, 'done');
        break;
      }
      assert.equal(r.status, 409, body.toString());
      results409++;
      if (j.state === 'done') continue; // done between the two requests: the next result is the PNG
      assert.ok(['queued', 'running'].includes(j.state), JSON.stringify(j));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(results409 > 0);
    const all = await Promise.all([slow, ...fast].map((id) => waitFinal(a, id, {}, 120_000)));
    assert.deepEqual(all.map((j) => j.state), Array(10).fill('done'), JSON.stringify(all));
    const out = await decodeImage(new Uint8Array(await (await fetch(`${b}/v1/jobs/${slow}/result`)).arrayBuffer()));
    assert.deepEqual([out.rgb.width, out.rgb.height], [16, 16]);
    assert.match(await events, /"state":"done"/);

    assert.match(survivor.output, new RegExp(`job ${slow}: running \\(start 2, after a worker stopped\\)`));
    for (const id of [slow, ...fast]) {
      const done = workers.map((w) => w.output.split(`job ${id}: done`).length - 1);
      assert.equal(done[0] + done[1], 1, `job ${id} completed ${done} times`);
    }
    assert.doesNotMatch(victim.output, new RegExp(`job ${slow}: done`));
    const health = (await (await fetch(`${a}/v1/health`)).json()) as { queue: { queued: number; running: number; finished: number } };
    assert.deepEqual(health.queue, { queued: 0, running: 0, finished: 10, capacity: 20 });

    // A job running on the survivor, canceled through the other API process.
    const c = await submit(SLOW);
    await untilDenoising(a, c);
    assert.equal((await fetch(`${b}/v1/jobs/${c}`, { method: 'DELETE' })).status, 202);
    const canceled = await waitFinal(a, c, {}, 60_000);
    assert.equal(canceled.state, 'canceled', JSON.stringify(canceled));
    assert.equal(canceled.error, 'canceled while running');
    await survivor.waitFor(new RegExp(`job ${c}: canceled`));
    assert.equal((await fetch(`${a}/v1/jobs/${c}/result`)).status, 409);
    // SIGTERM with --grace 0: the running job is aborted and handed back to the queue, not lost.
    const d = await submit(SLOW);
    await untilDenoising(a, d);
    assert.equal(await survivor.stop('SIGTERM'), 0, 'a graceful stop');
    assert.match(survivor.output, new RegExp(`job ${d}: handed back to the queue`));
    assert.equal(((await (await fetch(`${b}/v1/jobs/${d}`)).json()) as JobBody).state, 'queued');
  } finally {
    await Promise.all(workers.map((c) => c.stop('SIGKILL')));
    await Promise.all(api.map((s) => s.close(0)));
    await redis.close();
    f.cleanup();
  }
});
