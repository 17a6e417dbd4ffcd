/**
 * --provider / --precision on `pasd upscale`, `pasd serve` and `pasd parity`: parsed and
 * checked before anything loads; a GPU provider that cannot start is one clear message and
 * exit code 3. The commands run with the Vulkan loader pointed at a driver file that does not
 * exist (`noAdapter`), so "no adapter" is real on any machine, one with a GPU or lavapipe too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError, runtimeChoiceOf } from '../../src/cli/args.ts';
import { InputError } from '../../src/core/errors.ts';
import { parseParityArgs, parityMain } from '../../src/parity/main.ts';
import { FIXTURES } from '../parity/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-flags-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The Vulkan loader finds no driver: no WebGPU adapter. */
const noAdapter = { VK_DRIVER_FILES: join(dir, 'no-such-icd.json'), VK_ICD_FILENAMES: join(dir, 'no-such-icd.json') };

function pasd(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pasd.js', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...noAdapter, PASD_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('runtimeChoiceOf: provider and precision checked, fp16 needs a GPU provider', () => {
  assert.deepEqual(runtimeChoiceOf({}), {});
  assert.deepEqual(runtimeChoiceOf({ provider: 'webgpu', precision: 'fp16' }, 4), { provider: 'webgpu', precision: 'fp16', threads: 4 });
  assert.deepEqual(runtimeChoiceOf({ provider: 'cuda' }), { provider: 'cuda' });
  assert.throws(() => runtimeChoiceOf({ provider: 'metal' }), (e: unknown) => e instanceof UsageError && /--provider: expected one of cpu, webgpu, cuda, got "metal"/.test(e.message));
  assert.throws(() => runtimeChoiceOf({ precision: 'bf16' }), (e: unknown) => e instanceof UsageError && /--precision/.test(e.message));
  for (const provider of [undefined, 'cpu'])
    assert.throws(() => runtimeChoiceOf({ provider, precision: 'fp16' }), (e: unknown) => e instanceof UsageError && /--precision fp16 needs --provider webgpu or cuda/.test(e.message));
});

test('pasd upscale: --precision fp16 on CPU is a usage error (exit 2); --help lists the flags', () => {
  const r = pasd('upscale', 'x.png', '-o', join(dir, 'out'), '--precision', 'fp16');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--precision fp16 needs --provider webgpu or cuda/);
  const help = pasd('upscale', '--help');
  assert.match(help.stdout, /--provider NAME +cpu \| webgpu \| cuda/);
  assert.match(help.stdout, /--precision P +fp32 \| fp16/);
});

test('pasd upscale --provider webgpu without an adapter: exit 3 naming the provider, nothing written', () => {
  const out = join(dir, 'up');
  const r = pasd('upscale', 'models/pasd-mini/samples', '-o', out, '--provider', 'webgpu', '--precision', 'fp16', '-q');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^pasd upscale: provider "webgpu": no usable GPU adapter/m);
  assert.match(r.stderr, /--provider cpu/);
  assert.equal(existsSync(out), false); // the output folder was not even created
});

test('pasd serve --provider webgpu without an adapter: exit 3 before listening', () => {
  const r = pasd('serve', '--port', '0', '--provider', 'webgpu', '-q');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^pasd serve: provider "webgpu": no usable GPU adapter/m);
  assert.doesNotMatch(r.stdout, /listening/);
});

test('pasd parity: --provider / --precision parsed and checked; webgpu without an adapter is one ProviderError', async () => {
  assert.deepEqual(parseParityArgs([FIXTURES, '--provider', 'webgpu', '--precision', 'fp16', '--group', 'vae']), { json: false, dir: FIXTURES, provider: 'webgpu', precision: 'fp16', group: 'vae' });
  assert.throws(() => parseParityArgs([FIXTURES, '--precision', 'fp16']), (e: unknown) => e instanceof InputError && /needs --provider webgpu or cuda/.test(e.message));
  assert.throws(() => parseParityArgs([FIXTURES, '--provider', 'tpu']), (e: unknown) => e instanceof InputError && /--provider: expected one of cpu, webgpu, cuda/.test(e.message));
  assert.equal(await parityMain([FIXTURES, '--provider', 'gpu'], () => {}), 2);
  const r = pasd('parity', FIXTURES, '--group', 'vae', '--provider', 'webgpu');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /ProviderError: provider "webgpu": no usable GPU adapter/);
  assert.doesNotMatch(r.stdout, /vae_1x/); // no per-case rows
});
