/**
 * Prompt → CLIP embeddings as a compiled graph (the model file's traceClipText), cached per
 * batch shape. (The VAE stage is ./vae-stage.ts.)
 */
import { type CLIPTextModel, traceClipText } from '../models/clip/clip-text.ts';
import type { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import type { HostTensor } from '../runtime/session.ts';
import { GraphCache } from './graph-cache.ts';
import type { CompileOptions } from '../engine/compile.ts';
import type { PromptConditioning, TextConditioner } from './families/types.ts';

export class TextStage implements TextConditioner {
  private readonly cache: GraphCache;
  constructor(readonly model: CLIPTextModel, readonly tokenizer: ClipTokenizer, options: CompileOptions) {
    this.cache = new GraphCache(options);
  }

  /** Token ids [N, 77] and last_hidden_state [N, 77, D] for the prompts, in order. */
  async encode(prompts: readonly string[]): Promise<{ ids: BigInt64Array; embeds: HostTensor }> {
    const batch = this.tokenizer.call(prompts);
    const [n, len] = batch.shape;
    const s = await this.cache.get(`${n}x${len}`, () => traceClipText(this.model, { batch: n, length: len }));
    const out = await s.run({ input_ids: { dtype: 'int64', shape: [n, len], data: batch.inputIds } });
    return { ids: batch.inputIds, embeds: out.last_hidden_state };
  }

  /** encode_prompt: [negative, positive] rows with CFG (pipeline order), else [positive]. */
  condition(prompt: string, negative: string, cfg: boolean): Promise<PromptConditioning> {
    return this.encode(cfg ? [negative, prompt] : [prompt]);
  }

  release(): Promise<void> {
    return this.cache.release();
  }
}
