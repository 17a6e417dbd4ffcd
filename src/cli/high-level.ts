/**
 * The high-level models' flags of `pasd upscale` and `pasd serve`: --captioner, --detector and
 * --classifier name local folders (src/prompts/load-node.ts reads their layouts); they are checked
 * to exist before anything loads, and nothing is ever downloaded.
 */
import { existsSync, statSync } from 'node:fs';
import { HIGH_LEVEL_MODEL_FLAGS } from '../pipelines/options.ts';
import type { UpscaleOptions } from '../pipelines/pasd.ts';
import type { PromptProvider } from '../prompts/provider.ts';
import { UsageError } from './args.ts';

type Kind = PromptProvider['kind'];


export const HIGH_LEVEL_ARGS = { captioner: { type: 'string' }, detector: { type: 'string' }, classifier: { type: 'string' } } as const;

/** The folders given, by kind; a folder that does not exist is a usage error (exit 2) naming its flag. */
export function highLevelFolders(v: Record<string, string | boolean | undefined>): Partial<Record<Kind, string>> {
  const folders: Partial<Record<Kind, string>> = {};
  for (const k of Object.keys(HIGH_LEVEL_MODEL_FLAGS) as Kind[]) {
    const dir = v[HIGH_LEVEL_MODEL_FLAGS[k]] as string | undefined;
    if (dir === undefined) continue;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--${HIGH_LEVEL_MODEL_FLAGS[k]} ${dir}: no such folder (models are local folders, never downloaded; see README "High-level information")`);
    folders[k] = dir;
  }
  return folders;
}

/**
 * --high-level-info with --captioner / --detector / --classifier (test_pasd.py `--high_level_info`):
 * the kind and its folder, or null for none. Without --high-level-info the kind is that of the one
 * folder given. A missing folder, a kind without its folder or a folder the kind does not use is a
 * usage error (exit 2) naming the flag; nothing is ever downloaded.
 */
export function highLevelOf(v: Record<string, string | boolean | undefined>, given: UpscaleOptions): { kind: Kind; dir: string } | null {
  const folders = highLevelFolders(v);
  const flags = Object.keys(folders) as Kind[];
  if (given.highLevelInfo === undefined && flags.length > 1) throw new UsageError(`--${flags.map((k) => HIGH_LEVEL_MODEL_FLAGS[k]).join(' and --')} given: choose one with --high-level-info`);
  const kind = given.highLevelInfo ?? flags[0] ?? 'none';
  const unused = flags.find((k) => k !== kind);
  if (unused) throw new UsageError(`--${HIGH_LEVEL_MODEL_FLAGS[unused]} DIR is not used with --high-level-info ${kind}`);
  if (kind === 'none') return null;
  if (!flags.length) throw new UsageError(`--high-level-info ${kind} needs --${HIGH_LEVEL_MODEL_FLAGS[kind]} DIR (a local model folder; see README "High-level information")`);
  return { kind, dir: folders[kind]! };
}
