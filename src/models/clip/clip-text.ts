/**
 * The CLIP text encoder (transformers `models/clip/modeling_clip.py` CLIPTextModel, eager
 * attention) as SD1.5 uses it: `last_hidden_state` of token ids, no attention mask, no
 * pooling or projection. State-dict keys are transformers' (`text_model.encoder.layers.0.
 * self_attn.q_proj.weight`).
 */
import type { ClipHiddenAct, ClipTextConfig } from '../../config/clip.ts';
import { ShapeError } from '../../core/errors.ts';
import { mergeHeads, splitHeads } from '../../ops/heads.ts';
import { LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, ModuleList, Parameter } from '../../nn/module.ts';
import { gelu } from '../../nn/transformer.ts';
import { Graph } from '../../ir/graph.ts';
import { Tensor, makeConst } from '../../ops/tensor.ts';

/** torch.finfo(float32).min: what transformers adds above the diagonal of the causal mask. */
const F32_MIN = -3.4028234663852886e38;

/** torch.nn.Embedding: rows of `weight` [num, dim] picked by integer ids. */
export class Embedding extends Module {
  readonly weight: Parameter;
  constructor(readonly num: number, readonly dim: number) {
    super();
    this.weight = new Parameter([num, dim]);
  }
  /** ids [...] (int64) → [..., dim] */
  forward(ids: Tensor): Tensor {
    return this.scoped(ids.graph, () => this.weight.tensor(ids.graph).gather(ids, 0));
  }
}

export class CLIPTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;
  constructor(c: ClipTextConfig) {
    super();
    this.token_embedding = new Embedding(c.vocabSize, c.hiddenSize);
    this.position_embedding = new Embedding(c.maxPositionEmbeddings, c.hiddenSize);
  }
  /** ids [B, S] → [B, S, D]; positions are 0..S−1 (transformers' `position_ids` buffer). */
  forward(ids: Tensor): Tensor {
    return this.scoped(ids.graph, () => {
      const positions = this.position_embedding.weight.tensor(ids.graph).slice(0, 0, ids.shape[1]); // [S, D]
      return this.token_embedding.forward(ids).add(positions);
    });
  }
}

export class CLIPAttention extends Module {
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_proj: Linear;
  readonly out_proj: Linear;
  readonly heads: number;
  readonly scale: number;
  constructor(c: ClipTextConfig) {
    super();
    const d = c.hiddenSize;
    this.heads = c.numAttentionHeads;
    this.scale = (d / c.numAttentionHeads) ** -0.5;
    this.k_proj = new Linear(d, d);
    this.v_proj = new Linear(d, d);
    this.q_proj = new Linear(d, d);
    this.out_proj = new Linear(d, d);
  }

  /** x [B, S, D], mask [1, 1, S, S] (added to the scores) → [B, S, D] */
  forward(x: Tensor, mask: Tensor): Tensor {
    return this.scoped(x.graph, () => {
      // transformers scales q before q·kᵀ (not the scores after), which rounds differently.
      const q = splitHeads(this.q_proj.forward(x).mul(this.scale), this.heads);
      const k = splitHeads(this.k_proj.forward(x), this.heads);
      const v = splitHeads(this.v_proj.forward(x), this.heads);
      const probs = q.matmul(k.mT()).add(mask).softmax(-1); // [B, h, S, S]
      return this.out_proj.forward(mergeHeads(probs.matmul(v)));
    });
  }
}

export class CLIPMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(c: ClipTextConfig) {
    super();
    this.fc1 = new Linear(c.hiddenSize, c.intermediateSize);
    this.fc2 = new Linear(c.intermediateSize, c.hiddenSize);
  }
  forward(x: Tensor, act: ClipHiddenAct): Tensor {
    const h = this.fc1.forward(x);
    // quick_gelu (transformers `activations.py` QuickGELUActivation): x·sigmoid(1.702·x)
    return this.fc2.forward(act === 'quick_gelu' ? h.mul(h.mul(1.702).sigmoid()) : gelu(h));
  }
}

