/**
 * How the user prompt and a provider's description become the prompt (test_pasd.py
 * `get_validation_prompt` + `added_prompt`), and that `PasdPipeline.upscale` asks the provider
 * about the image as opened (grey when colorizing) and encodes the composed prompt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Image, makeImage } from '../../src/image/image.ts';
import { colorizationPrompt } from '../../src/pipelines/colorize.ts';
import { DEFAULT_ADDED_PROMPT } from '../../src/pipelines/options.ts';
import { buildPrompt } from '../../src/pipelines/pasd.ts';
import { CLASS_THRESHOLD, type Description, type PromptProvider, cleanCaption, detectionCounts, validationPrompt } from '../../src/prompts/provider.ts';
import { encodedPrompt, fixturePipeline } from './encoded-prompt.ts';

const cls = (label: string, probability = 0.9): Description => ({ kind: 'classification', label, probability });
const det = (...names: string[]): Description => ({ kind: 'detection', names });
const cap = (text: string, join: 'blip' | 'coca'): Description => ({ kind: 'caption', text, join });

test('none and classification: "{prompt}, {class}, " / "{class}, " / "{prompt}, " / ""; below p 0.1 the user prompt stays', () => {
  assert.equal(validationPrompt('a dog on grass', cls('tomato')), 'a dog on grass, tomato, ');
  assert.equal(validationPrompt('', cls('tomato')), 'tomato, ');
  assert.equal(validationPrompt('a dog on grass', null), 'a dog on grass, ');
  assert.equal(validationPrompt('', null), '');
  assert.equal(validationPrompt('', cls('tomato', CLASS_THRESHOLD)), 'tomato, ', 'p = 0.1 is kept (score >= 0.1)');
  // The original returns "" here (dropping the user prompt); ours keeps it (docs/DESIGN.md §4).
  assert.equal(validationPrompt('a dog on grass', cls('tomato', 0.09)), 'a dog on grass, ');
  assert.equal(validationPrompt('', cls('tomato', 0.09)), '');
});

test('detection: "{count} {name}, " per class name in first-seen order, after "{prompt}, "', () => {
  assert.equal(detectionCounts(['person', 'dog', 'person', 'cat', 'dog', 'person']), '3 person, 2 dog, 1 cat, ');
  assert.equal(validationPrompt('', det('person', 'dog', 'person')), '2 person, 1 dog, ');
  assert.equal(validationPrompt('a street', det('car', 'person', 'car')), 'a street, 2 car, 1 person, ');
  assert.equal(validationPrompt('a street', det()), 'a street, ', 'nothing detected: f"{prompt}, {\'\'}"');
  assert.equal(validationPrompt('', det()), '');
});

test('caption: "blurry"→"clear", "noisy"→"clean"; BLIP joins "{caption}, {prompt}", CoCa "{caption} {prompt}"; ours ends with ", "', () => {
  assert.equal(cleanCaption('a blurry photo of a noisy blurry street'), 'a clear photo of a clean clear street');
  assert.equal(validationPrompt('old film', cap('a blurry dog', 'blip')), 'a clear dog, old film, ');
  assert.equal(validationPrompt('old film', cap('a blurry dog', 'coca')), 'a clear dog old film, ');
  assert.equal(validationPrompt('', cap('a noisy cat', 'coca')), 'a clean cat, ');
  assert.equal(validationPrompt('', cap('', 'blip')), '');
});

test('buildPrompt appends the added prompt directly; colorization replaces "black and white" in the whole prompt', () => {
  assert.equal(buildPrompt('', DEFAULT_ADDED_PROMPT, cls('tomato')), 'tomato, clean, high-resolution, 8k');
  assert.equal(buildPrompt('old photo', DEFAULT_ADDED_PROMPT, cls('tomato')), 'old photo, tomato, clean, high-resolution, 8k');
  assert.equal(buildPrompt('old photo', DEFAULT_ADDED_PROMPT), 'old photo, clean, high-resolution, 8k');
  assert.equal(buildPrompt('', DEFAULT_ADDED_PROMPT), DEFAULT_ADDED_PROMPT);
  assert.equal(buildPrompt('', DEFAULT_ADDED_PROMPT, cap('a dog on grass', 'coca')), 'a dog on grass, clean, high-resolution, 8k');
  assert.equal(colorizationPrompt('a black and white photo', cls('black and white dog')), 'a color photo, color dog, ');
  assert.equal(colorizationPrompt('', cap('a black and white photo of a dog', 'blip')), 'a color photo of a dog, ');
  assert.equal(colorizationPrompt(''), '');
});

const pipe = fixturePipeline();
test.after(() => pipe.release());

class Spy implements PromptProvider {
  seen: Image[] = [];
  readonly kind: PromptProvider['kind'];
  constructor(private readonly answer: Description) {
    this.kind = answer.kind;
  }
  async describe(image: Image): Promise<Description> {
    this.seen.push(image);
    return this.answer;
  }
}

test('upscale: the provider sees the input as opened (grey when colorizing) and its description joins the prompt', async () => {
  const input = makeImage(20, 12, 3);
  for (let i = 0; i < input.data.length; i++) input.data[i] = (i * 37) % 256;

  const spy = new Spy(cls('tomato'));
  const reported: string[] = [];
  const o = { upscale: 2, processSize: 32, prompt: 'old photo' };
  assert.equal(await encodedPrompt(pipe, input, { ...o, promptProvider: spy, onPrompt: (p) => reported.push(p) }), 'old photo, tomato, clean, high-resolution, 8k');
  assert.deepEqual(reported, ['old photo, tomato, clean, high-resolution, 8k'], 'onPrompt reports the encoded prompt');
  assert.equal(spy.seen.length, 1);
  assert.equal(spy.seen[0], input);

  assert.equal(await encodedPrompt(pipe, input, { ...o, promptProvider: new Spy(cls('tomato', 0.05)) }), 'old photo, clean, high-resolution, 8k');
  assert.equal(await encodedPrompt(pipe, input, { ...o, promptProvider: new Spy(det('cat', 'dog', 'cat')) }), 'old photo, 2 cat, 1 dog, clean, high-resolution, 8k');
  assert.equal(await encodedPrompt(pipe, input, { ...o, promptProvider: new Spy(cap('a blurry cat', 'coca')) }), 'a clear cat old photo, clean, high-resolution, 8k');

  const grey = new Spy(cls('black and white tomato'));
  assert.equal(await encodedPrompt(pipe, input, { colorize: true, processSize: 32, prompt: 'a black and white photo', promptProvider: grey }), 'a color photo, color tomato, ');
  const [g] = grey.seen;
  assert.deepEqual([g.width, g.height, g.channels], [20, 12, 3]);
  for (let i = 0; i < 240; i++) assert.ok(g.data[3 * i] === g.data[3 * i + 1] && g.data[3 * i] === g.data[3 * i + 2], 'grey input');
});
