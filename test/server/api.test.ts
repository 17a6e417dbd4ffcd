/**
 * The HTTP API over real HTTP on loopback with the tiny fixture models: the result equals the
 * pipeline's own output, SSE progress, cancellation, the queue bound, the size caps, bad
 * options and images, unknown ids and routes, the token, cross-origin and Host checks, the
 * page served from memory, and a graceful shutdown that cancels the running job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import sharp from 'sharp';
import { decodeImage } from '../../src/image/codec-node.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { PasdServer } from '../../src/server/server.ts';
import { FAST, type JobBody, form, png, startServer, tinyModel, tinyModelFolders, waitFinal } from './helpers.ts';

const folders = tinyModelFolders();
const model = tinyModel(folders.model, folders.base);
const { server, url, stop } = await startServer({ models: [model], maxUploadBytes: 64 * 1024, maxPixels: 64 * 64, maxOutputPixels: 128 * 128, store: { maxQueued: 1 } });
/** Options that keep the worker busy long enough to cancel or queue behind it (seconds, not minutes: it is canceled). */
const SLOW = { processSize: 64, steps: 100, scale: 1 };

test.after(async () => {
  await stop();
  folders.cleanup();
});

async function post(body: FormData | Buffer, o: { query?: string; headers?: Record<string, string> } = {}) {
  const r = await fetch(`${url}/v1/jobs${o.query ?? ''}`, { method: 'POST', body: body instanceof FormData ? body : new Uint8Array(body), headers: o.headers });
  return { status: r.status, headers: r.headers, body: (await r.json()) as JobBody & { error?: { message: string; field?: string } } };
}

async function pixels(bytes: Uint8Array) {
  const { rgb } = await decodeImage(bytes);
  return rgb;
}

/** Resolves once the job reports a denoising step (the worker is inside the loop). */
async function untilDenoising(id: string): Promise<void> {
  for (;;) {
    const j = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as JobBody;
    if (j.progress?.phase === 'denoise') return;
    assert.ok(['queued', 'running'].includes(j.state), `job ended early: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('happy path: the PNG equals PasdPipeline.upscale with the same options; raw upload with ?options= gives the same', async () => {
  const input = await png(16, 12);
  const a = await post(form(input, { ...FAST, seed: 7, prompt: 'a wall' }));
  assert.equal(a.status, 202, JSON.stringify(a.body));
  assert.equal(a.headers.get('location'), `/v1/jobs/${a.body.id}`);
  const done = await waitFinal(url, a.body.id);
  assert.equal(done.state, 'done', JSON.stringify(done));
  assert.deepEqual(done.output, { width: 32, height: 24 });
  const r = await fetch(`${url}/v1/jobs/${a.body.id}/result`);
  assert.equal(r.headers.get('content-type'), 'image/png');
  const served = await pixels(new Uint8Array(await r.arrayBuffer()));

  const pipe = PasdPipeline.fromFolders(model.paths, { threads: 1 });
  try {
    const expected = await pipe.upscale((await decodeImage(input)).rgb, { upscale: 2, processSize: 32, steps: 2, seed: 7, prompt: 'a wall' });
    assert.equal(served.width, expected.width);
    let worst = 0;
    for (let i = 0; i < expected.data.length; i++) worst = Math.max(worst, Math.abs(served.data[i] - expected.data[i]));
    assert.ok(worst <= 1, `served result differs from the pipeline's by ${worst} levels`);
  } finally {
    await pipe.release();
  }

  const b = await post(input, { query: `?options=${encodeURIComponent(JSON.stringify({ ...FAST, seed: 7, prompt: 'a wall' }))}`, headers: { 'content-type': 'image/png' } });
  assert.equal(b.status, 202);
  assert.equal((await waitFinal(url, b.body.id)).state, 'done');
  const raw = await pixels(new Uint8Array(await (await fetch(`${url}/v1/jobs/${b.body.id}/result`)).arrayBuffer()));
  assert.deepEqual(raw.data, served.data, 'same seed and options, same image');
});

test('SSE: progress through every denoising step in order, then the final state, then the stream ends', async () => {
  const { body } = await post(form(await png(16, 16), { ...FAST, steps: 3 }));
  const r = await fetch(`${url}/v1/jobs/${body.id}/events`);
  assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const text = await r.text(); // ends when the server closes the stream
  const events = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => JSON.parse(b.slice(6)) as JobBody);
  assert.equal(events.at(-1)!.state, 'done');
  const steps = events.filter((e) => e.progress?.phase === 'denoise').map((e) => (e.progress as unknown as { step: number }).step);
  assert.deepEqual([...new Set(steps)], [1, 2, 3]);
  const fractions = events.map((e) => e.progress?.fraction ?? 0);
  assert.deepEqual(fractions, [...fractions].sort((x, y) => x - y), 'progress never goes back');
  // A finished job's stream is its final state at once.
  const again = await (await fetch(`${url}/v1/jobs/${body.id}/events`)).text();
  assert.match(again, /"state":"done"/);
});

