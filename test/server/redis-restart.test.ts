/**
 * `pasd serve --queue` and `pasd worker` as commands against a password-protected redis-server
 * with its append-only file on: jobs queued before Redis is killed (SIGKILL, no shutdown save)
 * and restarted still run, the API process reconnects by itself, a job canceled while queued
 * never runs, and the password (given through PASD_REDIS_PASSWORD) never appears in any
 * output. Results go through a shared --results-dir. `pasd upscale --server` sends a folder through the service and resumes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { upscaleRemote } from '../../src/cli/remote.ts';
import { decodeImage } from '../../src/image/codec-node.ts';
import { FAST, type JobBody, form, png, tinyModelFolders, waitFinal } from './helpers.ts';
import { type Child, NO_REDIS, RedisServer, pasd } from './redis-helpers.ts';

const SECRET = 'pasd-test-secret-7f3a';

test('Redis killed and restarted (AOF on) with jobs queued: they still run; the password is never printed', { skip: NO_REDIS ?? false, timeout: 180_000 }, async () => {
  const redis = await RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always', '--requirepass', SECRET]);
  const f = tinyModelFolders();
  const results = mkdtempSync(join(tmpdir(), 'pasd-results-'));
  const model = ['--model', f.model, '--base', f.base, '--name', 'tiny'];
  const env = { PASD_REDIS_PASSWORD: SECRET };
  const children: Child[] = [];
  try {
    const api = pasd(['serve', '--queue', redis.url, '--results-dir', results, '--port', '0', ...model], env);
    children.push(api);
    const url = (await api.waitFor(/listening on (http:\S+)\//))[1];
    const submit = async () => {
      const r = await fetch(`${url}/v1/jobs`, { method: 'POST', body: form(await png(12, 8), FAST) });
      assert.equal(r.status, 202);
      return (await r.json()) as JobBody & { position?: number };
    };
    const queued = [await submit(), await submit(), await submit()];
    assert.deepEqual(queued.map((j) => [j.state, j.position]), [['queued', 0], ['queued', 1], ['queued', 2]]);

    await redis.kill();
    await redis.restart();
    // The API process reconnects by itself: it answers again and takes new jobs.
    for (;;) {
      const r = await fetch(`${url}/v1/health`);
      if (r.status === 200) break;
      assert.equal(r.status, 503, 'Redis away is a 503');
      await new Promise((r) => setTimeout(r, 200));
    }
    const ids = [...queued.map((j) => j.id), (await submit()).id];
    assert.deepEqual((await Promise.all(ids.map(async (id) => ((await (await fetch(`${url}/v1/jobs/${id}`)).json()) as JobBody).state))), Array(4).fill('queued'));

    // Canceled while queued: final at once, and the worker that later takes it does not run it.
    const dropped = (await submit()).id;
    const c = await fetch(`${url}/v1/jobs/${dropped}`, { method: 'DELETE' });
    assert.deepEqual([c.status, ((await c.json()) as JobBody).state], [202, 'canceled']);

    const worker = pasd(['worker', '--queue', redis.url, '--results-dir', results, '--threads', '1', ...model], env);
    children.push(worker);
    const done = await Promise.all(ids.map((id) => waitFinal(url, id, {}, 120_000)));
    assert.deepEqual(done.map((j) => j.state), Array(4).fill('done'), JSON.stringify(done));
    await worker.waitFor(new RegExp(`job ${dropped}: canceled`));
    assert.equal((await waitFinal(url, dropped)).error, 'canceled before it started');
    const out = await decodeImage(new Uint8Array(await (await fetch(`${url}/v1/jobs/${ids[3]}/result`)).arrayBuffer()));
    assert.deepEqual([out.rgb.width, out.rgb.height], [24, 16]);
    assert.equal(readdirSync(results).filter((n) => n.endsWith('.png')).length, 4, 'one result file per job');

    // Forgetting a finished job removes it and its result file.
    assert.equal((await fetch(`${url}/v1/jobs/${ids[0]}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${url}/v1/jobs/${ids[0]}`)).status, 404);
    assert.equal(readdirSync(results).filter((n) => n.endsWith('.png')).length, 3);

    // pasd upscale --server: a folder through the service; an existing output is skipped, a re-run skips all.
    const inDir = join(results, 'in'), outDir = join(results, 'out');
    mkdirSync(inDir);
    mkdirSync(outDir);
    for (const n of ['a', 'b', 'c']) writeFileSync(join(inDir, `${n}.png`), await png(10, 6));
    writeFileSync(join(outDir, 'b.png'), 'done before');
    const files = ['a', 'b', 'c'].map((n) => join(inDir, `${n}.png`));
    const lines: string[] = [];
    const batch = await upscaleRemote(url, undefined, files, outDir, { upscale: 2, processSize: 32, steps: 2 }, (l) => lines.push(l));
    assert.deepEqual(batch.map((r) => [basename(r.input), r.skipped ?? false, r.error]), [['b.png', true, undefined], ['a.png', false, undefined], ['c.png', false, undefined]]);
    for (const n of ['a', 'c']) assert.equal((await decodeImage(readFileSync(join(outDir, `${n}.png`)))).rgb.width, 20);
    assert.ok(lines.some((l) => /^a\.png: done → /.test(l)), lines.join('\n'));
    assert.ok((await upscaleRemote(url, undefined, files, outDir, {}, () => {})).every((r) => r.skipped));

    assert.deepEqual(await Promise.all([worker, api].map((c) => c.stop('SIGTERM'))), [0, 0]);
    for (const c of children) assert.doesNotMatch(c.output, new RegExp(SECRET), 'the password is never printed');
    assert.match(api.output, new RegExp(`jobs in redis://127\\.0\\.0\\.1:${redis.port}/0`));
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGKILL')));
    await redis.close();
    rmSync(results, { recursive: true, force: true });
    f.cleanup();
  }
});
