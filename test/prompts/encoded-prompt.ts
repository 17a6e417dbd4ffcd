/** The prompt that reaches the text encoder: `PasdPipeline.upscale` up to its `encodePrompt` call, on the fixtures' small models. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import type { Image } from '../../src/image/image.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

/** PASD-light with the fixtures' VAE, text encoder and tokenizer (release it after the tests). */
export function fixturePipeline(): PasdPipeline {
  return PasdPipeline.fromFolders({
    unet: modelDir('pasd_light_unet'), controlnet: modelDir('pasd_light_controlnet'), vae: modelDir('vae'),
    textEncoder: modelDir('text_encoder'), tokenizer: resolve(FIXTURES, 'tokenizer'),
  }, { threads: 1, cache: false });
}

/** The prompt `upscale` would encode: encodePrompt is stubbed to record it and stop the run. */
export async function encodedPrompt(pipe: PasdPipeline, input: Image, options: Parameters<PasdPipeline['upscale']>[1]): Promise<string> {
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