export class CLIPEncoderLayer extends Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: LayerNorm;
  constructor(readonly config: ClipTextConfig) {
    super();
    this.self_attn = new CLIPAttention(config);
    this.layer_norm1 = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.mlp = new CLIPMLP(config);
    this.layer_norm2 = new LayerNorm(config.hiddenSize, config.layerNormEps);
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x), mask));
    return h.add(this.mlp.forward(this.layer_norm2.forward(h), this.config.hiddenAct));
  }
}

export class CLIPEncoder extends Module {
  readonly layers: ModuleList<CLIPEncoderLayer>;
  constructor(c: ClipTextConfig) {
    super();
    this.layers = new ModuleList(Array.from({ length: c.numHiddenLayers }, () => new CLIPEncoderLayer(c)));
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    return this.layers.items.reduce((h, l) => l.forward(h, mask), x);
  }
  /** transformers' `hidden_states`: [embeddings, output of layer 1, …, output of layer L] (no final_layer_norm). */
  hiddenStates(x: Tensor, mask: Tensor): Tensor[] {
    const states = [x];
    for (const l of this.layers.items) states.push(l.forward(states[states.length - 1], mask));
    return states;
  }
}

/** What SDXL reads of a text transformer: every hidden state and the final-layer-normed last one. */
export interface ClipTextStates {
  /** [B, S, D] each: embeddings, then each layer's output. */
  hiddenStates: Tensor[];
  lastHiddenState: Tensor;
}

export class CLIPTextTransformer extends Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: LayerNorm;
  constructor(c: ClipTextConfig) {
    super();
    this.embeddings = new CLIPTextEmbeddings(c);
    this.encoder = new CLIPEncoder(c);
    this.final_layer_norm = new LayerNorm(c.hiddenSize, c.layerNormEps);
  }
  forward(ids: Tensor): Tensor {
    const h = this.embeddings.forward(ids);
    return this.final_layer_norm.forward(this.encoder.forward(h, causalMask(ids.graph, ids.shape[1])));
  }
  states(ids: Tensor): ClipTextStates {
    const hiddenStates = this.encoder.hiddenStates(this.embeddings.forward(ids), causalMask(ids.graph, ids.shape[1]));
    return { hiddenStates, lastHiddenState: this.final_layer_norm.forward(hiddenStates[hiddenStates.length - 1]) };
  }
}

/** [1, 1, S, S]: 0 on and below the diagonal, float32 min above (transformers `_create_4d_causal_attention_mask`). */
function causalMask(g: Graph, s: number): Tensor {
  const m = new Float32Array(s * s);
  for (let i = 0; i < s; i++) m.fill(F32_MIN, i * s + i + 1, (i + 1) * s);
  return makeConst(g, m, 'float32', [1, 1, s, s]);
}

export class CLIPTextModel extends Module {
  readonly text_model: CLIPTextTransformer;
  constructor(readonly config: ClipTextConfig) {
    super();
    this.text_model = new CLIPTextTransformer(config);
  }

  /** ids [B, S] int64 (S ≤ max_position_embeddings) → last_hidden_state [B, S, hidden] */
  forward(ids: Tensor): Tensor {
    checkIds(ids, this.config, 'CLIPTextModel');
    return this.text_model.forward(ids);
  }

  /** ids [B, S] → every hidden state and last_hidden_state (`output_hidden_states=True`). */
  states(ids: Tensor): ClipTextStates {
    checkIds(ids, this.config, 'CLIPTextModel');
    return this.text_model.states(ids);
  }
}

export function checkIds(ids: Tensor, c: ClipTextConfig, what: string): void {
  const max = c.maxPositionEmbeddings;
  if (ids.rank !== 2 || ids.dtype !== 'int64' || ids.shape[1] > max)
    throw new ShapeError(`${what}: input_ids must be int64 [B, S] with S ≤ ${max}, got ${ids.dtype}[${ids.shape.join(',')}]`);
}

/** Graph `clip_text`: input `input_ids` int64 [B, S] (S defaults to max_position_embeddings) → output `last_hidden_state` [B, S, hidden]. */
export function traceClipText(model: CLIPTextModel, s: { batch: number; length?: number }): Graph {
  const g = new Graph('clip_text');
  const ids = new Tensor(g, g.addInput('input_ids', { dtype: 'int64', shape: [s.batch, s.length ?? model.config.maxPositionEmbeddings] }));
  g.setOutputs({ last_hidden_state: model.forward(ids).value });
  return g;
}
