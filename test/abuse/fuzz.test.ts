/**
 * The abuse suite, bounded (issue 21): a fixed seed, FUZZ_COUNT mutated inputs per reader and
 * per loopback server upload; every refusal must be a typed error (or a 4xx), never a crash.
 * A longer run by hand: `node --import tsx scripts/fuzz.ts --count 5000 --seed 7`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { png, startServer, tinyModel, tinyModelFolders } from '../server/helpers.ts';
import { fuzzAll, fuzzServer } from './fuzz.ts';

const FUZZ_COUNT = 120;
const SEED = 21;

test('readers: mutated images, safetensors, zips, pickles, configs and uploads are refused with typed errors only', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pasd-fuzz-'));
  try {
    const results = await fuzzAll(FUZZ_COUNT, SEED, scratch);
    for (const r of results) {
      assert.equal(r.inputs, FUZZ_COUNT);
      assert.deepEqual(r.crashes, [], `${r.target}: crashes other than typed errors`);
    }
    // The mutations reach past the first check: some inputs are refused, some still parse.
    for (const r of results) assert.ok(r.refused > 0 && r.refused < r.inputs, `${r.target}: ${r.refused} of ${r.inputs} refused`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('server: mutated uploads over loopback get 4xx or 202, never a 5xx or a dropped answer', async () => {
  const folders = tinyModelFolders();
  const { url, stop } = await startServer({ models: [tinyModel(folders.model, folders.base)], maxUploadBytes: 64 * 1024, maxPixels: 64 * 64 });
  try {
    const r = await fuzzServer(url, FUZZ_COUNT / 2, SEED, await png(10, 7));
    assert.deepEqual(r.crashes, []);
    assert.equal(r.inputs, FUZZ_COUNT / 2);
  } finally {
    await stop();
    folders.cleanup();
  }
});
