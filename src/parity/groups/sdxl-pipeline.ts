/**
 * `sdxl_pipeline_*` (fixtures README, "sdxl"): test_pasd_sdxl.py's realisr path through our
 * PasdPipeline with the SDXL family: preprocessing (×upscale, process size, multiples of 8),
 * both text encoders and the time ids, the Euler schedule of the manifest's
 * `scheduler_config`, the original's pure-noise start, then every step teacher-forced from the
 * recorded input latents (the bounds of ./pipeline.ts: `per_step_tolerance_teacher_forced`,
 * else 10× the float32 floor), the decode of the recorded final latents and the colour fix.
 */
import { ConfigError } from '../../core/errors.ts';
import { colorFix } from '../../image/colorfix.ts';
import { fromTensor, toTensor } from '../../image/image.ts';
import { traceVaeDecode } from '../../models/autoencoders/autoencoder-kl.ts';
import type { SdxlComponents, SdxlPaths } from '../../pipelines/families/sdxl/load.ts';
import { DEFAULTS } from '../../pipelines/options.ts';
import { type DenoiseSettings, PasdPipeline, networkInput } from '../../pipelines/pasd.ts';
import { createScheduler } from '../../schedulers/index.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { runGraph, settle, theModel } from './load.ts';
import { StoredDraws, callOrder, concat, entry, hwc, setting, settingsOf, stepBounds, u8Image } from './pipeline.ts';

function sdxlPipelineOf(ctx: CaseContext): PasdPipeline {
  const folders = ctx.meta.tokenizer_folders;
  if (!Array.isArray(folders) || folders.length !== 2) throw new ConfigError(`${ctx.meta.name}: needs two "tokenizer_folders"`);
  const paths: SdxlPaths = {
    unet: theModel(ctx, 'UNet2DConditionModel').dir, controlnet: theModel(ctx, 'ControlNetModel').dir, vae: theModel(ctx, 'AutoencoderKL').dir,
    textEncoder: theModel(ctx, 'CLIPTextModel').dir, textEncoder2: theModel(ctx, 'CLIPTextModelWithProjection').dir,
    tokenizer: ctx.fixtures.path(folders[0] as string), tokenizer2: ctx.fixtures.path(folders[1] as string),
  };
  return PasdPipeline.fromFolders(paths, { ...ctx.runtime, cache: false, warn: () => {} });
}

export const sdxlPipeline: GroupHandler = async (ctx) => {
  const st = settingsOf(ctx);
  const pipe = sdxlPipelineOf(ctx);
  try {
    return await run(ctx, pipe, st);
  } finally {
    await pipe.release();
  }
};

