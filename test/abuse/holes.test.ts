/**
 * Library-level holes of issue 21: a symlink planted at the image writer's temp name, a
 * safetensors header that names a tensor twice, a zip entry whose stored sizes disagree, and
 * config values that would build modules until the heap gives out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { serializeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { readZipDirectory, requireStored, writeStoredZip } from '../../src/checkpoint/zip.ts';
import { withFile } from '../../src/checkpoint/file.ts';
import { parseClipTextConfig } from '../../src/config/clip.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { CheckpointError, ConfigError } from '../../src/core/errors.ts';
import { makeImage } from '../../src/image/image.ts';
import { writeImage } from '../../src/image/codec-node.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-holes-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the image writer never follows a symlink planted at the old temp name or at the output', async () => {
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious');
  const out = join(dir, 'out.png');
  symlinkSync(victim, `${out}.${process.pid}.tmp`); // the name the writer used to write through
  await writeImage(out, makeImage(2, 2, 3, new Uint8Array(12).fill(9)));
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.ok(lstatSync(out).isFile() && !lstatSync(out).isSymbolicLink());
  // A symlink at the output itself is replaced, not written through.
  const out2 = join(dir, 'out2.png');
  symlinkSync(victim, out2);
  await writeImage(out2, makeImage(2, 2, 3, new Uint8Array(12).fill(9)));
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.ok(!lstatSync(out2).isSymbolicLink());
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp') && !n.startsWith('out.png.')), [], 'no temp file left');
});

test('a safetensors header that names a tensor twice is refused, not last-wins', () => {
  const good = Buffer.concat(serializeSafetensors([{ name: 'w', dtype: 'float32', shape: [1], data: new Float32Array([1]) }]));
  const n = Number(good.readBigUInt64LE(0));
  const header = good.subarray(8, 8 + n).toString('utf8').trimEnd();
  const entry = header.slice(header.indexOf('"w"'), header.lastIndexOf('}'));
  const twice = Buffer.from(`{${entry},${entry}}`);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(twice.length));
  const path = join(dir, 'twice.safetensors');
  writeFileSync(path, Buffer.concat([len, twice, good.subarray(8 + n)]));
  assert.throws(() => openSafetensors(path), (e: Error) => e instanceof CheckpointError && /"w" twice/.test(e.message));
});

test('a stored zip entry whose sizes disagree is named as such, not as compressed', () => {
  const path = join(dir, 'sizes.zip');
  writeStoredZip(path, [{ name: 'a/data.pkl', data: new Uint8Array(100) }]);
  const bytes = readFileSync(path);
  const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  bytes.writeUInt32LE(99, cd + 20); // compressed size ≠ size, method still 0
  writeFileSync(path, bytes);
  withFile(path, (f) => {
    const [e] = readZipDirectory(f, path);
    assert.throws(() => requireStored(e, path), (err: Error) => err instanceof CheckpointError && /stored \(method 0\) but its sizes disagree: 99 bytes stored, 100 declared/.test(err.message));
  });
});

test('config values are bounded before anything is built', () => {
  assert.throws(() => parseUNetConfig({ layers_per_block: 1e8 }), (e: Error) => e instanceof ConfigError && /"layers_per_block" = 100000000 is out of range \(at most 64\)/.test(e.message));
  assert.throws(() => parseUNetConfig({ cross_attention_dim: 2 ** 40 }), ConfigError);
  assert.throws(() => parseUNetConfig({ block_out_channels: new Array(100).fill(32) }), /100 entries/);
  assert.throws(() => parseClipTextConfig({ num_hidden_layers: 1e6 }), ConfigError);
  assert.equal(parseUNetConfig({ layers_per_block: 2 }).layersPerBlock[0], 2);
});
