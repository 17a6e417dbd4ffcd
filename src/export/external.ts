/**
 * ONNX external data that points into the original weight files. onnxruntime only accepts
 * relative locations inside one folder (it canonicalises and refuses escapes), so we pass
 * the deepest folder containing every weight file as
 * `session.model_external_initializers_file_folder_path` and write locations relative to it.
 */
import { platform } from '#platform';
import { CheckpointError } from '../core/errors.ts';

const { dirname, isAbsolute, relative, resolve, sep } = platform.path;

/** Canonical path (symlinks resolved, as onnxruntime resolves them before its check). */
function canonical(f: string): string {
  try {
    return platform.realpath(f);
  } catch {
    return resolve(f);
  }
}

/** The deepest common folder of the given files (canonical, absolute). */
export function commonFolder(files: readonly string[]): string {
  const parts = files.map((f) => dirname(canonical(f)).split(sep));
  const first = parts[0];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && i < p.length && p[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(sep) || sep;
}

/** Validates one external-data reference and returns its location relative to `folder`. */
export function externalLocation(folder: string, file: string, offset: number, length: number, tensor: string): string {
  const loc = relative(folder, canonical(file)).split(sep).join('/');
  if (loc === '' || isAbsolute(loc) || loc.split('/').includes('..'))
    throw new CheckpointError(`tensor "${tensor}": weight file ${file} is not inside the external-data folder ${folder}`);
  const size = platform.stat(resolve(file))?.size;
  if (size === undefined) throw new CheckpointError(`tensor "${tensor}": weight file ${file} does not exist or cannot be read`);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size)
    throw new CheckpointError(`tensor "${tensor}": bytes ${offset}..${offset + length} lie outside ${file} (${size} bytes)`);
  return loc;
}
