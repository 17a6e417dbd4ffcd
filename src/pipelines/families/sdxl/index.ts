/**
 * PASD-SDXL (`pipeline_pasd_sdxl.py`, `test_pasd_sdxl.py`): two text encoders, the
 * "text_time" added conditions (pooled text embedding + time ids of the control image's
 * size) as extra inputs of the denoising graph, float timesteps (Euler), and the original's
 * start from pure noise (`initLatentWithNoise`; `sdxlInit: 'lr'` starts from the LR image
 * like SD1.5 PASD instead, see DESIGN.md "Where the original is wrong").
 */
import type { HostTensor } from '../../../runtime/session.ts';
import { ConfigError } from '../../../core/errors.ts';
import { Tensor } from '../../../ops/tensor.ts';
import type { PasdComponents } from '../../load.ts';
import type { DenoiserConditioning, ModelFamily, PromptConditioning, TextConditioner } from '../types.ts';
import { type SdxlComponents, loadSdxlComponents, sdxlComponentPaths } from './load.ts';
import { SdxlTextStage, sdxlTimeIds } from './text.ts';

/** test_pasd_sdxl.py's defaults. */
export const SDXL_DEFAULTS = Object.freeze({
  upscale: 2, processSize: 1280, steps: 25, guidanceScale: 7, conditioningScale: 0.8, scheduler: 'euler' as const,
  addedPrompt: 'photorealistic, clean, high-resolution, 8k',
  negativePrompt: 'blurry, dirty, messy, frames, deformed, dotted, noise, raster lines, unclear, lowres, over-smoothed, painting, ai generated',
  latentTileSize: 180, latentTileOverlap: 8, initLatentWithNoise: true,
});

function sdxlParts(c: PasdComponents): SdxlComponents {
  const x = c as Partial<SdxlComponents>;
  if (!x.textEncoder2 || !x.tokenizer2) throw new ConfigError('an SDXL UNet needs SDXL components (text_encoder_2, tokenizer_2); load them with the SDXL family');
  return c as SdxlComponents;
}

class SdxlConditioner implements TextConditioner {
  constructor(readonly stage: SdxlTextStage) {}
  async condition(prompt: string, negative: string, cfg: boolean): Promise<PromptConditioning> {
    const r = await this.stage.encodePrompt(prompt, negative, cfg);
    return { ids: r.ids[0], embeds: r.embeds, added: { text_embeds: r.textEmbeds } };
  }
  release(): Promise<void> {
    return this.stage.release();
  }
}

function denoiserConditioning(c: PasdComponents): DenoiserConditioning {
  const a = c.unet.config.addition;
  if (!a) throw new ConfigError('the SDXL family needs a UNet with addition_embed_type "text_time"');
  const pooled = a.projectionInputDim - 6 * a.timeEmbedDim;
  return {
    timestepDtype: 'float32',
    inputs: (g, b) => ({
      textEmbeds: new Tensor(g, g.addInput('text_embeds', { dtype: 'float32', shape: [b, pooled] })),
      timeIds: new Tensor(g, g.addInput('time_ids', { dtype: 'float32', shape: [b, 6] })),
    }),
    // original_size = target_size = the control image's size (after all resizing), no crop.
    imageFeeds: (h, w, b): Record<string, HostTensor> => ({ time_ids: sdxlTimeIds(h, w, b) }),
  };
}

export const sdxl: ModelFamily = {
  name: 'sdxl',
  matches: (unet) => unet.addition !== null,
  componentPaths: sdxlComponentPaths,
  load: loadSdxlComponents,
  textConditioner: (c, options) => {
    const x = sdxlParts(c);
    return new SdxlConditioner(new SdxlTextStage([x.textEncoder, x.textEncoder2], [x.tokenizer, x.tokenizer2], options));
  },
  denoiserConditioning,
  defaults: SDXL_DEFAULTS,
  lrStart: 'first-step',
  offsetNoiseDraw: false,
};
