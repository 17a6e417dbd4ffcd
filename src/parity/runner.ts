/**
 * The parity runner: dispatches every case of a fixture set to the handler of its group,
 * compares each output the handler produced with the case file within the output's tolerance
 * (fixtures README, "Tolerances"), and reports one row per expected output. Outputs nobody
 * computes are "not supported" — never passed silently.
 */
import { UnsupportedError } from '../core/errors.ts';
import type { Precision } from '../engine/compile.ts';
import type { Provider } from '../runtime/session.ts';
import { type FixtureSet, isInputTensor, templatePattern, toleranceOf } from './fixture-set.ts';
import { HANDLERS } from './groups/index.ts';
import type { CaseContext, CaseOutputs, GroupHandler, ManifestCase, ManifestTensor, OutputValue, Produced, Row, Summary } from './types.ts';

export interface RunOptions {
  /** Only cases of this group. */
  readonly group?: string;
  /** Only cases whose name contains this. */
  readonly caseFilter?: string;
  /** onnxruntime intra-op threads for model cases. */
  readonly threads?: number;
  /** Where model cases run (default cpu) and in which precision (default fp32). */
  readonly provider?: Provider;
  readonly precision?: Precision;
  /** Only the outputs this accepts (handlers skip the work for the others). */
  readonly only?: (output: string) => boolean;
  /** Group → handler (default: every group this runner implements). */
  readonly handlers?: Readonly<Record<string, GroupHandler>>;
  /** Called with each case's rows as soon as the case is done. */
  readonly onCase?: (meta: ManifestCase, rows: readonly Row[]) => void;
}

export interface Report {
  readonly rows: readonly Row[];
  readonly summary: Summary;
}

export function selectCases(set: FixtureSet, opts: Pick<RunOptions, 'group' | 'caseFilter'> = {}): ManifestCase[] {
  return set.cases.filter((c) => (opts.group === undefined || c.group === opts.group) && (opts.caseFilter === undefined || c.name.includes(opts.caseFilter)));
}

/**
 * Largest |a − b|, how many values differ and how many differ by more than `tol`; a NaN on
 * one side only counts as Infinity.
 */
export function diffStats(a: ArrayLike<number>, b: ArrayLike<number>, tol = Infinity): { max: number; mismatched: number; beyond: number } {
  let max = 0;
  let mismatched = 0;
  let beyond = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    mismatched++;
    const d = Math.abs(x - y);
    if (!(d <= tol)) beyond++;
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return { max, mismatched, beyond };
}

function numbers(data: ArrayLike<number> | BigInt64Array): ArrayLike<number> {
  return data instanceof BigInt64Array ? Array.from(data, Number) : data;
}

function asProduced(v: Produced | ArrayLike<number> | BigInt64Array): Produced {
  return 'data' in v && typeof v.data === 'object' ? (v as Produced) : { data: v as ArrayLike<number> };
}

function expectedValues(ctx: CaseContext, t: ManifestTensor): ArrayLike<number> {
  const raw = ctx.file.read(t.name);
  return raw instanceof BigInt64Array ? Array.from(raw, Number) : ctx.f32(t.name);
}

