/**
 * The browser adapter's pure parts agree with Node's: SHA-256 and CRC-32 (graph keys and zip
 * checks must not depend on the platform), POSIX paths, and the virtual file tree the page
 * mounts files into (read by offset, written atomically, scratch files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { crc32 as nodeCrc32 } from 'node:zlib';
import { crc32, sha256Hex } from '../../src/platform/digest.ts';
import { posixPath } from '../../src/platform/posix-path.ts';
import { mountFile, platform } from '../../src/platform/web.ts';

test('sha256Hex and crc32 equal node:crypto and node:zlib at every padding boundary', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]) {
    const b = new Uint8Array(randomBytes(n));
    assert.equal(sha256Hex(b), createHash('sha256').update(b).digest('hex'), `${n} bytes`);
    assert.equal(crc32(b), nodeCrc32(b), `${n} bytes`);
  }
  assert.equal(sha256Hex('pasd ✓'), createHash('sha256').update('pasd ✓').digest('hex'));
});

test('posixPath agrees with node:path on POSIX paths', () => {
  const p = nodePath.posix;
  for (const args of [['/a', 'b', '../c'], ['a', 'b'], ['/'], ['/x/y', '..', '..', '..']]) assert.equal(posixPath.join(...args), p.join(...args), args.join(' '));
  for (const x of ['/a/b/c.txt', '/a', '/', 'a/b', '/a/b/']) {
    assert.equal(posixPath.dirname(x), p.dirname(x), x);
    assert.equal(posixPath.basename(x), p.basename(x), x);
    assert.equal(posixPath.extname(x), p.extname(x), x);
  }
  assert.equal(posixPath.basename('/a/b.json', '.json'), 'b');
  for (const [a, b] of [['/a/b', '/a/b/c/d'], ['/a/b/c', '/a/x'], ['/a', '/a'], ['/', '/q']]) assert.equal(posixPath.relative(a, b), p.relative(a, b), `${a} → ${b}`);
  assert.equal(posixPath.resolve('/a', 'b', '/c', 'd'), '/c/d');
});

test('the web file tree: mounted byte arrays read by offset, folders seen, atomic writes, scratch files', () => {
  mountFile('/m/unet/config.json', new TextEncoder().encode('{"a":1}'));
  mountFile('/m/unet/w.bin', new Uint8Array([1, 2, 3, 4, 5]));
  assert.equal(platform.exists('/m/unet'), true);
  assert.equal(platform.stat('/m/unet')!.isDirectory, true);
  assert.equal(platform.stat('/m/unet/w.bin')!.size, 5);
  assert.equal(platform.stat('/m/nothing'), null);
  assert.equal(platform.readText('/m/unet/config.json'), '{"a":1}');
  const f = platform.open('/m/unet/w.bin');
  const into = new Uint8Array(4);
  assert.equal(f.read(into, 1, 3, 3), 2, 'reads stop at the end of the file');
  assert.deepEqual([...into], [0, 4, 5, 0]);
  assert.throws(() => platform.open('/m/missing'), /no such file/);
  platform.writeFileAtomic('/cache/k.onnx', [new Uint8Array([9]), new Uint8Array([8, 7])]);
  assert.deepEqual([...platform.readFile('/cache/k.onnx')], [9, 8, 7]);
  const dir = platform.makeTempDir('t-');
  const s = platform.scratchFile(platform.path.join(dir, 'map.f32'), 8);
  s.write(new Uint8Array([1, 2]), 6);
  const back = new Uint8Array(3);
  s.read(back, 5);
  assert.deepEqual([...back], [0, 1, 2]);
  platform.remove(dir);
  assert.equal(platform.exists(dir), false);
});

test('a Blob is read only where FileReaderSync exists (a Worker), with a message saying so', () => {
  mountFile('/b/x.bin', new Blob([new Uint8Array([1, 2])]));
  assert.equal(platform.stat('/b/x.bin')!.size, 2);
  assert.throws(() => platform.readFile('/b/x.bin'), /FileReaderSync: run the pipeline in a Worker/);
});
