/**
 * The abuse suite run long, by hand (issue 21): `node --import tsx scripts/fuzz.ts [--count N]
 * [--seed S]` throws N mutated inputs (default 2000) at each reader and N/2 uploads at a
 * loopback server with the tiny fixture models (run from the repository root; the fixtures are
 * ../shared/fixtures), prints inputs, refusals and crashes per target, and exits 1 on a crash.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { png, startServer, tinyModel, tinyModelFolders } from '../test/server/helpers.ts';
import { fuzzAll, fuzzServer } from '../test/abuse/fuzz.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' } } });
const count = Number(values.count ?? 2000), seed = Number(values.seed ?? 21);
const scratch = mkdtempSync(join(tmpdir(), 'pasd-fuzz-'));
const folders = tinyModelFolders();
const { url, stop } = await startServer({ models: [tinyModel(folders.model, folders.base)], maxUploadBytes: 64 * 1024, maxPixels: 64 * 64 });
const t0 = Date.now();
try {
  const results = [...(await fuzzAll(count, seed, scratch)), await fuzzServer(url, Math.ceil(count / 2), seed, await png(10, 7))];
  for (const r of results) console.log(`${r.target.padEnd(26)} inputs ${String(r.inputs).padStart(6)}  refused ${String(r.refused).padStart(6)}  crashes ${r.crashes.length}`);
  for (const c of results.flatMap((r) => r.crashes).slice(0, 20)) console.log(`crash: ${c.target} #${c.input} (seed ${seed}): ${c.error}`);
  console.log(`seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exitCode = results.some((r) => r.crashes.length) ? 1 : 0;
} finally {
  await stop();
  folders.cleanup();
  rmSync(scratch, { recursive: true, force: true });
}
