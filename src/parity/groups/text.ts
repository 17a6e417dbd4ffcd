/**
 * `text` group (fixtures README, "text"): the CLIP tokenizer case (a `prompts_file` and a
 * `tokenizer_folder`; ids padded/truncated to the width of `output.input_ids`, with ftfy
 * clean-up and, for `output.input_ids_without_ftfy`, the BasicTokenizer fallback) and the
 * CLIP text encoder case (a model of class CLIPTextModel).
 */
import { readFileSync } from 'node:fs';
import { ConfigError, UnsupportedError } from '../../core/errors.ts';
import { parseClipTextConfig } from '../../config/clip.ts';
import { CLIPTextModel, traceClipText } from '../../models/clip/clip-text.ts';
import { ClipTokenizer } from '../../tokenizer/clip_tokenizer.ts';
import type { CaseContext, CaseOutputs, GroupHandler } from '../types.ts';
import { feedOf, loadModel, runGraph } from './load.ts';

function prompts(ctx: CaseContext, key: string): string[] {
  const p = ctx.fixtures.path(ctx.meta[key] as string);
  const list: unknown = JSON.parse(readFileSync(p, 'utf8'));
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new ConfigError(`${p}: must be a JSON list of prompt strings`);
  return list;
}

function tokenizerCase(ctx: CaseContext): CaseOutputs {
  const dir = ctx.fixtures.path(ctx.meta.tokenizer_folder as string);
  const texts = prompts(ctx, 'prompts_file');
  const out: CaseOutputs = new Map();
  const variants = [['output.input_ids', 'ftfy'], ['output.input_ids_without_ftfy', 'basic']] as const;
  for (const [name, textCleaning] of variants) {
    if (!ctx.has(name)) continue;
    const maxLength = ctx.shape(name)[1];
    const batch = ClipTokenizer.fromFolder(dir, { textCleaning }).call(texts, { maxLength });
    out.set(name, { data: batch.inputIds, shape: batch.shape });
    if (textCleaning === 'ftfy') out.set('output.num_content_tokens_untruncated', batch.numContentTokensUntruncated);
  }
  return out;
}

/** `last_hidden_state = text_encoder(input_ids)[0]`, no attention mask (SD1.5). */
async function textEncoderCase(ctx: CaseContext, name: string): Promise<CaseOutputs> {
  const m = ctx.fixtures.model(name);
  const model = loadModel(ctx.fixtures, m, (c) => new CLIPTextModel(parseClipTextConfig(c, `${m.name}/config.json`)));
  const ids = feedOf(ctx, 'input.input_ids');
  const r = await runGraph(traceClipText(model, { batch: ids.shape[0], length: ids.shape[1] }), { input_ids: ids }, ctx.runtime);
  const h = r.last_hidden_state;
  return new Map([['output.last_hidden_state', { data: h.data as Float32Array, shape: h.shape }]]);
}

export const text: GroupHandler = async (ctx) => {
  const encoder = (ctx.meta.models ?? []).find((m) => ctx.fixtures.model(m).configClass === 'CLIPTextModel');
  if (encoder !== undefined) return textEncoderCase(ctx, encoder);
  if (typeof ctx.meta.tokenizer_folder === 'string' && typeof ctx.meta.prompts_file === 'string') return tokenizerCase(ctx);
  throw new UnsupportedError(`${ctx.meta.name}: a text case needs a CLIPTextModel model or a tokenizer_folder + prompts_file`);
};
