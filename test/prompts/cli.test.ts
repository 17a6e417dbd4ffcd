/** `pasd upscale --high-level-info / --classifier`: contradictions are usage errors before anything loads; a bad classifier folder fails loading (exit 3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/args.ts';
import { upscaleCommand } from '../../src/cli/upscale.ts';
import sharp from 'sharp';

const dir = mkdtempSync(join(tmpdir(), 'pasd-prompts-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--high-level-info and --classifier: usage errors and a missing folder', async () => {
  const run = (...extra: string[]) => upscaleCommand(['in.png', '-o', join(dir, 'out'), ...extra]);
  await assert.rejects(run('--high-level-info', 'classification'), (e) => e instanceof UsageError && /needs --classifier DIR/.test(e.message));
  await assert.rejects(run('--high-level-info', 'none', '--classifier', dir), (e) => e instanceof UsageError && /contradicts --high-level-info none/.test(e.message));
  await assert.rejects(run('--high-level-info', 'caption'), (e) => e instanceof UsageError && /expected one of none, classification/.test(e.message));
  // A classifier that cannot be loaded is a model-loading failure: exit code 3, message on stderr.
  const input = join(dir, 'in.png');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toFile(input);
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const runIn = (...extra: string[]) => upscaleCommand([input, '-o', join(dir, 'out'), '-q', ...extra]);
    assert.equal(await runIn('--classifier', join(dir, 'absent')), 3);
    assert.equal(await runIn('--classifier', dir), 3);
  } finally {
    process.stderr.write = write;
  }
  assert.match(stderr.join(''), /absent does not exist/);
  assert.match(stderr.join(''), /model\.onnx is missing/);
});