/** One output compared against the case file. */
export function compareOutput(ctx: CaseContext, t: ManifestTensor, value: Produced | ArrayLike<number> | BigInt64Array): Row {
  const base = { case: ctx.meta.name, group: ctx.meta.group, output: t.name };
  const tol = toleranceOf(t);
  const bound = { tolerance: tol.value, toleranceKind: tol.kind };
  if (!ctx.has(t.name)) return { ...base, status: 'fail', note: `${t.name} is listed in the manifest but missing from ${ctx.meta.file}` };
  const want = ctx.shape(t.name);
  const got = asProduced(value);
  if (got.shape !== undefined && got.shape.join() !== want.join())
    return { ...base, ...bound, status: 'fail', note: `shape [${got.shape.join(', ')}], expected [${want.join(', ')}]` };
  let ours = numbers(got.data);
  const expected = expectedValues(ctx, t);
  if (ours.length !== expected.length)
    return { ...base, ...bound, status: 'fail', note: `${ours.length} values, expected ${expected.length} ([${want.join(', ')}])` };
  if (got.tolerance?.where !== undefined) return splitRow(base, ours, expected, got.tolerance, { value: tol.value, kind: tol.kind });
  if (got.tolerance !== undefined) return boundedRow(base, ours, expected, got.tolerance);
  // A float output without a tolerance is a float32 scalar of the original: compare in float32.
  if (tol.kind === 'exact (float32)') ours = Float32Array.from(ours);
  const d = diffStats(ours, expected, tol.value);
  const stats = { maxAbsDiff: d.max, mismatched: d.mismatched, count: expected.length };
  if (d.max <= tol.value) return { ...base, ...bound, ...stats, status: 'pass' };
  if (tol.tieFraction !== undefined && d.beyond <= tol.tieFraction * expected.length && d.max < (tol.tieBound ?? 0))
    return { ...base, ...bound, ...stats, status: 'pass', note: `${d.beyond} of ${expected.length} values beyond tolerance (rounding ties), all < ${tol.tieBound}` };
  return { ...base, ...bound, ...stats, status: 'fail', note: d.beyond < d.mismatched ? `${d.beyond} of ${expected.length} values beyond tolerance` : undefined };
}

type RowBase = Pick<Row, 'case' | 'group' | 'output'>;
type Bound = Omit<NonNullable<Produced['tolerance']>, 'where'>;

/**
 * An output whose handler bound covers the values selected by `where`, the output's own bound
 * the rest: both checked, one row (the pair closer to its bound reported).
 */
function splitRow(base: RowBase, ours: ArrayLike<number>, expected: ArrayLike<number>, tol: NonNullable<Produced['tolerance']>, own: Bound): Row {
  const where = tol.where!;
  if (where.length !== expected.length) return { ...base, status: 'fail', note: `a selection of ${where.length} values (${tol.kind}) for ${expected.length}` };
  const parts = [boundedRow(base, ours, expected, tol, where), boundedRow(base, ours, expected, own, Uint8Array.from(where, (w) => (w ? 0 : 1)))];
  const worst = worstRow(parts)!;
  const failed = parts.filter((r) => r.status === 'fail');
  const note = [parts.map((r) => `${r.count} values within ${r.toleranceKind}`).join(', '), ...failed.map((r) => `beyond ${r.toleranceKind} ${r.tolerance}`)].join('; ');
  return { ...worst, status: failed.length ? 'fail' : 'pass', mismatched: parts[0].mismatched! + parts[1].mismatched!, count: expected.length, note };
}

/**
 * An output held to the handler's bound: one value, or one per index of the first axis (each
 * slice within its own); the slice closest to its bound is reported. With `select`, only the
 * values whose entry is nonzero count (`count` says how many).
 */
