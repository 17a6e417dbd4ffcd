/**
 * The parity runner on ../shared/fixtures: every output of the groups it handles passes within
 * the manifest's tolerance; and its bookkeeping on small synthetic fixture sets: an unknown
 * group is "not supported" (exit 0), a corrupted expected value fails (exit 1), outputs a
 * handler does not produce are "not supported", a handler error fails its case.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { UnsupportedError } from '../../src/core/errors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { HANDLERS } from '../../src/parity/groups/index.ts';
import { parityMain } from '../../src/parity/main.ts';
import { describeWorst, failures, formatTable, notPassing, runCase, runParity } from '../../src/parity/runner.ts';
import type { ManifestCase } from '../../src/parity/types.ts';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
const fixtures = FixtureSet.open(FIXTURES);

const temp: string[] = [];
after(() => temp.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fixture directory holding `cases` (case files copied or written by `files`). */
function fixtureDir(cases: readonly ManifestCase[], files: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-parity-'));
  temp.push(dir);
  mkdirSync(join(dir, 'cases'));
  files(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ conventions: fixtures.manifest.conventions, models: {}, cases }));
  return dir;
}

function quiet(): { out: (s: string) => void; text: () => string } {
  let s = '';
  return { out: (x) => void (s += x), text: () => s };
}

// The pipeline cases (compiled pipelines, ~10 s) run in test/pipelines/{pasd,colorization}-parity.test.ts,
// which also check that PASD's tiled VAE is "not supported" on purpose; the train cases (a
// compiled training step each) in test/train/parity.test.ts.
for (const group of Object.keys(HANDLERS).filter((g) => g !== 'pipeline' && g !== 'train')) {
  test(`every ${group} output of ../shared/fixtures passes`, async (t) => {
    const report = await runParity(fixtures, { group, threads: 2 });
    assert.ok(report.rows.length > 0, `no ${group} cases`);
    assert.deepEqual(failures(report.rows), []);
    assert.deepEqual(notPassing(report.rows), [], 'every output of a handled group is computed');
    t.diagnostic(describeWorst(report.rows));
  });
}

test('an unknown group is listed "not supported" and does not fail the run', async () => {
  const c: ManifestCase = { name: 'mystery', group: 'no_such_group', file: 'cases/none.safetensors', tensors: [{ name: 'output.x', dtype: 'F32', shape: [1] }] };
  const dir = fixtureDir([c], () => {});
  const log = quiet();
  assert.equal(await parityMain([dir], log.out), 0);
  assert.match(log.text(), /mystery\s+output\.x\s+-\s+-\s+not supported \(group "no_such_group" has no handler\)/);
  assert.match(log.text(), /parity: 0 passed, 0 failed, 1 not supported\n$/);
});

test('a corrupted expected value fails its output only, and the exit code is non-zero', async () => {
  const meta = fixtures.cases.find((c) => c.group === 'schedulers' && c.tensors.some((t) => t.name === 'output.velocity'))!;
  const dir = fixtureDir([meta], (d) => {
    const dst = join(d, meta.file);
    copyFileSync(join(FIXTURES, meta.file), dst);
    const e = openSafetensors(dst).tensors.get('output.velocity')!;
    const bytes = readFileSync(dst);
    bytes.writeFloatLE(bytes.readFloatLE(e.offset + 4 * 7) + 1e-3, e.offset + 4 * 7);
    writeFileSync(dst, bytes);
  });
  const log = quiet();
  assert.equal(await parityMain([dir, '--json'], log.out), 1);
  const report = JSON.parse(log.text()) as { rows: { output: string; status: string; maxAbsDiff: number }[]; summary: { failed: number; passed: number } };
  const bad = report.rows.find((r) => r.output === 'output.velocity')!;
  assert.equal(bad.status, 'fail');
  assert.ok(bad.maxAbsDiff > 9e-4 && bad.maxAbsDiff < 1.1e-3, `diff ${bad.maxAbsDiff}`);
  assert.equal(report.summary.failed, 1);
  assert.equal(report.summary.passed, meta.tensors.filter((t) => t.name.startsWith('output.')).length - 1);
});

