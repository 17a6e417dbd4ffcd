/** `pasd upscale --high-level-info / --classifier`: contradictions and a bad folder are refused before any model loads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/cli/args.ts';
import { upscaleCommand } from '../../src/cli/upscale.ts';
import { ConfigError } from '../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-prompts-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--high-level-info and --classifier: usage errors and a missing folder', async () => {
  const run = (...extra: string[]) => upscaleCommand(['in.png', '-o', join(dir, 'out'), ...extra]);
  await assert.rejects(run('--high-level-info', 'classification'), (e) => e instanceof UsageError && /needs --classifier DIR/.test(e.message));
  await assert.rejects(run('--high-level-info', 'none', '--classifier', dir), (e) => e instanceof UsageError && /contradicts --high-level-info none/.test(e.message));
  await assert.rejects(run('--high-level-info', 'caption'), (e) => e instanceof UsageError && /expected one of none, classification/.test(e.message));
  await assert.rejects(run('--classifier', join(dir, 'absent')), (e) => e instanceof ConfigError && /absent does not exist/.test(e.message));
  await assert.rejects(run('--classifier', dir), (e) => e instanceof ConfigError && /model\.onnx is missing/.test(e.message));
});
