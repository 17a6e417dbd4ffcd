/**
 * Bounded load on loopback: 50 concurrent requests, 10 good jobs among 40 bad requests of six
 * kinds. Every good job must complete, every bad request must get its 4xx, /v1/health must
 * keep answering quickly all along (the work is on the worker thread), and the process's RSS
 * (server + worker) must stay within a fixed bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAST, type JobBody, form, png, startServer, tinyModel, tinyModelFolders, waitFinal } from './helpers.ts';

const GOOD = 10;
const TOTAL = 50;
/** Headroom over the RSS before the load (worker, two tiny models' sessions, uploads, results). */
const RSS_BOUND = 400 * 1024 * 1024;

test('50 concurrent mixed requests: good jobs all complete, bad ones all 4xx, health answers throughout, RSS bounded', async (t) => {
  const folders = tinyModelFolders();
  const { url, stop } = await startServer({ models: [tinyModel(folders.model, folders.base)], maxUploadBytes: 256 * 1024, maxPixels: 128 * 128, store: { maxQueued: GOOD } });
  try {
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const healthMs: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        const r = await fetch(`${url}/v1/health`);
        assert.equal(r.status, 200);
        await r.json();
        healthMs.push(performance.now() - t);
        peak = Math.max(peak, process.memoryUsage().rss);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const img = await png(24, 16);
    const big = await png(200, 100); // 20000 pixels > 128²
    const bad: (() => Promise<Response>)[] = [
      () => fetch(`${url}/v1/jobs`, { method: 'POST', body: form(Buffer.from('definitely not an image'), FAST) }),
      () => fetch(`${url}/v1/jobs`, { method: 'POST', body: form(img, { ...FAST, steps: -1 }) }),
      () => fetch(`${url}/v1/jobs`, { method: 'POST', body: form(big, FAST) }),
      () => fetch(`${url}/v1/jobs`, { method: 'POST', body: form(new Uint8Array(300 * 1024), FAST) }),
      () => fetch(`${url}/v1/jobs`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      () => fetch(`${url}/v1/jobs/00000000-0000-4000-8000-00000000dead`),
    ];
    const t0 = Date.now();
    const requests = Array.from({ length: TOTAL }, (_, i) => {
      // Good jobs spread among the bad ones, all in flight together.
      const good = i % (TOTAL / GOOD) === 0;
      // Six input sizes: more network shapes than the worker keeps compiled (it reloads once).
      const send = good ? async () => fetch(`${url}/v1/jobs`, { method: 'POST', body: form(await png(16 + 2 * ((i / 5) % 6), 16), { ...FAST, seed: i }) }) : bad[i % bad.length];
      return send().then(async (r) => ({ good, status: r.status, body: (await r.json()) as JobBody }));
    });
    const answers = await Promise.all(requests);
    const goods = answers.filter((a) => a.good);
    assert.equal(goods.length, GOOD);
    for (const a of goods) assert.equal(a.status, 202, JSON.stringify(a.body));
    for (const a of answers.filter((x) => !x.good)) assert.ok(a.status >= 400 && a.status < 500, `bad request answered ${a.status}`);
    const finals = await Promise.all(goods.map((a) => waitFinal(url, a.body.id, {}, 40_000)));
    assert.deepEqual(finals.map((f) => f.state), Array(GOOD).fill('done'), JSON.stringify(finals.filter((f) => f.state !== 'done')));
    for (const f of finals) assert.deepEqual(f.output, { width: 2 * f.input!.width, height: 32 });
    const seconds = (Date.now() - t0) / 1000;
    polling = false;
    await poller;

    const median = [...healthMs].sort((a, b) => a - b)[healthMs.length >> 1];
    t.diagnostic(`${seconds.toFixed(1)} s, ${healthMs.length} health answers (median ${median.toFixed(0)} ms, slowest ${Math.max(...healthMs).toFixed(0)} ms), RSS +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(seconds < 40, `the load took ${seconds} s`);
    assert.ok(healthMs.length >= 5, `health polled ${healthMs.length} times`);
    // Client and server share this process and the machine's two cores: the bound is loose on
    // single answers, tight on the typical one (a job blocking the HTTP thread would take seconds).
    const worst = Math.max(...healthMs);
    assert.ok(worst < 2000, `slowest /v1/health answer: ${worst.toFixed(0)} ms`);
    assert.ok(median < 200, `median /v1/health answer: ${median.toFixed(0)} ms`);
    assert.ok(peak - rss0 < RSS_BOUND, `RSS grew by ${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await stop();
    folders.cleanup();
  }
});