test('rows: pass, fail (values, shape, length), not computed, and handler errors', async () => {
  const meta = fixtures.cases.find((c) => c.group === 'schedulers' && c.tensors.some((t) => t.name === 'output.velocity'))!;
  const ctx = fixtures.context(meta);
  const good = ctx.f32('output.noisy_samples');
  const handler = async () => new Map<string, unknown>([
    ['output.noisy_samples', { data: good, shape: ctx.shape('output.noisy_samples') }],
    ['output.velocity', { data: ctx.f32('output.velocity'), shape: [1, 2, 3] }],
    ['output.alphas_cumprod', new Float32Array(3)],
  ]);
  const rows = await runCase(fixtures, meta, { handlers: { schedulers: handler as never } });
  assert.deepEqual(rows.map((r) => [r.output, r.status]), [
    ['output.noisy_samples', 'pass'], ['output.velocity', 'fail'], ['output.alphas_cumprod', 'fail'],
  ]);
  assert.match(rows[1].note!, /shape \[1, 2, 3\], expected \[6, 4, 8, 8\]/);
  assert.match(rows[2].note!, /3 values, expected 1000/);
  const table = formatTable(rows);
  assert.match(table.split('\n')[0], /^case\s+output\s+max abs diff\s+tolerance\s+result$/);

  const missing = await runCase(fixtures, meta, { handlers: { schedulers: async () => new Map([['output.velocity', ctx.f32('output.velocity')]]) } });
  assert.deepEqual(missing.map((r) => r.status), ['not supported', 'pass', 'not supported']);

  const thrown = await runCase(fixtures, meta, { handlers: { schedulers: async () => { throw new RangeError('boom'); } } });
  assert.ok(thrown.every((r) => r.status === 'fail' && r.note === 'RangeError: boom'));
  const unsupported = await runCase(fixtures, meta, { handlers: { schedulers: async () => { throw new UnsupportedError('later'); } } });
  assert.ok(unsupported.every((r) => r.status === 'not supported' && r.note === 'later'));
});

test('the CLI rejects bad arguments with exit code 2 and a missing manifest with ConfigError', async () => {
  const saved = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await parityMain([]), 2);
    assert.equal(await parityMain([FIXTURES, '--bogus']), 2);
    assert.equal(await parityMain([FIXTURES, '--threads', '0']), 2);
  } finally {
    process.stderr.write = saved;
  }
  await assert.rejects(parityMain([tmpdir()], () => {}), /no manifest\.json/);
});

test('where the manifest says rounding ties can flip, up to 0.1% of values may exceed the tolerance (each < 0.1)', async () => {
  const meta = fixtures.cases.find((c) => c.tensors.some((t) => /ties can flip/.test(String(t.meaning))))!;
  const out = meta.tensors.find((t) => /ties can flip/.test(String(t.meaning)))!;
  const ctx = fixtures.context(meta);
  const perturbed = (k: number, by: number) => {
    const v = ctx.f32(out.name);
    for (let i = 0; i < k; i++) v[i * 97] += by;
    return v;
  };
  const run = async (k: number, by: number) => (await runCase(fixtures, meta, { handlers: { [meta.group]: async () => new Map([[out.name, perturbed(k, by)]]) } })).find((r) => r.output === out.name)!;
  const n = ctx.f32(out.name).length;
  const few = await run(Math.floor(n * 1e-3), 0.05);
  assert.equal(few.status, 'pass');
  assert.match(few.note!, /values beyond tolerance \(rounding ties\)/);
  assert.equal((await run(Math.floor(n * 1e-3) + 1, 0.05)).status, 'fail');
  assert.equal((await run(1, 0.2)).status, 'fail');
});

