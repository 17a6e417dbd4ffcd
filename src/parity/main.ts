/**
 * `npm run parity -- <fixture-dir> [--group g] [--case substring] [--json] [--threads n]
 * [--provider cpu|webgpu|cuda] [--precision fp32|fp16]` and
 * `pasd parity …`: runs every selected case of a fixture directory and prints one row per
 * output (case, output, max abs diff, tolerance, result), then
 * `parity: N passed, M failed, K not supported`. Exit code 1 when a supported output fails.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RUNTIME_ARGS, UsageError, num, runtimeChoiceOf, runtimeUsage } from '../cli/args.ts';
import { InputError, PasdError } from '../core/errors.ts';
import { type RuntimeChoice, fusedAttentionWorks, probeProvider } from '../engine/compile.ts';
import { FixtureSet } from './fixture-set.ts';
import { TABLE_HEADER, formatLine, formatSummary, rowCells, runParity, selectCases } from './runner.ts';

export const PARITY_USAGE = `usage: parity <fixture-dir> [--group <group>] [--case <substring>] [--json] [--threads <n>]
              [--provider NAME] [--precision P]
  <fixture-dir>          a directory with manifest.json in the ../shared/fixtures format
  --group G              only cases of this group (schedulers, helpers, text, models, models_light, vae, …)
  --case S               only cases whose name contains this
  --json                 print {rows, summary} as JSON instead of the table
  --threads N            onnxruntime intra-op threads for model cases (default: onnxruntime's)
${runtimeUsage(25)}
                         (the fixtures' tolerances are fp32's)
`;

interface Args extends RuntimeChoice {
  dir: string;
  group?: string;
  caseFilter?: string;
  json: boolean;
}

/** The arguments; a bad one is an InputError (UsageError) naming it. Provider and precision are read as `pasd upscale` reads them. */
export function parseParityArgs(argv: readonly string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv], allowPositionals: true, strict: true,
      options: { group: { type: 'string' }, case: { type: 'string' }, json: { type: 'boolean' }, threads: { type: 'string' }, ...RUNTIME_ARGS },
    });
  } catch (e) {
    throw new UsageError(`parity: ${(e as Error).message}`);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('parity: missing <fixture-dir>');
  if (positionals.length > 1) throw new UsageError(`parity: one fixture directory expected, got "${positionals[0]}" and "${positionals[1]}"`);
  const args: Args = { json: v.json ?? false, dir: positionals[0], ...runtimeChoiceOf(v, num(v.threads, 'threads', { int: true, min: 1 })) };
  if (v.group !== undefined) args.group = v.group;
  if (v.case !== undefined) args.caseFilter = v.case;
  return args;
}

/** Runs the CLI; returns the exit code (0: every supported output passes, 1: a failure, 2: bad arguments). */
export async function parityMain(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    out(PARITY_USAGE);
    return 0;
  }
  let args: Args;
  try {
    args = parseParityArgs(argv);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    process.stderr.write(`${e.message}\n\n${PARITY_USAGE}`);
    return 2;
  }
  const set = FixtureSet.open(args.dir);
  const selected = selectCases(set, args);
  // A GPU provider that cannot start is one error (ProviderError), not a failure per case.
  if (args.provider !== undefined && args.provider !== 'cpu') await probeProvider(args);
  if (args.provider === 'webgpu') process.stderr.write(`webgpu: ${await fusedAttentionWorks() ? 'the fused MultiHeadAttention is right on this adapter: used' : 'the fused MultiHeadAttention is wrong on this adapter (docs/onnxruntime-webgpu-defects.md): attention runs as chunked MatMul/Softmax/MatMul'}\n`);
  // Column widths from the manifest, so rows can be printed as each case finishes.
  const widths = [
    Math.max(TABLE_HEADER[0].length, ...selected.map((c) => c.name.length)),
    Math.max(TABLE_HEADER[1].length, ...selected.flatMap((c) => c.tensors.map((t) => t.name.length))),
    TABLE_HEADER[2].length,
    Math.max(TABLE_HEADER[3].length, '±1 (_u8)'.length, 'exact (float32)'.length),
  ];
  if (!args.json) out(`${formatLine(TABLE_HEADER, widths)}\n`);
  const report = await runParity(set, {
    ...args,
    onCase: args.json ? undefined : (_meta, rows) => rows.forEach((r) => out(`${formatLine(rowCells(r), widths)}\n`)),
  });
  out(args.json ? `${JSON.stringify(report, (_k, v) => (v === Infinity ? 'Infinity' : v), 2)}\n` : `${formatSummary(report.summary)}\n`);
  return report.summary.failed > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  parityMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (!(e instanceof PasdError)) throw e;
      process.stderr.write(`parity: ${e.name}: ${e.message}\n`);
      process.exit(1);
    },
  );
}
