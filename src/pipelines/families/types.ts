/**
 * The model-family seam: what differs between Stable Diffusion generations under PASD, so the
 * pipeline (../pasd.ts) runs any of them. A family turns a checkpoint + base folder into
 * components, prompts into text conditioning, adds its own inputs to the denoising graph,
 * and states the original's defaults and latent start for it. Families are chosen from the
 * checkpoint's UNet config (./index.ts), never by a name flag; adding one is a new folder here
 * plus one entry in ./index.ts.
 */
import type { UNetConfig } from '../../config/unet.ts';
import type { CompileOptions } from '../../engine/compile.ts';
import type { Graph } from '../../ir/graph.ts';
import type { TextTimeConditions } from '../../nn/embeddings.ts';
import type { HostTensor } from '../../runtime/session.ts';
import type { ComponentPaths, LoadOptions, PasdComponents } from '../load.ts';
import type { UpscaleOptions } from '../pasd.ts';

/** A prompt pair encoded for the denoiser. */
export interface PromptConditioning {
  /** The first tokenizer's ids, rows as `embeds` (SD1.5 and SDXL encode the negative prompt's row). */
  ids: BigInt64Array;
  /** encoder_hidden_states [B, 77, D]: rows [negative, positive] with CFG, else [positive]. */
  embeds: HostTensor;
  /** The family's extra denoiser feeds that come from the text (SDXL: `text_embeds`), same rows. */
  added?: Readonly<Record<string, HostTensor>>;
}

export interface TextConditioner {
  /** encode_prompt: [negative, positive] rows when `cfg`, else [positive]. */
  condition(prompt: string, negative: string, cfg: boolean): Promise<PromptConditioning>;
  release(): Promise<void>;
}

/** The family's inputs of the denoising graph beyond sample, timestep, context, control image and scale. */
export interface DenoiserConditioning {
  /** How the timestep is fed (SDXL's Euler passes float32 timesteps). */
  readonly timestepDtype: 'int64' | 'float32';
  /** Declares the extra graph inputs for batch `batch`; returns what ControlNet and UNet take. */
  inputs(g: Graph, batch: number): TextTimeConditions;
  /** The feeds that depend on the image rather than the text (SDXL: `time_ids`), for `batch` rows. */
  imageFeeds(height: number, width: number, batch: number): Readonly<Record<string, HostTensor>>;
}

export interface ModelFamily {
  readonly name: string;
  /** Whether a checkpoint whose UNet config is `unet` belongs to this family. */
  matches(unet: UNetConfig): boolean;
  /** Component folders of a PASD checkpoint folder + a base model folder (missing ones reported together). */
  componentPaths(model: string, base: string): ComponentPaths;
  load(paths: ComponentPaths, options: LoadOptions): PasdComponents;
  textConditioner(c: PasdComponents, options: CompileOptions): TextConditioner;
  /** null: the SD1.5 denoising graph as it is. */
  denoiserConditioning(c: PasdComponents): DenoiserConditioning | null;
  /** The original's options for this family (its test script's defaults); explicit options override them. */
  readonly defaults: Partial<UpscaleOptions>;
  /** SD1.5 PASD draws a 4-value offset noise (scaled by 0) after the initial noise; PASD-SDXL does not. */
  readonly offsetNoiseDraw: boolean;
  /**
   * Starting from the LR image (initLatentWithNoise false): 'pasd' = pipeline_pasd.py's (noise at the
   * first timestep, then at added_noise_level, × init_noise_sigma); 'first-step' = the LR latents
   * noised to the first timestep only (diffusers img2img at strength 1), for PASD-SDXL, whose
   * original has no LR start and whose Euler schedule cannot add noise at a timestep outside it.
   */
  readonly lrStart: 'pasd' | 'first-step';
}
