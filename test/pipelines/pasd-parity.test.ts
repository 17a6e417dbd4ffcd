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
import type { RandomSource } from '../../src/core/random.ts';
import { colorFix } from '../../src/image/colorfix.ts';
import { fromTensor, makeImage, toTensor } from '../../src/image/image.ts';
import { PasdPipeline, type DenoiseSettings } from '../../src/pipelines/pasd.ts';
import { assertClose, casesOf, fixtureCase, FIXTURES, modelDir } from '../parity/fixtures.ts';

class Replay implements RandomSource {
  private i = 0;
  constructor(private readonly draws: Float32Array[]) {}
  randn(n: number): Float32Array {
    const d = this.draws[this.i++];
    assert.ok(d && d.length === n, `draw ${this.i - 1}: expected ${n} values`);
    return d;
  }
  uniform(): number { throw new Error('no uniform draws in the pipeline'); }
  randint(): number { throw new Error('no integer draws in the pipeline'); }
}

const pipe = PasdPipeline.fromFolders({
  unet: modelDir('pasd_unet'), controlnet: modelDir('pasd_controlnet'), vae: modelDir('vae'),
  textEncoder: modelDir('text_encoder'), tokenizer: resolve(FIXTURES, 'tokenizer'),
}, { threads: 2, cache: false });

for (const c of casesOf('pipeline').filter((c) => c.models?.includes('pasd_unet') && c.settings && !(c.name.includes('vae')))) {
  test(`PASD pipeline step by step: ${c.name}`, async (t) => {
    const fx = fixtureCase(c.name);
    const st = c.settings as Record<string, number | string | boolean>;
    const f = (k: string) => fx.file.readF32(k);
    const meta = (k: string) => fx.meta.tensors.find((x) => x.name === k)!;
    const s: DenoiseSettings = {
      steps: st.num_inference_steps as number, guidanceScale: st.guidance_scale as number, conditioningScale: st.conditioning_scale as number,
      addedNoiseLevel: st.added_noise_level as number, initLatentWithNoise: st.init_latent_with_noise as boolean,
      latentTileSize: st.latent_tiled_size as number, latentTileOverlap: st.latent_tiled_overlap as number,
    };
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

    const [H, W] = meta('input.lr_image_u8').shape;
    const lr = makeImage(W, H, 3, Uint8Array.from(f('input.lr_image_u8')));
    const image = toTensor(lr);
    const random = new Replay([f('input.vae_posterior_noise'), f('input.noise'), f('input.added_noise')]);
    const { latents, shape } = await pipe.prepareLatents(image.data, image.shape, sched, s, random);
    const inputs = f('output.latents_per_step_input');
    const n = latents.length;
    const tf = meta('output.noise_pred_per_step').per_step_tolerance_teacher_forced as number[];
    assertClose(latents, inputs.subarray(0, n), tf[0], 'prepared latents');

    const control = new Float32Array(2 * image.data.length);
    control.set(image.data);
    control.set(image.data, image.data.length);
    const preds = f('output.noise_pred_per_step');
    const outs = f('output.latents_per_step_output');
    const outFloor = meta('output.latents_per_step_output').per_step_f32_vs_f64_teacher_forced as number[];
    const tileIn = fx.file.tensors.has('output.tile_unet_inputs_step0') ? f('output.tile_unet_inputs_step0') : null;
    const tileOut = tileIn ? f('output.tile_unet_outputs_step0') : null;
    let tileIdx = 0;
    for (const [i, ts] of sched.timesteps.entries()) {
      const x = inputs.slice(i * n, (i + 1) * n);
      const hook = i === 0 && tileIn ? (_t: unknown, input: Float32Array, out: Float32Array) => {
        const m = input.length;
        assertClose(input, tileIn.subarray(tileIdx * m, (tileIdx + 1) * m), tf[0], `tile ${tileIdx} UNet input`);
        assertClose(out, tileOut!.subarray(tileIdx * m, (tileIdx + 1) * m), tf[0], `tile ${tileIdx} UNet output`);
        tileIdx++;
      } : undefined;
      const noise = await predict(pipe, x, shape, ts, sched, embeds, control, s, hook);
      const dn = assertClose(noise, preds.subarray(i * n, (i + 1) * n), tf[i], `step ${i} noise_pred`);
      const y = sched.step(noise, ts, x).prevSample;
      const dl = assertClose(y, outs.subarray(i * n, (i + 1) * n), Math.max(10 * outFloor[i], 1e-5), `step ${i} latents`);
      t.diagnostic(`step ${i}: noise_pred ${dn.toExponential(2)} (tol ${tf[i]}), latents ${dl.toExponential(2)}`);
    }
    if (tileIn) assert.equal(tileIdx, meta('output.tile_unet_inputs_step0').shape[0], 'every tile visited');

    const final = outs.slice((s.steps - 1) * n, s.steps * n);
    const { image: decoded } = await pipe.vae.decode(final, shape);
    const di = assertClose(decoded, f('output.image'), meta('output.image').tolerance_given_final_latents as number, 'image from final latents');
    t.diagnostic(`image: ${di.toExponential(2)}`);
    const u8 = fromTensor({ data: f('output.image'), shape: [1, 3, H, W] }, 'round');
    assertClose(Float32Array.from(u8.data), f('output.image_u8'), 0, 'image_u8 (round)');
    const fixed = colorFix('wavelet', u8, lr);
    assertClose(Float32Array.from(fixed.data), f('output.image_wavelet_color_fix_u8'), 1, 'wavelet colour fix');
  });
}

/** predictNoise with an optional per-tile hook (tiled case). */
async function predict(p: PasdPipeline, x: Float32Array, shape: [number, number, number, number], t: number, sched: ReturnType<PasdPipeline['scheduler']>,
  embeds: Awaited<ReturnType<PasdPipeline['encodePrompt']>>['embeds'], control: Float32Array, s: DenoiseSettings, hook?: (t: unknown, i: Float32Array, o: Float32Array) => void) {
  if (!hook) return p.predictNoise(x, shape, t, sched, embeds, control, s);
  const n = x.length;
  const input = new Float32Array(2 * n);
  input.set(x);
  input.set(x, n);
  const out = await p.denoiser.runTiled({ latents: sched.scaleModelInput(input, t), shape: [2, shape[1], shape[2], shape[3]], timestep: t, embeds, image: control, conditioningScale: s.conditioningScale },
    { tileSize: s.latentTileSize, overlap: s.latentTileOverlap }, hook);
  return out.subarray(0, n).map((u, i) => u + s.guidanceScale * (out[n + i] - u));
}

test.after(() => pipe.release());
