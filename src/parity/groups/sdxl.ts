/**
 * `sdxl` group (fixtures README, "sdxl"): PASD-SDXL. `sdxl_text` checks both tokenizers (the
 * second pads with `!`), both encoders' `hidden_states[-2]`, the second's pooled output and
 * projection, and `encode_prompt` + time ids per combo through the SDXL family's text stage;
 * `sdxl_models_*` run through the `models` handler (ControlNet and UNet with text_embeds /
 * time_ids); `sdxl_pipeline_*` through ./sdxl-pipeline.ts.
 */
import { readFileSync } from 'node:fs';
import { parseClipTextConfig } from '../../config/clip.ts';
import { ConfigError, UnsupportedError } from '../../core/errors.ts';
import { CLIPTextModel } from '../../models/clip/clip-text.ts';
import { CLIPTextModelWithProjection, pooledPositions } from '../../models/clip/clip-text-projection.ts';
import { SdxlTextStage, sdxlTimeIds } from '../../pipelines/families/sdxl/text.ts';
import { ClipTokenizer, padTokenOf } from '../../tokenizer/clip_tokenizer.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { loadModel, settle, theModel } from './load.ts';
import { models } from './models.ts';
import { sdxlPipeline } from './sdxl-pipeline.ts';

/**
 * The case's two tokenizers (`tokenizer_folders`): the second folder may hold only its
 * configs (its pad token); vocab and merges then come from the first (they are identical in SDXL).
 */
export function sdxlTokenizers(ctx: CaseContext): [ClipTokenizer, ClipTokenizer] {
  const dirs = ctx.meta.tokenizer_folders;
  if (!Array.isArray(dirs) || dirs.length !== 2 || !dirs.every((d) => typeof d === 'string')) throw new UnsupportedError(`${ctx.meta.name}: needs two "tokenizer_folders"`);
  const [a, b] = dirs.map((d) => ctx.fixtures.path(d));
  return [ClipTokenizer.fromFolder(a), ClipTokenizer.fromFolder(a, { padToken: padTokenOf(b) })];
}

/** The case's SDXL text stage: its CLIPTextModel and CLIPTextModelWithProjection, both tokenizers. */
export function sdxlTextStage(ctx: CaseContext): SdxlTextStage {
  const m1 = theModel(ctx, 'CLIPTextModel'), m2 = theModel(ctx, 'CLIPTextModelWithProjection');
  const e1 = loadModel(ctx.fixtures, m1, (c) => new CLIPTextModel(parseClipTextConfig(c, `${m1.name}/config.json`)));
  const e2 = loadModel(ctx.fixtures, m2, (c) => new CLIPTextModelWithProjection(parseClipTextConfig(c, `${m2.name}/config.json`)));
  return new SdxlTextStage([e1, e2], sdxlTokenizers(ctx), { ...ctx.runtime, cache: false });
}

interface Combo { prompt: string; negative_prompt: string | null; image_hw: [number, number] }

function combos(ctx: CaseContext): Combo[] {
  const list = ctx.meta.combos;
  const ok = (c: unknown): c is Combo => {
    const x = c as Combo;
    return typeof x?.prompt === 'string' && (x.negative_prompt === null || typeof x.negative_prompt === 'string')
      && Array.isArray(x.image_hw) && x.image_hw.length === 2 && x.image_hw.every(Number.isInteger);
  };
  if (!Array.isArray(list) || !list.every(ok)) throw new ConfigError(`${ctx.meta.name}: "combos" must be a list of {prompt, negative_prompt, image_hw}`);
  return list;
}

async function textCase(ctx: CaseContext): Promise<CaseOutputs> {
  const out: CaseOutputs = new Map();
  const file = ctx.fixtures.path(ctx.meta.prompts_file as string);
  const prompts: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(prompts) || !prompts.every((p) => typeof p === 'string')) throw new ConfigError(`${file}: must be a JSON list of prompt strings`);
  const stage = sdxlTextStage(ctx);
  try {
    const part1 = ctx.outputs().map((t) => t.name).filter((n) => !/^output\.c\d+\./.test(n));
    await settle(out, part1, async () => {
      const [a, b] = [await stage.encodeWith(0, prompts), await stage.encodeWith(1, prompts)];
      out.set('output.input_ids_1', a.ids);
      out.set('output.input_ids_2', b.ids);
      out.set('output.num_content_tokens_untruncated_2', stage.tokenizers[1].call(prompts).numContentTokensUntruncated);
      out.set('output.pooled_index_2', pooledPositions(b.ids, [prompts.length, b.ids.length / prompts.length], stage.encoders[1].config.eosTokenId));
      out.set('output.hidden_states_penultimate_1', a.penultimate);
      out.set('output.hidden_states_penultimate_2', b.penultimate);
      out.set('output.pooler_output_2', b.pooled!);
      out.set('output.text_embeds_2', b.textEmbeds!);
    });
    for (const [i, c] of combos(ctx).entries()) {
      const names = ['prompt_embeds', 'negative_prompt_embeds', 'pooled_prompt_embeds', 'negative_pooled_prompt_embeds', 'add_text_embeds_cfg', 'add_time_ids_cfg'].map((n) => `output.c${i}.${n}`);
      await settle(out, names, async () => {
        const r = await stage.encodePrompt(c.prompt, c.negative_prompt, true);
        const half = (t: Float32Array, k: number) => t.slice((k * t.length) / 2, ((k + 1) * t.length) / 2);
        const e = r.embeds.data as Float32Array, p = r.textEmbeds.data as Float32Array;
        out.set(names[0], half(e, 1));
        out.set(names[1], half(e, 0));
        out.set(names[2], half(p, 1));
        out.set(names[3], half(p, 0));
        out.set(names[4], p);
        out.set(names[5], sdxlTimeIds(c.image_hw[0], c.image_hw[1], 2).data);
      });
    }
  } finally {
    await stage.release();
  }
  return out;
}

export const sdxl: GroupHandler = async (ctx) => {
  if (typeof ctx.meta.prompts_file === 'string') return textCase(ctx);
  if (ctx.meta.settings !== undefined) return sdxlPipeline(ctx);
  return models(ctx);
};
