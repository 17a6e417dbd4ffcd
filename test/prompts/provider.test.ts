/**
 * How the user prompt and a provider's description become the prompt (test_pasd.py
 * `get_validation_prompt` + `added_prompt`), and that `PasdPipeline.upscale` asks the provider
 * about the image as opened (grey when colorizing) and encodes the composed prompt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { type Image, makeImage } from '../../src/image/image.ts';
import { colorizationPrompt } from '../../src/pipelines/colorize.ts';
import { DEFAULT_ADDED_PROMPT } from '../../src/pipelines/options.ts';
import { PasdPipeline, buildPrompt } from '../../src/pipelines/pasd.ts';
import { type PromptProvider, promptSubject, validationPrompt } from '../../src/prompts/provider.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

test('validation prompt: "{prompt}, {class}, " / "{class}, " / "{prompt}, " / ""', () => {
  assert.equal(validationPrompt('a dog on grass', 'tomato'), 'a dog on grass, tomato, ');
  assert.equal(validationPrompt('', 'tomato'), 'tomato, ');
  assert.equal(validationPrompt('a dog on grass', null), 'a dog on grass, ');
  assert.equal(validationPrompt('', null), '');
  assert.equal(validationPrompt('', ''), '', 'an empty description counts as none');
  assert.equal(promptSubject('x', 'y'), 'x, y');
});

test('buildPrompt appends the added prompt directly; colorization replaces "black and white" in the whole prompt', () => {
  assert.equal(buildPrompt('', DEFAULT_ADDED_PROMPT, 'tomato'), 'tomato, clean, high-resolution, 8k');
  assert.equal(buildPrompt('old photo', DEFAULT_ADDED_PROMPT, 'tomato'), 'old photo, tomato, clean, high-resolution, 8k');
  assert.equal(buildPrompt('old photo', DEFAULT_ADDED_PROMPT), 'old photo, clean, high-resolution, 8k');
  assert.equal(buildPrompt('', DEFAULT_ADDED_PROMPT), DEFAULT_ADDED_PROMPT);
  assert.equal(colorizationPrompt(promptSubject('a black and white photo', 'black and white dog')), 'a color photo, color dog, ');
  assert.equal(colorizationPrompt(promptSubject('', null)), '');
});

const pipe = PasdPipeline.fromFolders({
  unet: modelDir('pasd_light_unet'), controlnet: modelDir('pasd_light_controlnet'), vae: modelDir('vae'),
  textEncoder: modelDir('text_encoder'), tokenizer: resolve(FIXTURES, 'tokenizer'),
}, { threads: 1, cache: false });
test.after(() => pipe.release());

class Spy implements PromptProvider {
  seen: Image[] = [];
  constructor(private readonly answer: string | null) {}
  async describe(image: Image): Promise<string | null> {
    this.seen.push(image);
    return this.answer;
  }
}

/** The prompt `upscale` would encode: encodePrompt is stubbed to record it and stop the run. */
async function encodedPrompt(input: Image, options: Parameters<PasdPipeline['upscale']>[1]): Promise<string> {
  let prompt = '';
  const stop = new Error('stop after the prompt');
  const original = pipe.encodePrompt;
  pipe.encodePrompt = async (p: string) => {
    prompt = p;
    throw stop;
  };
  try {
    await assert.rejects(pipe.upscale(input, options), (e) => e === stop);
  } finally {
    pipe.encodePrompt = original;
  }
  return prompt;
}

test('upscale: the provider sees the input as opened (grey when colorizing) and its description joins the prompt', async () => {
  const input = makeImage(20, 12, 3);
  for (let i = 0; i < input.data.length; i++) input.data[i] = (i * 37) % 256;

  const spy = new Spy('tomato');
  assert.equal(await encodedPrompt(input, { upscale: 2, processSize: 32, prompt: 'old photo', promptProvider: spy }), 'old photo, tomato, clean, high-resolution, 8k');
  assert.equal(spy.seen.length, 1);
  assert.equal(spy.seen[0], input);

  assert.equal(await encodedPrompt(input, { upscale: 2, processSize: 32, prompt: 'old photo', promptProvider: new Spy(null) }), 'old photo, clean, high-resolution, 8k');

  const grey = new Spy('black and white tomato');
  assert.equal(await encodedPrompt(input, { colorize: true, processSize: 32, prompt: 'a black and white photo', promptProvider: grey }), 'a color photo, color tomato, ');
  const [g] = grey.seen;
  assert.deepEqual([g.width, g.height, g.channels], [20, 12, 3]);
  for (let i = 0; i < 240; i++) assert.ok(g.data[3 * i] === g.data[3 * i + 1] && g.data[3 * i] === g.data[3 * i + 2], 'grey input');
});
