/**
 * Hostile uploads against the HTTP door (issue 21), over loopback with the tiny fixture
 * models: a thin image whose process size would blow up the working size (413 before any
 * work), steps the chosen scheduler cannot take (400 before queueing), stalled uploads that
 * must not delay anyone else, a stalled upload cut off (408), and the shared body budget (503).
 * No job is run: every answer here comes before the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { FAST, form, png, startServer, tinyModel, tinyModelFolders } from './helpers.ts';

const folders = tinyModelFolders();
const model = tinyModel(folders.model, folders.base);
test.after(() => folders.cleanup());

async function post(url: string, body: FormData) {
  const r = await fetch(`${url}/v1/jobs`, { method: 'POST', body });
  return { status: r.status, body: (await r.json()) as { error?: { message: string; field?: string } } };
}

/** A raw connection that sends POST headers declaring `declared` bytes, then `sent` bytes, then nothing; collects what comes back. */
function stalledUpload(url: string, declared: number, sent: number): { socket: Socket; answer: Promise<string> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(`POST /v1/jobs HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: image/png\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(Buffer.alloc(sent, 7));
  let got = '';
  socket.on('data', (d) => { got += d.toString('latin1'); });
  const answer = new Promise<string>((resolve) => {
    socket.on('data', () => { if (got.includes('\r\n\r\n')) resolve(got); });
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
  });
  return { socket, answer };
}

test('a thin image that the process size would run at 576000x576 is refused with 413 before any work; LCM with 60 steps is a 400', async () => {
  const { url, stop } = await startServer({ models: [model] });
  try {
    const thin = await post(url, form(await png(2000, 2), { processSize: 576, samples: 1 }));
    assert.equal(thin.status, 413);
    assert.equal(thin.body.error?.field, 'processSize');
    assert.match(thin.body.error!.message, /576000x576.*--max-work-pixels/);
    const lcm = await post(url, form(await png(8, 8), { ...FAST, scheduler: 'lcm', steps: 60 }));
    assert.equal(lcm.status, 400);
    assert.equal(lcm.body.error?.field, 'steps');
    assert.match(lcm.body.error!.message, /\[1, 50\]/);
  } finally {
    await stop();
  }
});

test('stalled uploads delay nobody: other requests are answered while they hang', { timeout: 20_000 }, async () => {
  const { url, stop } = await startServer({ models: [model] });
  const stalled = [1, 2, 3].map(() => stalledUpload(url, 1_000_000, 100));
  try {
    const r = await post(url, form(await png(8, 8), { steps: 'x' }));
    assert.equal(r.status, 400, 'answered (a bad option) while three uploads stall');
  } finally {
    for (const s of stalled) s.socket.destroy();
    await stop();
  }
});

test('a stalled upload gets a 408 and its connection is closed', { timeout: 20_000 }, async () => {
  const { url, stop } = await startServer({ models: [model], uploadTiming: { idleMs: 200, minBytesPerSecond: 1 } });
  try {
    const s = stalledUpload(url, 1_000_000, 100);
    assert.match(await s.answer, /^HTTP\/1\.1 408[^]*stalled/);
    if (!s.socket.closed) await once(s.socket, 'close');
  } finally {
    await stop();
  }
});

test('bodies held in memory are bounded: past 4 uploads of the cap, the next gets a 503 at once', { timeout: 20_000 }, async () => {
  const { url, stop } = await startServer({ models: [model], maxUploadBytes: 1000 });
  const sockets: Socket[] = [];
  try {
    const answers = [];
    for (let i = 0; i < 5; i++) {
      const s = stalledUpload(url, 1000, 999);
      sockets.push(s.socket);
      answers.push(s.answer);
    }
    assert.match(await Promise.race(answers), /^HTTP\/1\.1 503/);
  } finally {
    for (const s of sockets) s.destroy();
    await stop();
  }
});
