/**
 * CLIP text encoder config (transformers `CLIPTextConfig` defaults, as in SD1.5's and SDXL's
 * `text_encoder/config.json`, `text_encoder_2/config.json`). Fields that only matter for
 * training are accepted and ignored; `projection_dim` and `eos_token_id` serve SDXL's pooled
 * embedding (CLIPTextModelWithProjection).
 */
import { ConfigError } from '../core/errors.ts';
import { ConfigReader, LAYER_COUNT_MAX, type Warn } from './reader.ts';

export type ClipHiddenAct = 'quick_gelu' | 'gelu';

export interface ClipTextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly maxPositionEmbeddings: number;
  readonly hiddenAct: ClipHiddenAct;
  readonly layerNormEps: number;
  /** Width of `text_projection` (CLIPTextModelWithProjection). */
  readonly projectionDim: number;
  /** Where the pooled output is taken: 2 means transformers' legacy argmax(input_ids) rule (SD/SDXL configs). */
  readonly eosTokenId: number;
}

export function parseClipTextConfig(raw: Readonly<Record<string, unknown>>, what = 'text_encoder config.json', warn?: Warn): ClipTextConfig {
  const r = new ConfigReader(raw, what);
  r.string('model_type', 'clip_text_model', ['clip_text_model']);
  r.ignore(
    'architectures', 'transformers_version', 'torch_dtype', 'attention_dropout', 'dropout',
    'initializer_range', 'initializer_factor', 'pad_token_id', 'bos_token_id',
  );
  const cfg: ClipTextConfig = {
    vocabSize: r.int('vocab_size', 49408),
    hiddenSize: r.int('hidden_size', 512),
    intermediateSize: r.int('intermediate_size', 2048),
    numHiddenLayers: r.int('num_hidden_layers', 12, LAYER_COUNT_MAX),
    numAttentionHeads: r.int('num_attention_heads', 8),
    maxPositionEmbeddings: r.int('max_position_embeddings', 77),
    hiddenAct: r.string<ClipHiddenAct>('hidden_act', 'quick_gelu', ['quick_gelu', 'gelu']),
    layerNormEps: r.number('layer_norm_eps', 1e-5),
    projectionDim: r.int('projection_dim', 512),
    eosTokenId: r.int('eos_token_id', 2),
  };
  const sizes: [string, number][] = [
    ['vocab_size', cfg.vocabSize], ['hidden_size', cfg.hiddenSize], ['intermediate_size', cfg.intermediateSize],
    ['num_attention_heads', cfg.numAttentionHeads], ['max_position_embeddings', cfg.maxPositionEmbeddings], ['projection_dim', cfg.projectionDim],
  ];
  for (const [key, v] of sizes) if (v < 1) throw new ConfigError(`${what}: "${key}" must be positive, got ${v}`);
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0)
    throw new ConfigError(`${what}: "hidden_size" ${cfg.hiddenSize} is not divisible by "num_attention_heads" ${cfg.numAttentionHeads}`);
  r.finish(warn);
  return Object.freeze(cfg);
}
