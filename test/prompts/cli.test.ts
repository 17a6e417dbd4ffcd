/**
 * `pasd upscale --high-level-info / --captioner / --detector / --classifier`: contradictions and
 * missing folders are usage errors (exit 2) before anything loads; a folder of no known layout
 * fails loading (exit 3); a run with the tiny YOLOv8 export reports its prompt in --json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/cli/args.ts';
import { upscaleCommand } from '../../src/cli/upscale.ts';
import sharp from 'sharp';
import { writeYolo } from './tiny-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-prompts-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const input = join(dir, 'in.png');
await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 90, g: 120, b: 30 } } }).png().toFile(input);

const BIN = fileURLToPath(new URL('../../bin/pasd.js', import.meta.url));

/** Runs `pasd upscale …` as a user does, in its own process. */
function pasd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, 'upscale', ...args], { maxBuffer: 1 << 24 }, (e, stdout, stderr) =>
      done({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

test('--high-level-info and the model folders: usage errors name the flag', async () => {
  const run = (...extra: string[]) => upscaleCommand([input, '-o', join(dir, 'out'), ...extra]);
  const folder = join(dir, 'folder');
  mkdirSync(folder, { recursive: true });
  const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
  await assert.rejects(run('--high-level-info', 'classification'), usage(/needs --classifier DIR/));
  await assert.rejects(run('--high-level-info', 'caption'), usage(/needs --captioner DIR/));
  await assert.rejects(run('--high-level-info', 'none', '--classifier', folder), usage(/--classifier DIR is not used with --high-level-info none/));
  await assert.rejects(run('--high-level-info', 'caption', '--detector', folder), usage(/--detector DIR is not used with --high-level-info caption/));
  await assert.rejects(run('--captioner', folder, '--detector', folder), usage(/choose one with --high-level-info/));
  await assert.rejects(run('--detector', join(dir, 'absent')), usage(/--detector .*absent: no such folder/));
  await assert.rejects(run('--high-level-info', 'segmentation'), usage(/expected one of caption, detection, classification, none/));
});

test('a folder of no known layout is a model-loading failure (exit 3); a tiny YOLOv8 export prompts the run, --json reports it', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  const bad = await pasd([input, '-o', join(dir, 'out-bad'), '-q', '--captioner', empty]);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /caption model folder .*empty: neither config\.json/);

  const yolo = writeYolo(join(dir, 'yolo'), ['person', 'dog'], [
    { cls: 1, score: 0.9, box: [10, 10, 20, 20] }, { cls: 0, score: 0.8, box: [40, 40, 10, 10] }, { cls: 1, score: 0.7, box: [50, 10, 8, 8] },
  ]);
  const ok = await pasd([input, '-o', join(dir, 'out'), '--json', '--steps', '1', '--scale', '1', '--process-size', '16', '--threads', '1',
    '--high-level-info', 'detection', '--detector', yolo, '--prompt', 'a field']);
  assert.equal(ok.code, 0, ok.stderr);
  const { results } = JSON.parse(ok.stdout) as { results: { prompt?: string; error?: string }[] };
  assert.equal(results.length, 1);
  assert.match(results[0].prompt ?? '', /^a field, 2 dog, 1 person, /);
});
