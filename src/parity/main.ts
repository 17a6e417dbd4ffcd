/**
 * `npm run parity -- <fixture-dir> [--group g] [--case substring] [--json] [--threads n]
 * [--provider cpu|webgpu|cuda] [--precision fp32|fp16]` and
 * `pasd parity …`: runs every selected case of a fixture directory and prints one row per
 * output (case, output, max abs diff, tolerance, result), then
 * `parity: N passed, M failed, K not supported`. Exit code 1 when a supported output fails.
 */
import { pathToFileURL } from 'node:url';
import { InputError, PasdError, ProviderError } from '../core/errors.ts';
import { type Precision, checkPrecision, fusedAttentionWorks, probeProvider } from '../engine/compile.ts';
import type { Provider } from '../runtime/session.ts';
import { FixtureSet } from './fixture-set.ts';
import { TABLE_HEADER, formatLine, formatSummary, rowCells, runParity, selectCases } from './runner.ts';

export const PARITY_USAGE = `usage: parity <fixture-dir> [--group <group>] [--case <substring>] [--json] [--threads <n>]
              [--provider cpu|webgpu|cuda] [--precision fp32|fp16]
  <fixture-dir>   a directory with manifest.json in the ../shared/fixtures format
  --group         only cases of this group (schedulers, helpers, text, models, models_light, vae, …)
  --case          only cases whose name contains this
  --json          print {rows, summary} as JSON instead of the table
  --threads       onnxruntime intra-op threads for model cases (default: onnxruntime's)
  --provider      where model cases run: cpu (default), webgpu or cuda
  --precision     fp32 (default) or fp16 (needs --provider webgpu or cuda; the fixtures' tolerances are fp32's)
`;

interface Args {
  dir: string;
  group?: string;
  caseFilter?: string;
  json: boolean;
  threads?: number;
  provider?: Provider;
  precision?: Precision;
}

export function parseParityArgs(argv: readonly string[]): Args {
  const args: Partial<Args> & { json: boolean } = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new InputError(`parity: ${a} needs a value`);
      return v;
    };
    if (a === '--group') args.group = value();
    else if (a === '--case') args.caseFilter = value();
    else if (a === '--json') args.json = true;
    else if (a === '--threads') {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`parity: --threads must be a positive integer, got ${argv[i]}`);
      args.threads = n;
    } else if (a === '--provider') args.provider = oneOf(a, value(), ['cpu', 'webgpu', 'cuda'] as const);
    else if (a === '--precision') args.precision = oneOf(a, value(), ['fp32', 'fp16'] as const);
    else if (a.startsWith('--')) throw new InputError(`parity: unknown option ${a}`);
    else if (args.dir === undefined) args.dir = a;
    else throw new InputError(`parity: one fixture directory expected, got "${args.dir}" and "${a}"`);
  }
  if (args.dir === undefined) throw new InputError('parity: missing <fixture-dir>');
  try {
    checkPrecision(args.provider, args.precision);
  } catch (e) {
    if (e instanceof ProviderError) throw new InputError('parity: --precision fp16 needs --provider webgpu or cuda');
    throw e;
  }
  return args as Args;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new InputError(`parity: ${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
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
