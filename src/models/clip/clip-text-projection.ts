/**
 * transformers `CLIPTextModelWithProjection` (SDXL's `text_encoder_2`, OpenCLIP ViT-bigG in
 * Hugging Face key names): the CLIP text transformer, its pooled output and `text_projection`
 * (no bias), plus the graph SDXL's `encode_prompt` needs of either of its text encoders:
 * `hidden_states[-2]` (the output of the second-to-last layer, before final_layer_norm) and,
 * with a projection, the pooled `text_embeds`.
 */
import type { ClipTextConfig } from '../../config/clip.ts';
import { Graph } from '../../ir/graph.ts';
import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { Tensor, constOf } from '../../ops/tensor.ts';
import { type CLIPTextModel, CLIPTextTransformer, type ClipTextStates, checkIds } from './clip-text.ts';

export class CLIPTextModelWithProjection extends Module {
  readonly text_model: CLIPTextTransformer;
  readonly text_projection: Linear;
  constructor(readonly config: ClipTextConfig) {
    super();
    this.text_model = new CLIPTextTransformer(config);
    this.text_projection = new Linear(config.hiddenSize, config.projectionDim, false);
  }

  states(ids: Tensor): ClipTextStates {
    checkIds(ids, this.config, 'CLIPTextModelWithProjection');
    return this.text_model.states(ids);
  }

  /**
   * last_hidden_state [B, S, D] at `positions` (int64 [B], see `pooledPositions`) → pooler_output
   * [B, D] and text_embeds = text_projection(pooler_output) [B, P].
   */
  pool(last: Tensor, positions: Tensor): { pooled: Tensor; textEmbeds: Tensor } {
    return this.scoped(last.graph, () => {
      const [b, s, d] = last.shape;
      const rows = constOf(last.graph, Array.from({ length: b }, (_, i) => i * s), 'int64', [b]);
      const pooled = last.reshape([b * s, d]).gather(positions.add(rows), 0); // [B·S, D] → [B, D]
      return { pooled, textEmbeds: this.text_projection.forward(pooled) };
    });
  }
}

/**
 * transformers 4.42's pooling position per row: with `eos_token_id` 2 (the legacy configs of
 * SD and SDXL) `argmax(input_ids)`, i.e. the first 49407; else the first `eos_token_id`.
 */
export function pooledPositions(ids: BigInt64Array, shape: readonly number[], eosTokenId: number): BigInt64Array {
  const [b, s] = shape;
  const out = new BigInt64Array(b);
  for (let i = 0; i < b; i++) {
    const row = ids.subarray(i * s, (i + 1) * s);
    let best = 0;
    if (eosTokenId === 2) {
      for (let j = 1; j < s; j++) if (row[j] > row[best]) best = j;
    } else {
      best = Math.max(0, row.indexOf(BigInt(eosTokenId)));
    }
    out[i] = BigInt(best);
  }
  return out;
}

/**
 * Graph `clip_sdxl_text`: input `input_ids` int64 [B, S] (and `pooled_positions` int64 [B] with a
 * projection) → `hidden_states_penultimate` [B, S, D] (and `pooler_output` [B, D], `text_embeds` [B, P]).
 */
export function traceClipPenultimate(model: CLIPTextModel | CLIPTextModelWithProjection, s: { batch: number; length?: number }): Graph {
  const g = new Graph('clip_sdxl_text');
  const len = s.length ?? model.config.maxPositionEmbeddings;
  const ids = new Tensor(g, g.addInput('input_ids', { dtype: 'int64', shape: [s.batch, len] }));
  const st = model.states(ids);
  const outputs: Record<string, Tensor> = { hidden_states_penultimate: st.hiddenStates[st.hiddenStates.length - 2] };
  if (model instanceof CLIPTextModelWithProjection) {
    const positions = new Tensor(g, g.addInput('pooled_positions', { dtype: 'int64', shape: [s.batch] }));
    const p = model.pool(st.lastHiddenState, positions);
    outputs.pooler_output = p.pooled;
    outputs.text_embeds = p.textEmbeds;
  }
  g.setOutputs(Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, t.value])));
  return g;
}
