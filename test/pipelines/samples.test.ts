/**
 * `samples`: N whole denoising runs, the random stream continuing from one to the next, their
 * decoded images averaged before the colour fix; the prompt and VAE encodings are made once.
 * Checked against two explicit runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import { fromTensor, makeImage } from '../../src/image/image.ts';
import { DEFAULTS } from '../../src/pipelines/options.ts';
import { PasdPipeline, buildPrompt, networkInput, type DenoiseSettings } from '../../src/pipelines/pasd.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

const tinyPipeline = () => PasdPipeline.fromFolders({
  unet: modelDir('pasd_unet'), controlnet: modelDir('pasd_controlnet'), vae: modelDir('vae'),
  textEncoder: modelDir('text_encoder'), tokenizer: join(FIXTURES, 'tokenizer'),
}, { threads: 1 });

test('samples: 2 averages two successive runs of one random stream', async () => {
  const pipe = tinyPipeline();
  try {
    const input = makeImage(12, 8, 3, Uint8Array.from({ length: 288 }, (_, i) => (i * 53) % 256));
    const o = { upscale: 2, processSize: 16, steps: 2, guidanceScale: 1, colorFix: 'none' as const };
    const calls = { vae: 0, text: 0 };
    const [vaeEncode, textEncode] = [pipe.vae.encode.bind(pipe.vae), pipe.text.condition.bind(pipe.text)];
    pipe.vae.encode = (...a) => { calls.vae++; return vaeEncode(...a); };
    pipe.text.condition = (...a) => { calls.text++; return textEncode(...a); };
    const got = await pipe.upscale(input, { ...o, samples: 2, seed: 4 });
    assert.deepEqual(calls, { vae: 1, text: 1 }, 'the samples share one prompt encoding and one VAE encoding');
    const { image } = networkInput(input, { ...o, colorize: false, multiple: pipe.factor });
    const s: DenoiseSettings = { ...DEFAULTS, ...o };
    const random = new Random(4);
    const run = () => pipe.run(image, buildPrompt('', DEFAULTS.addedPrompt), DEFAULTS.negativePrompt, s, { random });
    const [a, b] = [await run(), await run()];
    assert.ok(a.some((v, i) => v !== b[i]), 'the second run draws new noise');
    const want = fromTensor({ data: a.map((v, i) => (v + b[i]) / 2), shape: [1, 3, image.height, image.width] }, 'round');
    assert.deepEqual([got.width, got.height], [want.width, want.height]);
    assert.deepEqual(got.data, want.data);
    await assert.rejects(pipe.upscale(input, { ...o, samples: 0 }), InputError);
  } finally {
    await pipe.release();
  }
});

test('samples: one progress sequence over all samples (steps counted across them, one encode, one decode)', async () => {
  const pipe = tinyPipeline();
  try {
    const seen: string[] = [];
    await pipe.upscale(makeImage(12, 8, 3), {
      upscale: 2, processSize: 16, steps: 2, guidanceScale: 1, samples: 3,
      onProgress: (p) => seen.push(`${p.phase} ${p.step}/${p.steps}`),
    });
    assert.deepEqual(seen, ['encode 0/6', 'denoise 1/6', 'denoise 2/6', 'denoise 3/6', 'denoise 4/6', 'denoise 5/6', 'denoise 6/6', 'decode 6/6', 'done 6/6']);
  } finally {
    await pipe.release();
  }
});
