/**
 * A diffusers / transformers model folder: `config.json` plus weights in one of the names
 * `from_pretrained` looks for (diffusers 0.29.2 `utils/constants.py`, `models/modeling_utils.py`;
 * transformers' `model.safetensors` / `pytorch_model.bin`), single-file or sharded through a
 * `*.index.json` whose `weight_map` names the shard of every tensor.
 * safetensors is preferred over pickle-based `.bin`, as diffusers does.
 * Shard names are checked to be plain files of the index's own kind inside the folder: a
 * `.safetensors` index that points at a `.bin` shard (or at `../x`) is refused.
 */
import { platform } from '#platform';
import { CheckpointError, ConfigError } from '../core/errors.ts';
import type { TensorEntry } from './safetensors.ts';
import { type CheckpointFile, openCheckpoint } from './checkpoint.ts';

const { basename, join } = platform.path;

export interface FolderTensor {
  readonly file: CheckpointFile;
  readonly entry: TensorEntry;
}

export interface ModelFolder {
  readonly dir: string;
  /** config.json, parsed. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly weightFiles: readonly CheckpointFile[];
  readonly tensors: ReadonlyMap<string, FolderTensor>;
  readF32(name: string): Float32Array;
}

/** Weight names in the order they are tried; `{v}` is `.variant` or empty. */
const CANDIDATES = [
  'diffusion_pytorch_model{v}.safetensors', 'diffusion_pytorch_model{v}.safetensors.index.json',
  'model{v}.safetensors', 'model{v}.safetensors.index.json',
  'diffusion_pytorch_model{v}.bin', 'diffusion_pytorch_model{v}.bin.index.json',
  'pytorch_model{v}.bin', 'pytorch_model{v}.bin.index.json',
];

function readJson(path: string, what: string, ErrorType: typeof ConfigError | typeof CheckpointError): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(platform.readText(path));
  } catch (e) {
    throw new ErrorType(`${path}: cannot read ${what} (${(e as Error).message})`, { cause: e });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ErrorType(`${path}: ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Shard file names of an index, validated: plain basenames of the index's kind that exist. */
function shardNames(dir: string, indexName: string, index: Record<string, unknown>): Map<string, string> {
  const indexPath = join(dir, indexName);
  const map = index.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new CheckpointError(`${indexPath}: "weight_map" must be an object of tensor name → shard file`);
  const ext = indexName.endsWith('.safetensors.index.json') ? '.safetensors' : '.bin';
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard.includes('\\') || shard === '.' || shard === '..' || shard.includes('\0') || !shard.endsWith(ext))
      throw new CheckpointError(`${indexPath}: weight_map["${tensor}"] = ${JSON.stringify(shard)} must be a plain ${ext} file name inside the folder`);
    out.set(tensor, shard);
  }
  for (const shard of new Set(out.values())) {
    const p = join(dir, shard);
    if (!platform.stat(p)?.isFile) throw new CheckpointError(`${indexPath}: shard "${shard}" does not exist in ${dir}`);
  }
  return out;
}

/** `dir`'s config.json alone (for components without weights). */
export function readModelConfig(dir: string): Record<string, unknown> {
  return readJson(join(dir, 'config.json'), 'config.json', ConfigError);
}

/**
 * Loads `dir`'s config.json and locates its weights. `variant` picks e.g.
 * `diffusion_pytorch_model.fp16.safetensors` (diffusers' `variant="fp16"`).
 */
export function loadModelFolder(dir: string, options: { variant?: string } = {}): ModelFolder {
  const config = readModelConfig(dir);
  const v = options.variant ? `.${options.variant}` : '';
  const found = CANDIDATES.map((c) => c.replace('{v}', v)).find((n) => platform.exists(join(dir, n)));
  if (!found) throw new CheckpointError(`${dir}: no weights found; expected one of ${CANDIDATES.map((c) => c.replace('{v}', v)).join(', ')}`);
  const weightFiles: CheckpointFile[] = [];
  const tensors = new Map<string, FolderTensor>();
  const add = (file: CheckpointFile): void => {
    weightFiles.push(file);
    for (const [name, entry] of file.tensors) {
      const prev = tensors.get(name);
      if (prev) throw new CheckpointError(`${dir}: tensor "${name}" is in both ${basename(prev.file.path)} and ${basename(file.path)}`);
      tensors.set(name, { file, entry });
    }
  };
  if (!found.endsWith('.index.json')) add(openCheckpoint(join(dir, found)));
  else {
    const map = shardNames(dir, found, readJson(join(dir, found), 'shard index', CheckpointError));
    for (const shard of new Set(map.values())) add(openCheckpoint(join(dir, shard)));
    for (const [name, shard] of map) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${join(dir, found)}: tensor "${name}" is mapped to ${shard} but no shard holds it`);
      if (basename(t.file.path) !== shard) throw new CheckpointError(`${join(dir, found)}: tensor "${name}" is mapped to ${shard} but is in ${basename(t.file.path)}`);
    }
  }
  return {
    dir,
    config,
    weightFiles,
    tensors,
    readF32(name) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${dir}: no tensor named "${name}"`);
      return t.file.readF32(name);
    },
  };
}
