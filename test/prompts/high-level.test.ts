/**
 * High-level information from local model folders that this test writes (tests/prompts/
 * tiny-models.ts): an ultralytics YOLOv8 export (our session, letterbox and NMS) and
 * transformers.js folders (ViT classifier, DETR detector, VisionEncoderDecoder captioner), each
 * through the one loader, up to the prompt the text encoder gets. `fetch` is replaced for the
 * whole file: any network request fails the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import { ConfigError } from '../../src/core/errors.ts';
import { makeImage } from '../../src/image/image.ts';
import { loadPromptProvider } from '../../src/prompts/load-node.ts';
import type { PromptProvider } from '../../src/prompts/provider.ts';
import { YOLO_PREDICT, letterbox, parseYoloNames, yoloDetections } from '../../src/prompts/yolo.ts';
import { encodedPrompt, fixturePipeline } from './encoded-prompt.ts';
import { type YoloAnchor, writeCaptioner, writeDetr, writeVitClassifier, writeYolo } from './tiny-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'pasd-high-level-'));
const fetched: string[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (async (url: unknown) => {
  fetched.push(String(url));
  throw new Error(`network request during a test: ${String(url)}`);
}) as typeof fetch;
const pipe = fixturePipeline();
test.after(async () => {
  globalThis.fetch = realFetch;
  await pipe.release();
  rmSync(dir, { recursive: true, force: true });
});

/** A red image (the tiny classifiers call it "tomato"). */
const input = makeImage(20, 12, 3);
for (let i = 0; i < input.data.length; i += 3) input.data[i] = 255;
const run = { upscale: 2, processSize: 32, prompt: 'old photo' };
const ADDED = ', clean, high-resolution, 8k';

async function promptWith(kind: PromptProvider['kind'], folder: string, o: { prompt?: string } = {}): Promise<string> {
  const provider = await loadPromptProvider(kind, folder, { threads: 1 });
  try {
    assert.equal(provider.kind, kind);
    return await encodedPrompt(pipe, input, { ...run, ...o, promptProvider: provider });
  } finally {
    await provider.release?.();
  }
}

// person 0.9, a person box overlapping it (IoU > 0.7: suppressed), dog 0.85, a cat on the
// person's box (another class: kept), person 0.3 (above 0.25), dog 0.2 (below 0.25).
const ANCHORS: YoloAnchor[] = [
  { cls: 0, score: 0.9, box: [10, 10, 20, 20] }, { cls: 0, score: 0.8, box: [11, 10, 20, 20] }, { cls: 1, score: 0.85, box: [40, 40, 10, 10] },
  { cls: 2, score: 0.6, box: [10, 10, 20, 20] }, { cls: 0, score: 0.3, box: [50, 10, 8, 8] }, { cls: 1, score: 0.2, box: [30, 30, 5, 5] },
];

test('ultralytics names metadata, letterbox geometry and NMS as ultralytics predicts', () => {
  assert.deepEqual(parseYoloNames(`{0: 'person', 1: "cat's toy", 2: 'traffic light'}`), ['person', "cat's toy", 'traffic light']);
  assert.throws(() => parseYoloNames('[person]'), (e) => e instanceof ConfigError && /dict/.test(e.message));
  assert.throws(() => parseYoloNames(`{1: 'a'}`), (e) => e instanceof ConfigError && /run 0, 1, 2/.test(e.message));

  // 20×12 into 64×64: r = 3.2, 64×38, dh = 13 → 13 rows of 114 above, 13 below.
  const t = letterbox(input, [64, 64]);
  assert.deepEqual(t.shape, [1, 3, 64, 64]);
  const at = (c: number, y: number, x: number) => t.data[c * 64 * 64 + y * 64 + x];
  assert.equal(at(0, 12, 5), Math.fround(114 / 255));
  assert.equal(at(0, 13, 5), 1);
  assert.equal(at(1, 13, 5), 0);
  assert.equal(at(0, 50, 5), 1);
  assert.equal(at(0, 51, 5), Math.fround(114 / 255));
  // A dynamic export (the original's .pt): imgsz 640, padded only to the stride: 640×384.
  assert.deepEqual(letterbox(input, [640, 640], { auto: true, stride: 32 }).shape, [1, 3, 384, 640]);

  const raw = new Float32Array(7 * ANCHORS.length).fill(0.01);
  ANCHORS.forEach((a, i) => {
    for (let r = 0; r < 4; r++) raw[r * ANCHORS.length + i] = a.box[r];
    raw[(4 + a.cls) * ANCHORS.length + i] = a.score;
  });
  const found = yoloDetections(raw, 3, ANCHORS.length);
  assert.deepEqual(found.map((d) => [d.cls, d.conf]), [[0, 0.9], [1, 0.85], [2, 0.6], [0, 0.3]].map(([c, p]) => [c, Math.fround(p)]));
  assert.deepEqual(found[0].box, [0, 0, 20, 20]);
  assert.equal(yoloDetections(raw, 3, ANCHORS.length, { ...YOLO_PREDICT, maxDet: 2 }).length, 2);
  assert.equal(yoloDetections(raw, 3, ANCHORS.length, { ...YOLO_PREDICT, iou: 0.99 }).length, 5, 'a looser IoU keeps the overlapping person');
});

