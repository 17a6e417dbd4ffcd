/**
 * The tiny PASD pipeline against the original (fixture group `pipeline`, untiled and tiled):
 * prompt ids/embeddings, timesteps, prepared latents from the explicit noises, then step by
 * step from the recorded latents (teacher forcing, as the fixture README prescribes) the
 * guided noise prediction and the UniPC step output, the decode of the final latents, the
 * uint8 image and its wavelet colour fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { colorFix } from '../../src/image/colorfix.ts';
import { fromTensor, makeImage, toTensor } from '../../src/image/image.ts';
import { PasdPipeline } from '../../src/pipelines/pasd.ts';
import { assertClose, casesOf, fixtureCase, FIXTURES, modelDir } from '../parity/fixtures.ts';
import { type Predict, checkTeacherForced, denoiseSettings, tensorMeta } from './teacher-forcing.ts';

const pipe = PasdPipeline.fromFolders({
  unet: modelDir('pasd_unet'), controlnet: modelDir('pasd_controlnet'), vae: modelDir('vae'),
  textEncoder: modelDir('text_encoder'), tokenizer: resolve(FIXTURES, 'tokenizer'),
}, { threads: 2, cache: false });

test('a PASD UNet is detected as such', () => assert.equal(pipe.components.light, false));

for (const c of casesOf('pipeline').filter((c) => c.models?.includes('pasd_unet') && c.settings && !(c.name.includes('vae')))) {
  test(`PASD pipeline step by step: ${c.name}`, async (t) => {
    const fx = fixtureCase(c.name);
    const st = c.settings as Record<string, number | string | boolean>;
    const f = (k: string) => fx.file.readF32(k);
    const s = denoiseSettings(st);
    // Prompts: ids exact, embeddings within 2e-5 (the manifest gives none here; the CLIP
    // text case's float32 floor is 1.4e-6). The batch is [negative, positive]; the
    // fixture stores them in call order (positive first).
    const { ids, embeds } = await pipe.encodePrompt(st.prompt as string, st.negative_prompt as string, true);
    const swap = <T extends { length: number; subarray(a: number, b: number): T }>(a: T): T[] => [a.subarray(a.length / 2, a.length), a.subarray(0, a.length / 2)];
    assert.deepEqual(swap(ids).flatMap((r) => [...r].map(Number)), [...fx.file.read('output.text_input_ids') as BigInt64Array].map(Number));
    const want = f('output.prompt_embeds');
    const [pos, neg] = swap(embeds.data as Float32Array);
    assertClose(pos, want.subarray(0, want.length / 2), 2e-5, 'prompt_embeds (prompt)');
    assertClose(neg, want.subarray(want.length / 2), 2e-5, 'prompt_embeds (negative)');

    const sched = pipe.scheduler('unipc');
    sched.setTimesteps(s.steps);
    assert.deepEqual([...sched.timesteps], [...fx.file.read('output.timesteps') as BigInt64Array].map(Number));

    const [H, W] = tensorMeta(fx, 'input.lr_image_u8').shape;
    const lr = makeImage(W, H, 3, Uint8Array.from(f('input.lr_image_u8')));
    const image = toTensor(lr);

    // Tiled case: step 0 also checks each tile's raw UNet input and output.
    const tileIn = fx.file.tensors.has('output.tile_unet_inputs_step0') ? f('output.tile_unet_inputs_step0') : null;
    const tileOut = tileIn ? f('output.tile_unet_outputs_step0') : null;
    const tol0 = (tensorMeta(fx, 'output.noise_pred_per_step').per_step_tolerance_teacher_forced as number[])[0];
    let tileIdx = 0;
    const control = new Float32Array(2 * image.data.length);
    control.set(image.data);
    control.set(image.data, image.data.length);
    const [, , H8, W8] = image.shape;
    const predict: Predict | undefined = tileIn ? async (x, ts, i) => {
      const n = x.length;
      const input = new Float32Array(2 * n);
      input.set(x);
      input.set(x, n);
      const hook = i === 0 ? (_t: unknown, tin: Float32Array, tout: Float32Array) => {
        const m = tin.length;
        assertClose(tin, tileIn.subarray(tileIdx * m, (tileIdx + 1) * m), tol0, `tile ${tileIdx} UNet input`);
        assertClose(tout, tileOut!.subarray(tileIdx * m, (tileIdx + 1) * m), tol0, `tile ${tileIdx} UNet output`);
        tileIdx++;
      } : undefined;
      const out = await pipe.denoiser.runTiled(
        { latents: sched.scaleModelInput(input, ts), shape: [2, 4, H8 / 8, W8 / 8], timestep: ts, embeds, image: control, conditioningScale: s.conditioningScale },
        { tileSize: s.latentTileSize, overlap: s.latentTileOverlap }, hook);
      return out.subarray(0, n).map((u, k) => u + s.guidanceScale * (out[n + k] - u));
    } : undefined;
    await checkTeacherForced(t, fx, { pipe, sched, s, image, embeds, predict });
    if (tileIn) assert.equal(tileIdx, tensorMeta(fx, 'output.tile_unet_inputs_step0').shape[0], 'every tile visited');

    const u8 = fromTensor({ data: f('output.image'), shape: [1, 3, H, W] }, 'round');
    assertClose(Float32Array.from(u8.data), f('output.image_u8'), 0, 'image_u8 (round)');
    const fixed = colorFix('wavelet', u8, lr);
    assertClose(Float32Array.from(fixed.data), f('output.image_wavelet_color_fix_u8'), 1, 'wavelet colour fix');
  });
}

test.after(() => pipe.release());
