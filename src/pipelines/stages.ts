/**
 * Prompt → CLIP embeddings as a compiled graph, cached per batch shape. (The VAE stages are
 * the tiled VAE in tiled-vae.ts, which runs the plain graph when the input fits one tile.)
 */
import { Graph } from '../ir/graph.ts';
import { Tensor } from '../ops/tensor.ts';
import type { CLIPTextModel } from '../models/clip/clip-text.ts';
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
    const s = await this.cache.get(`${n}x${len}`, () => {
      const g = new Graph(`clip_text_${n}x${len}`);
      const ids = new Tensor(g, g.addInput('input_ids', { dtype: 'int64', shape: [n, len] }));
      g.setOutputs({ last_hidden_state: this.model.forward(ids).value });
      return g;
    });
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
