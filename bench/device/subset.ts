/**
 * `node --import tsx bench/device/subset.ts <fixtures> <out> <case> ...`: copies the named
 * fixture cases with the models (and tokenizer) they use into <out>, with a manifest.json
 * listing only those, so the parity runner runs them as a whole fixture set. The device
 * machine receives at most 64 MiB, the repository included, so only a few cases fit
 * (bench/device/README.md).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../../src/core/errors.ts';
import type { Manifest } from '../../src/parity/types.ts';

const [src, out, ...names] = process.argv.slice(2);
if (!src || !out || !names.length) throw new InputError('usage: subset.ts <fixtures dir> <out dir> <case name> ...');
const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')) as Manifest;
const cases = manifest.cases.filter((c) => names.includes(c.name));
const missing = names.filter((n) => !cases.some((c) => c.name === n));
if (missing.length) throw new InputError(`no fixture case named ${missing.join(', ')} in ${src}/manifest.json`);

const copy = (rel: string) => {
  mkdirSync(dirname(join(out, rel)), { recursive: true });
  cpSync(resolve(src, rel), join(out, rel), { recursive: true, dereference: true });
};
const models: Record<string, unknown> = {};
for (const c of cases) {
  copy(c.file);
  for (const m of c.models ?? []) {
    const entry = manifest.models?.[m];
    if (!entry) throw new InputError(`case ${c.name}: model "${m}" is not in the manifest`);
    if (!(m in models)) copy(entry.folder);
    models[m] = entry;
  }
  // Other files or folders a case names (`tokenizer_folder`, `prompts_file`, …) go along.
  for (const [k, v] of Object.entries(c))
    if (!['name', 'group', 'file'].includes(k) && typeof v === 'string' && !v.includes('\n') && existsSync(resolve(src, v))) copy(v);
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ ...manifest, cases, models }, null, 1));
process.stdout.write(`${cases.length} cases, ${Object.keys(models).length} models: ${Object.keys(models).join(', ') || '-'}\n`);