function boundedRow(base: RowBase, ours: ArrayLike<number>, expected: ArrayLike<number>, tol: Bound, select?: Uint8Array): Row {
  const bounds = typeof tol.value === 'number' ? [tol.value] : tol.value;
  const size = expected.length / bounds.length;
  if (!Number.isInteger(size)) return { ...base, status: 'fail', note: `${bounds.length} bounds (${tol.kind}) do not split ${expected.length} values evenly` };
  const a = Float64Array.from(ours), b = Float64Array.from(expected);
  // Unselected values take the expected value, so they neither differ nor move the slices.
  let count = b.length;
  if (select !== undefined) for (let i = 0; i < b.length; i++) if (!select[i]) (a[i] = b[i]), count--;
  let worst = { ratio: -1, max: 0, bound: bounds[0], at: 0 };
  let mismatched = 0;
  const over: number[] = [];
  bounds.forEach((bound, i) => {
    const d = diffStats(a.subarray(i * size, (i + 1) * size), b.subarray(i * size, (i + 1) * size), bound);
    mismatched += d.mismatched;
    if (!(d.max <= bound)) over.push(i);
    const ratio = bound ? d.max / bound : d.max > 0 ? Infinity : 0;
    if (ratio > worst.ratio) worst = { ratio, max: d.max, bound, at: i };
  });
  const where = bounds.length > 1 ? `[${worst.at}]` : '';
  const note = over.length ? `beyond the bound at first-axis index ${over.join(', ')} of ${bounds.length}` : bounds.length > 1 ? `worst at first-axis index ${worst.at} of ${bounds.length}` : undefined;
  return { ...base, status: over.length ? 'fail' : 'pass', maxAbsDiff: worst.max, tolerance: worst.bound, toleranceKind: `${tol.kind}${where}`, mismatched, count, note };
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs one case through its group's handler and returns a row per expected output. */
export async function runCase(set: FixtureSet, meta: ManifestCase, opts: Pick<RunOptions, 'threads' | 'provider' | 'precision' | 'handlers' | 'only'> = {}): Promise<Row[]> {
  const outputs = meta.tensors.filter((t) => !isInputTensor(t.name) && (opts.only === undefined || opts.only(t.name)));
  const all = (status: Row['status'], note: string): Row[] =>
    outputs.map((t) => ({ case: meta.name, group: meta.group, output: t.name, status, note }));
  const handlers = opts.handlers ?? HANDLERS;
  const handler = Object.hasOwn(handlers, meta.group) ? handlers[meta.group] : undefined;
  if (handler === undefined) return all('not supported', `group "${meta.group}" has no handler`);
  let ctx: CaseContext;
  let produced: Awaited<ReturnType<GroupHandler>>;
  try {
    ctx = set.context(meta, opts);
    produced = await handler(ctx);
  } catch (e) {
    return e instanceof UnsupportedError ? all('not supported', e.message) : all('fail', describe(e));
  }
  return outputs.map((t) => (templatePattern(t.name) ? templateRow(ctx, t, produced) : outputRow(ctx, t, produced.get(t.name))));
}

function outputRow(ctx: CaseContext, t: ManifestTensor, v: OutputValue | undefined): Row {
  const row = { case: ctx.meta.name, group: ctx.meta.group, output: t.name };
  if (v === undefined) return { ...row, status: 'not supported', note: 'not computed by the handler' };
  if (v instanceof UnsupportedError) return { ...row, status: 'not supported', note: v.message };
  if (v instanceof Error) return { ...row, status: 'fail', note: describe(v) };
  try {
    return compareOutput(ctx, t, v);
  } catch (e) {
    return { ...row, status: 'fail', note: describe(e) };
  }
}

/** One row for a `<…>` entry: every matching case tensor compared, the worst reported. */
function templateRow(ctx: CaseContext, t: ManifestTensor, produced: CaseOutputs): Row {
  const names = ctx.expand(t);
  const base = { case: ctx.meta.name, group: ctx.meta.group, output: t.name };
  if (names.length === 0) return { ...base, status: 'fail', note: `no tensor of ${ctx.meta.file} matches` };
  const rows = names.map((n) => outputRow(ctx, { ...t, name: n, shape: ctx.shape(n) }, produced.get(n)));
  const missing = rows.filter((r) => r.status === 'not supported');
  if (missing.length === rows.length) return { ...base, status: 'not supported', note: `${names.length} tensors; ${missing[0].note}` };
  const failed = rows.filter((r) => r.status === 'fail');
  const worst = worstRow(rows)!;
  const status = failed.length || missing.length ? 'fail' : 'pass';
  const why = failed.length ? `, ${failed.length} failed (first: ${failed[0].output}${failed[0].note ? `: ${failed[0].note}` : ''})` : missing.length ? `, ${missing.length} not computed` : '';
  return { ...base, status, maxAbsDiff: worst.maxAbsDiff, tolerance: worst.tolerance, toleranceKind: worst.toleranceKind, note: `${names.length} tensors, worst ${worst.output}${why}` };
}

export function summarize(rows: readonly Row[]): Summary {
  const n = (s: Row['status']) => rows.filter((r) => r.status === s).length;
  return { passed: n('pass'), failed: n('fail'), notSupported: n('not supported') };
}

/** Runs the selected cases one after another (model cases are memory-heavy). */
export async function runParity(set: FixtureSet, opts: RunOptions = {}): Promise<Report> {
  const rows: Row[] = [];
  for (const meta of selectCases(set, opts)) {
    const r = await runCase(set, meta, opts);
    opts.onCase?.(meta, r);
    rows.push(...r);
  }
  return { rows, summary: summarize(rows) };
}

function line(r: Row): string {
  return `${r.case} ${r.output}: ${r.status}${r.note ? ` (${r.note})` : ''}${r.maxAbsDiff !== undefined ? `, max abs diff ${r.maxAbsDiff} vs ${r.tolerance}` : ''}`;
}

/** Failed rows as one line each. */
export function failures(rows: readonly Row[]): string[] {
  return rows.filter((r) => r.status === 'fail').map(line);
}

/** Rows that did not pass (failed or not supported), one line each: what a parity test asserts empty. */
export function notPassing(rows: readonly Row[]): string[] {
  return rows.filter((r) => r.status !== 'pass').map(line);
}

/** The row closest to its bound (largest diff / tolerance; exact bounds count a diff as infinitely close). */
export function worstRow(rows: readonly Row[]): Row | undefined {
  const ratio = (r: Row) => (r.maxAbsDiff === undefined ? -1 : r.tolerance ? r.maxAbsDiff / r.tolerance : r.maxAbsDiff > 0 ? Infinity : 0);
  return rows.reduce<Row | undefined>((w, r) => (w === undefined || ratio(r) > ratio(w) ? r : w), undefined);
}

/** One line for a test diagnostic: how many outputs and the worst one. */
export function describeWorst(rows: readonly Row[]): string {
  const w = worstRow(rows);
  return w === undefined ? 'no outputs' : `${rows.length} outputs; worst ${w.case} ${w.output}: ${w.maxAbsDiff?.toExponential(2)} (tolerance ${toleranceText(w)})`;
}

export const TABLE_HEADER = ['case', 'output', 'max abs diff', 'tolerance', 'result'] as const;

function fmt(x: number | undefined): string {
  if (x === undefined) return '-';
  if (x === 0) return '0';
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/** The manifest's bound as a number; a rule as its name; a handler's bound as both. */
function toleranceText(r: Row): string {
  if (r.tolerance === undefined) return '-';
  if (r.toleranceKind === undefined || r.toleranceKind === 'tolerance_max_abs') return fmt(r.tolerance);
  return BUILT_IN_KINDS.has(r.toleranceKind) ? r.toleranceKind : `${fmt(r.tolerance)} ${r.toleranceKind}`;
}

const BUILT_IN_KINDS = new Set(['exact', 'exact (float32)', '±1 (_u8)']);

/** Table cells of a row: the tolerance column says which rule gave the bound. */
export function rowCells(r: Row): string[] {
  const tol = toleranceText(r);
  const result = r.note ? `${r.status} (${r.note})` : r.status;
  return [r.case, r.output, fmt(r.maxAbsDiff), tol, result];
}

export function formatLine(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i]) : c)).join('  ').trimEnd();
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map(rowCells);
  const widths = TABLE_HEADER.slice(0, -1).map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [formatLine(TABLE_HEADER, widths), ...cells.map((c) => formatLine(c, widths))].join('\n');
}

export function formatSummary(s: Summary): string {
  return `parity: ${s.passed} passed, ${s.failed} failed, ${s.notSupported} not supported`;
}
