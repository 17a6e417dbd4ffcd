/**
 * `node summary.mjs <parity report.json>`: the parity runner's JSON report (`--json`) as one
 * line per group (passed / failed / not supported, worst output against its tolerance) plus
 * the failing rows: what the device run reports back (bench/device/run.sh).
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../src/core/errors.ts';
import { describeWorst, failures, summarize } from '../../src/parity/runner.ts';
import type { Report } from '../../src/parity/runner.ts';
import type { Row } from '../../src/parity/types.ts';

const file = process.argv[2];
if (!file) throw new InputError('usage: summary.mjs <parity report.json>');
// The runner writes Infinity (a NaN output) as the string "Infinity".
const report = JSON.parse(readFileSync(file, 'utf8'), (_k, v) => (v === 'Infinity' ? Infinity : v)) as Report;
const groups = new Map<string, Row[]>();
for (const r of report.rows) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
for (const [group, rows] of groups) {
  const s = summarize(rows);
  process.stdout.write(`${group}: ${s.passed} passed, ${s.failed} failed, ${s.notSupported} not supported; ${describeWorst(rows)}\n`);
}
for (const line of failures(report.rows)) process.stdout.write(`FAIL ${line}\n`);
const s = report.summary;
process.stdout.write(`parity: ${s.passed} passed, ${s.failed} failed, ${s.notSupported} not supported\n`);
