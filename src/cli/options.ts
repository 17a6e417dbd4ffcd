/**
 * The run options (src/pipelines/options.ts) as command-line flags: parseArgs options, the
 * typed values of what was parsed, usage lines, and option errors spelled as flags.
 */
import { type Door, OPTIONS, OPTION_KEYS, type OptionKey, type OptionSpec, OptionError, type RunSettings, valueProblem } from '../pipelines/options.ts';
import type { PasdPipeline, UpscaleOptions } from '../pipelines/pasd.ts';
import { UsageError } from './args.ts';

type Flags = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const keysOf = (door: Door) => OPTION_KEYS.filter((k) => OPTIONS[k].doors.includes(door));

/** parseArgs options for the run options a command takes. */
export function optionFlags(door: Door): Flags {
  const flags: Flags = {};
  for (const k of keysOf(door)) {
    const s = OPTIONS[k];
    flags[s.flag] = { type: s.kind === 'boolean' ? 'boolean' : 'string', ...(s.short ? { short: s.short } : {}) };
    if (s.kind === 'boolean' && s.named?.doors.includes(door)) flags[s.named.flag] = { type: 'string' };
  }
  return flags;
}

/** One flag's typed value (undefined when not given); a bad value is a UsageError naming the flag. */
export function flagValue<K extends OptionKey>(key: K, raw: string | boolean | undefined): RunSettings[K] | undefined {
  if (raw === undefined) return undefined;
  const spec: OptionSpec = OPTIONS[key];
  const value = spec.kind === 'number' && typeof raw === 'string' && !(spec.auto && raw === 'auto') ? (raw.trim() === '' ? Number.NaN : Number(raw)) : raw;
  const problem = valueProblem(spec, value, { got: JSON.stringify(raw) });
  if (problem) throw new UsageError(`--${spec.flag}: ${problem}`);
  return value as RunSettings[K];
}

/** The run options given on the command line (only those given), typed and range-checked. */
export function optionsFromFlags(values: Readonly<Record<string, string | boolean | undefined>>, door: Door): Partial<RunSettings> {
  const out: Record<string, unknown> = {};
  for (const k of keysOf(door)) {
    let v: unknown = flagValue(k, values[OPTIONS[k].flag]);
    const s: OptionSpec = OPTIONS[k];
    const raw = s.kind === 'boolean' && s.named?.doors.includes(door) ? values[s.named.flag] : undefined;
    if (s.kind === 'boolean' && s.named && raw !== undefined) {
      const names = Object.keys(s.named.names);
      if (typeof raw !== 'string' || !names.includes(raw)) throw new UsageError(`--${s.named.flag}: expected one of ${names.join(', ')}, got ${JSON.stringify(raw)}`);
      const named = s.named.names[raw];
      if (v !== undefined && v !== named) throw new UsageError(`--${s.flag} contradicts --${s.named.flag} ${raw}`);
      v = named;
    }
    if (v !== undefined) out[k] = v;
  }
  return out as Partial<RunSettings>;
}

/** An OptionError (from resolveOptions) as a usage error naming the flag; other errors unchanged. */
export function asUsageError(e: unknown): unknown {
  return e instanceof OptionError ? new UsageError(`--${OPTIONS[e.option].flag}: ${e.detail}`) : e;
}

/**
 * Every option, and how they combine with the loaded model's scheduler, checked before any
 * image; when they do not fit, what was loaded is released and the usage error names the flag.
 */
export async function checkRunOptions(pipe: PasdPipeline, options: UpscaleOptions, loaded: readonly ({ release?(): Promise<void> } | undefined)[] = []): Promise<void> {
  try {
    pipe.resolveOptions(options);
  } catch (e) {
    for (const x of [pipe, ...loaded]) await x?.release?.();
    throw asUsageError(e);
  }
}

const WIDTH = 112;

/** Usage lines of the run options a command takes, descriptions starting at `column`, wrapped. */
export function optionUsage(door: Door, column: number): string {
  return keysOf(door).flatMap((k) => {
    const s: OptionSpec = OPTIONS[k];
    const named = s.kind === 'boolean' && s.named?.doors.includes(door) ? s.named : undefined;
    return [usageLine(s, column), ...(named ? [usageLine({ flag: named.flag, arg: Object.keys(named.names).join('|'), kind: 'string', maxLength: 0, help: `${named.help} (default: the model's)`, default: '', doors: [door] }, column)] : [])];
  }).join('\n');
}

function usageLine(s: OptionSpec, column: number): string {
  const arg = s.kind === 'boolean' ? '' : ` ${s.arg ?? { number: s.kind === 'number' && s.int ? 'N' : 'X', string: 'TEXT', choice: 'NAME' }[s.kind]}`;
  const flag = `  ${s.short ? `-${s.short}, ` : ''}--${s.flag}${arg}`;
  const choices = s.kind === 'choice' ? `: ${s.choices.join(' | ')}` : '';
  const text = `${s.help}${choices}${/\(default/.test(s.help) || s.kind === 'boolean' ? '' : ` (default ${shown(s)})`}`;
  const lines: string[] = [];
  let line = flag.length < column ? flag.padEnd(column) : `${flag}\n${' '.repeat(column)}`;
  let room = WIDTH - column;
  for (const word of text.split(' ')) {
    if (room < word.length && room < WIDTH - column) {
      lines.push(line.trimEnd());
      line = ' '.repeat(column);
      room = WIDTH - column;
    }
    line += `${word} `;
    room -= word.length + 1;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function shown(s: OptionSpec): string {
  return s.kind !== 'string' ? String(s.default) : s.default === '' ? 'empty' : `"${s.default}"`;
}