test('detection, ultralytics YOLOv8 export: "{count} {name}, " by falling confidence', async () => {
  const yolo = writeYolo(join(dir, 'yolo'), ['person', 'dog', 'cat'], ANCHORS);
  assert.equal(await promptWith('detection', yolo), `old photo, 2 person, 1 dog, 1 cat${ADDED}`);
  assert.equal(await promptWith('detection', yolo, { prompt: '' }), `2 person, 1 dog, 1 cat${ADDED}`);
  // A dynamic-size export letterboxes to 640 padded to the stride, as the original's .pt model.
  const dynamic = writeYolo(join(dir, 'yolo-dynamic'), ['person', 'dog', 'cat'], ANCHORS, null);
  assert.equal(await promptWith('detection', dynamic), `old photo, 2 person, 1 dog, 1 cat${ADDED}`);
});

test('detection, transformers.js DETR folder: labels in query order, "no object" and low scores left out', async () => {
  // Queries: dog, person, no object, dog, an unsure person (softmax 0.58 < 0.9).
  const detr = writeDetr(join(dir, 'detr'), ['person', 'dog'], [[0, 10, 0], [10, 0, 0], [0, 0, 10], [0, 10, 0], [1, 0, 0.3]]);
  assert.equal(await promptWith('detection', detr), `old photo, 2 dog, 1 person${ADDED}`);
});

test('classification, transformers.js ViT folder: the top class when p ≥ 0.1', async () => {
  const vit = writeVitClassifier(join(dir, 'vit'), ['tomato', 'sky'], [4, 0, 0, 0, 0, 4], [0, 0]);
  assert.equal(await promptWith('classification', vit), `old photo, tomato${ADDED}`);
  // Eleven equal classes: p = 1/11 < 0.1, so only the user prompt (the original would drop it too).
  const flat = writeVitClassifier(join(dir, 'vit-flat'), Array.from({ length: 11 }, (_, i) => `c${i}`), new Array(33).fill(0), new Array(11).fill(0));
  assert.equal(await promptWith('classification', flat), `old photo${ADDED}`);
});

test('caption, transformers.js VisionEncoderDecoder folder: greedy caption, "blurry"→"clear", CoCa join', async () => {
  const cap = writeCaptioner(join(dir, 'captioner'), ['a', 'blurry', 'dog', 'on', 'noisy', 'grass']);
  assert.equal(await promptWith('caption', cap), `a clear dog on clean grass old photo${ADDED}`);
  assert.equal(await promptWith('caption', cap, { prompt: '' }), `a clear dog on clean grass${ADDED}`);
});

test('folders: missing, of no known layout, or missing a file fail locally and name the folder; nothing is fetched', async () => {
  await assert.rejects(loadPromptProvider('caption', join(dir, 'absent')), (e) => e instanceof ConfigError && /caption model folder .*absent does not exist; a captioner folder is/.test(e.message));
  await assert.rejects(loadPromptProvider('caption', join(dir, 'yolo')), (e) => e instanceof ConfigError && /neither config\.json/.test(e.message));
  const broken = writeCaptioner(join(dir, 'captioner-broken'), ['a', 'dog']);
  unlinkSync(join(broken, 'tokenizer.json'));
  await assert.rejects(loadPromptProvider('caption', broken, { threads: 1 }));
  assert.equal(env.allowRemoteModels, false);
  assert.deepEqual(fetched, []);
});