test('a client that disconnects loses nothing: the job finishes and its result can be fetched', async () => {
  const { body } = await post(form(await png(16, 16), FAST));
  const ac = new AbortController();
  const r = await fetch(`${url}/v1/jobs/${body.id}/events`, { signal: ac.signal });
  const reader = r.body!.getReader();
  await reader.read();
  ac.abort();
  const done = await waitFinal(url, body.id);
  assert.equal(done.state, 'done');
  assert.equal((await fetch(`${url}/v1/jobs/${body.id}/result`)).status, 200);
});

test('cancel: a running job stops within a step and the worker goes on; queue full gives 429; a queued job cancels at once', async () => {
  const a = await post(form(await png(32, 32), SLOW));
  assert.equal(a.status, 202);
  await untilDenoising(a.body.id);
  const b = await post(form(await png(16, 16), FAST));
  assert.equal(b.status, 202);
  assert.equal(b.body.state, 'queued');
  const c = await post(form(await png(16, 16), FAST));
  assert.equal(c.status, 429, JSON.stringify(c.body));
  assert.equal(c.headers.get('retry-after'), '10');
  assert.match(c.body.error!.message, /queue is full/);
  // Before it finishes, the result is a 409 naming the state.
  const early = await fetch(`${url}/v1/jobs/${a.body.id}/result`);
  assert.equal(early.status, 409);

  const cb = await fetch(`${url}/v1/jobs/${b.body.id}`, { method: 'DELETE' });
  assert.equal(((await cb.json()) as JobBody).state, 'canceled', 'a queued job is canceled at once');
  const t0 = Date.now();
  const ca = await fetch(`${url}/v1/jobs/${a.body.id}`, { method: 'DELETE' });
  assert.equal(ca.status, 202);
  const final = await waitFinal(url, a.body.id);
  assert.equal(final.state, 'canceled', JSON.stringify(final));
  assert.ok(Date.now() - t0 < 5000, `cancel took ${Date.now() - t0} ms`);
  const steps = (final.progress as unknown as { step: number }).step;
  assert.ok(steps < 100, `stopped at step ${steps} of 100`);

  const next = await post(form(await png(16, 16), FAST));
  assert.equal((await waitFinal(url, next.body.id)).state, 'done', 'the worker runs the next job after a cancel');
  // DELETE of a finished job forgets it.
  await fetch(`${url}/v1/jobs/${next.body.id}`, { method: 'DELETE' });
  assert.equal((await fetch(`${url}/v1/jobs/${next.body.id}`)).status, 404);
});