async function run(ctx: CaseContext, pipe: PasdPipeline, st: Readonly<Record<string, unknown>>): Promise<CaseOutputs> {
  const out: CaseOutputs = new Map();
  const lr = u8Image(ctx, 'input.lr_image_u8');
  const { image } = networkInput(lr, { upscale: setting(ctx, st, 'upscale', 'number'), processSize: setting(ctx, st, 'process_size', 'number'), colorize: false, multiple: pipe.factor });
  out.set('output.pipeline_input_u8', hwc(image));
  const s: DenoiseSettings = {
    ...DEFAULTS, ...pipe.family.defaults,
    steps: setting(ctx, st, 'num_inference_steps', 'number'), guidanceScale: setting(ctx, st, 'guidance_scale', 'number'),
    conditioningScale: setting(ctx, st, 'controlnet_conditioning_scale', 'number'),
    latentTileSize: setting(ctx, st, 'latent_tiled_size', 'number'), latentTileOverlap: setting(ctx, st, 'latent_tiled_overlap', 'number'),
  };

  const sched = createScheduler('EulerDiscreteScheduler', st.scheduler_config as Record<string, unknown>, () => {});
  sched.setTimesteps(s.steps);
  out.set('output.timesteps', sched.timesteps);
  out.set('output.sigmas', (sched as unknown as { sigmas: Float64Array }).sigmas);
  out.set('output.init_noise_sigma', [sched.initNoiseSigma]);

  const cfg = s.guidanceScale > 1;
  const text = await pipe.encodePrompt(setting(ctx, st, 'prompt', 'string'), setting(ctx, st, 'negative_prompt', 'string'), cfg);
  const added = pipe.denoiserFeeds(text, image.height, image.width);
  out.set('output.text_input_ids_1', callOrder(text.ids, cfg));
  // The second tokenizer's ids in call order (the embeddings above already went through it).
  const tok2 = (pipe.components as SdxlComponents).tokenizer2;
  out.set('output.text_input_ids_2', tok2.call([setting(ctx, st, 'prompt', 'string'), setting(ctx, st, 'negative_prompt', 'string')]).inputIds);
  out.set('output.prompt_embeds', text.embeds.data as Float32Array);
  out.set('output.add_text_embeds', added.text_embeds.data as Float32Array);
  out.set('output.add_time_ids', added.time_ids.data as Float32Array);

  const steps = ['output.latents_per_step_input', 'output.unet_output_per_step', 'output.noise_pred_per_step', 'output.latents_per_step_output'];
  await settle(out, steps, async () => {
    const tensor = toTensor(image);
    const draws = StoredDraws.of(ctx);
    const { latents: prepared, shape } = await pipe.prepareLatents(tensor.data, tensor.shape, sched, sched.timesteps[0], s, draws);
    const control = cfg ? concat([tensor.data, tensor.data]) : tensor.data;
    const recorded = ctx.f32('output.latents_per_step_input');
    const n = prepared.length;
    const raw: Float32Array[] = [], preds: Float32Array[] = [], outs: Float32Array[] = [];
    for (const [i, t] of sched.timesteps.entries()) {
      const x = recorded.slice(i * n, (i + 1) * n);
      const both = concat(cfg ? [x, x] : [x]);
      raw.push(await pipe.denoiser.run({ latents: sched.scaleModelInput(both, t), shape: [cfg ? 2 : 1, shape[1], shape[2], shape[3]], timestep: t, embeds: text.embeds, image: control, conditioningScale: s.conditioningScale, added }));
      const noise = await pipe.predictNoise(x, shape, t, sched, text.embeds, control, s, { added });
      preds.push(noise);
      outs.push(sched.step(noise, t, x, { generator: draws }).prevSample);
    }
    if (draws.left) throw new ConfigError(`${ctx.meta.name}: ${draws.left} stored noise draws left unused`);
    const b = stepBounds(ctx, s.steps);
    const step0 = b.noise && { value: b.noise[0], kind: 'noise_pred step-0 bound' };
    out.set('output.noise_pred_per_step', { data: concat(preds), tolerance: b.noise && { value: b.noise, kind: 'per_step_tolerance_teacher_forced' } });
    out.set('output.unet_output_per_step', { data: concat(raw), tolerance: b.noise && { value: b.noise, kind: 'noise_pred per_step_tolerance_teacher_forced' } });
    out.set('output.latents_per_step_output', { data: concat(outs), tolerance: b.latents });
    const inputBounds = step0 && b.latents ? { value: [step0.value, ...b.latents.value.slice(0, -1)], kind: 'teacher-forced step bounds' } : undefined;
    out.set('output.latents_per_step_input', { data: concat([prepared, ...outs.slice(0, -1)]), tolerance: inputBounds });
  });

  const images = ['output.decoded', 'output.image', 'output.image_u8', 'output.image_wavelet_color_fix_u8'];
  await settle(out, images, async () => {
    const f = pipe.factor, shape = [1, 4, image.height / f, image.width / f];
    const n = shape.reduce((a, v) => a * v, 1);
    const final = ctx.f32('output.latents_per_step_output').slice((s.steps - 1) * n, s.steps * n);
    const bound = (name: string) => {
      const v = entry(ctx, name)?.tolerance_given_final_latents;
      return typeof v === 'number' ? { value: v, kind: 'tolerance_given_final_latents' } : undefined;
    };
    const sf = pipe.vae.scalingFactor;
    const latent = { dtype: 'float32' as const, shape, data: final.map((v) => v / sf) };
    const decoded = await runGraph(traceVaeDecode(pipe.components.vae, { batch: 1, height: shape[2], width: shape[3] }), { latent }, ctx.runtime);
    out.set('output.decoded', { data: decoded.image.data as Float32Array, tolerance: bound('output.decoded') });
    const img = await pipe.vae.decode(final, shape);
    out.set('output.image', { data: img.image, shape: img.shape, tolerance: bound('output.image') });
    const u8 = fromTensor({ data: img.image, shape: [1, 3, image.height, image.width] }, 'round');
    out.set('output.image_u8', hwc(u8));
    out.set('output.image_wavelet_color_fix_u8', hwc(colorFix('wavelet', u8, image)));
  });
  return out;
}