test('a bound given by the handler (one per first-axis index) replaces the manifest tolerance', async () => {
  const meta = fixtures.cases.find((c) => c.group === 'schedulers' && c.tensors.some((t) => t.name === 'output.velocity'))!;
  const ctx = fixtures.context(meta);
  const want = ctx.f32('output.noisy_samples'); // [6, 4, 8, 8]
  const slice = want.length / 6;
  const off = want.map((v, i) => (Math.floor(i / slice) === 2 ? v + 1e-3 : v));
  const run = async (value: number | number[]) =>
    (await runCase(fixtures, meta, { handlers: { schedulers: async () => new Map([['output.noisy_samples', { data: off, tolerance: { value, kind: 'per_slice' } }]]) } }))[0];
  const loose = await run([1e-6, 1e-6, 2e-3, 1e-6, 1e-6, 1e-6]);
  assert.equal(loose.status, 'pass');
  assert.equal(loose.toleranceKind, 'per_slice[2]');
  assert.equal(loose.tolerance, 2e-3);
  assert.ok(Math.abs(loose.maxAbsDiff! - 1e-3) < 1e-6);
  assert.match(formatTable([loose]), /2\.00e-3 per_slice\[2\]/);
  const tight = await run([1, 1, 1e-4, 1, 1, 1]);
  assert.equal(tight.status, 'fail');
  assert.match(tight.note!, /index 2 of 6/);
  assert.equal((await run(2e-3)).status, 'pass');
  assert.equal((await run(1e-4)).status, 'fail');
  assert.match((await run([1, 1, 1, 1, 1])).note!, /5 bounds \(per_slice\) do not split 1536 values/);
});

test('a handler bound with `where` holds the selected values to it and the others to the manifest tolerance', async () => {
  const meta = fixtures.cases.find((c) => c.group === 'schedulers' && c.tensors.some((t) => t.name === 'output.velocity'))!;
  const want = fixtures.context(meta).f32('output.noisy_samples'); // tolerance_max_abs 1e-6
  const moved = (i: number) => i % 7 === 0;
  const off = want.map((v, i) => (moved(i) ? v + 1e-3 : i % 7 === 1 ? v + 2e-7 : v));
  const run = async (value: number, where: Uint8Array) =>
    (await runCase(fixtures, meta, { handlers: { schedulers: async () => new Map([['output.noisy_samples', { data: off, tolerance: { value, kind: 'where_sel', where } }]]) } }))[0];
  const sel = Uint8Array.from(want, (_, i) => (moved(i) ? 1 : 0));
  const n = sel.reduce((a, b) => a + b, 0);
  const ok = await run(2e-3, sel);
  assert.equal(ok.status, 'pass');
  assert.equal(ok.toleranceKind, 'where_sel');
  assert.ok(Math.abs(ok.maxAbsDiff! - 1e-3) < 1e-6);
  assert.equal(ok.count, want.length);
  assert.equal(ok.note, `${n} values within where_sel, ${want.length - n} values within tolerance_max_abs`);
  assert.equal((await run(1e-4, sel)).status, 'fail', 'selected values beyond the handler bound');
  // Unselected values keep the manifest's 1e-6: moving the selection off the shifted ones fails.
  const wrong = await run(2e-3, Uint8Array.from(want, (_, i) => (i % 7 === 1 ? 1 : 0)));
  assert.equal(wrong.status, 'fail');
  assert.match(wrong.note!, /; beyond tolerance_max_abs 0\.000001$/);
  assert.equal((await run(2e-3, new Uint8Array(want.length).fill(1))).status, 'pass');
  assert.match((await run(2e-3, sel.subarray(1))).note!, /a selection of 1535 values \(where_sel\) for 1536/);
});

test('a `<…>` manifest entry stands for every matching case tensor: one row, the worst of them', async () => {
  const base = fixtures.cases.find((c) => c.group === 'schedulers' && c.tensors.some((t) => t.name === 'output.velocity'))!;
  const meta: ManifestCase = {
    ...base,
    tensors: [...base.tensors.filter((t) => t.name.startsWith('input.')), { name: 'output.<result>', dtype: 'F32', shape: [], tolerance_max_abs: 1e-6 }],
  };
  const ctx = fixtures.context(meta);
  const names = ctx.expand(meta.tensors.at(-1)!);
  assert.deepEqual(names.sort(), ['output.alphas_cumprod', 'output.noisy_samples', 'output.velocity']);
  const produce = (ns: string[]) => async () => new Map(ns.map((n) => [n, ctx.f32(n)]));
  const [all] = await runCase(fixtures, meta, { handlers: { schedulers: produce(names) } });
  assert.equal(all.status, 'pass');
  assert.match(all.note!, /^3 tensors, worst output\./);
  const [partial] = await runCase(fixtures, meta, { handlers: { schedulers: produce(names.slice(1)) } });
  assert.equal(partial.status, 'fail');
  assert.match(partial.note!, /1 not computed/);
  const [none] = await runCase(fixtures, meta, { handlers: { schedulers: produce([]) } });
  assert.equal(none.status, 'not supported');
});