test('bad requests: 400 naming the field, 413 for the byte and pixel caps, 415, 404, 405', async () => {
  const ok = await png(16, 16);
  // A valid header (so the size is known) and a truncated pixel stream.
  const noise = await sharp(Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
  const corrupt = noise.subarray(0, Math.floor(noise.length * 0.8));
  const cases: [string, Promise<{ status: number; body: { error?: { message: string; field?: string } } }>, number, string | undefined, RegExp][] = [
    ['steps 0', post(form(ok, { steps: 0 })), 400, 'steps', /steps: expected an integer in \[1, 100\], got 0/],
    ['steps over the server cap', post(form(ok, { steps: 1000 })), 400, 'steps', /\[1, 100\]/],
    ['unknown option', post(form(ok, { stepz: 2 })), 400, 'stepz', /unknown option/],
    ['samples over the cap', post(form(ok, { samples: 17 })), 400, 'samples', /samples: expected an integer in \[1, 16\]/],
    ['cfg a string', post(form(ok, { cfg: '9' })), 400, 'cfg', /expected a number/],
    ['unknown model', post(form(ok, { model: 'nope' })), 400, 'model', /expected one of tiny/],
    ['colorize with scale', post(form(ok, { colorize: true, scale: 2 })), 400, 'scale', /colorization keeps the input size/],
    ['options not JSON', post(ok, { query: '?options=%7Bsteps', headers: { 'content-type': 'image/png' } }), 400, 'options', /not valid JSON/],
    ['options an array', post(form(ok, [1])), 400, 'options', /JSON object/],
    ['no image field', post(form(null, FAST)), 400, 'image', /field named "image"/],
    ['not an image', post(form(Buffer.from('hello, not an image'), FAST)), 400, 'image', /not a readable image/],
    ['corrupt PNG', post(form(corrupt, FAST)), 400, 'image', /corrupt or truncated png/],
    ['empty image', post(Buffer.alloc(0), { headers: { 'content-type': 'image/png' } }), 400, 'image', /empty/],
    ['upload over the byte cap', post(form(Buffer.alloc(100 * 1024, 1), FAST)), 413, 'image', /larger than the server's cap of 65536 bytes/],
    ['image over the pixel cap', post(form(await png(65, 64), FAST)), 413, 'image', /65x64 is more than the server's cap of 4096 pixels/],
    ['output over the cap', post(form(await png(64, 64), { scale: 3 })), 413, 'scale', /64x64 × 3 would be 192x192, more than the server's cap of 16384 output pixels/],
    ['wrong content type', post(Buffer.from('{}'), { headers: { 'content-type': 'application/json' } }), 415, 'image', /multipart\/form-data/],
  ];
  for (const [name, p, status, field, msg] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error?.field, field, name);
    assert.match(r.body.error!.message, msg, name);
  }
  for (const path of ['/v1/jobs/00000000-0000-4000-8000-000000000000', '/v1/jobs/x/result', '/v1/jobs/00000000-0000-4000-8000-000000000000/events', '/v1/jobs/a/b/c/d', '/v1/nope', '/nope.html']) {
    assert.equal((await fetch(`${url}${path}`)).status, 404, path);
  }
  const m = await fetch(`${url}/v1/health`, { method: 'POST' });
  assert.equal(m.status, 405);
  assert.equal(m.headers.get('allow'), 'GET');
  assert.equal((await server.queue.counts()).queued, 0, 'nothing bad was queued');
});

test('page and static files come from memory: no listing, no traversal, CSP set', async () => {
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
  assert.match(await page.text(), /<script type="module" src="app.js">/);
  assert.equal((await fetch(`${url}/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  // Raw paths (fetch would normalise them): encoded dots and slashes, folders, the sources.
  for (const path of ['/..%2fpackage.json', '/%2e%2e/package.json', '/web/', '/web/index.html', '/src/server/server.ts', '//etc/passwd']) {
    const status = await new Promise<number>((resolve, reject) => {
      request(`${url}${path}`, { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject).end();
    });
    assert.equal(status, 404, path);
  }
});

test('Host and Origin: DNS-rebinding names and cross-origin requests are refused', async () => {
  const call = (headers: Record<string, string>, method = 'GET', path = '/v1/health') => new Promise<number>((resolve, reject) => {
    request(`${url}${path}`, { method, headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject).end();
  });
  assert.equal(await call({ host: 'evil.example:80' }), 403);
  assert.equal(await call({ origin: 'http://evil.example' }, 'POST', '/v1/jobs'), 403);
  assert.equal(await call({ host: `localhost:${new URL(url).port}` }), 200);
  assert.equal(await call({ origin: url }), 200);
});

test('token: every route needs it (header, ?token= or the session cookie the page gets); health and models answer with it', async () => {
  const t = new PasdServer({ models: [model], port: 0, token: 'correct horse battery' });
  const base = await t.listen();
  try {
    const routes = ['/', '/app.js', '/v1/health', '/v1/models', '/v1/jobs/00000000-0000-4000-8000-000000000000', '/nope'];
    for (const path of routes) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status, 401, path);
    }
    assert.equal((await fetch(`${base}/v1/jobs`, { method: 'POST', body: form(await png(8, 8), FAST) })).status, 401);
    const h = await fetch(`${base}/v1/health`, { headers: { authorization: 'Bearer correct horse battery' } });
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { status: string }).status, 'ok');
    const models = (await (await fetch(`${base}/v1/models?token=correct%20horse%20battery`)).json()) as { models: { name: string; default: boolean }[] };
    assert.deepEqual(models.models.map((x) => [x.name, x.default]), [['tiny', true]]);
    // The page opened with ?token= trades it for an HttpOnly cookie and drops it from the URL.
    const page = await fetch(`${base}/?token=correct%20horse%20battery`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/');
    const cookie = page.headers.get('set-cookie')!;
    assert.match(cookie, /^pasd_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/);
    assert.doesNotMatch(cookie, /horse/);
    const session = cookie.split(';')[0];
    assert.equal((await fetch(`${base}/app.js`, { headers: { cookie: session } })).status, 200);
    assert.equal((await fetch(`${base}/v1/health`, { headers: { cookie: `pasd_session=${'0'.repeat(64)}` } })).status, 401);
  } finally {
    await t.close();
  }
});

test('graceful shutdown: the running job is canceled after the grace time, the port closes', async () => {
  const { body } = await post(form(await png(32, 32), SLOW));
  await untilDenoising(body.id);
  const t0 = Date.now();
  await server.close(100);
  assert.equal((await server.queue.view(body.id))?.state, 'canceled');
  assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms`);
  await assert.rejects(fetch(`${url}/v1/health`));
});
