/**
 * SDXL's text conditioning as PASD-SDXL builds it (`pipeline_pasd_sdxl.py` `encode_prompt`,
 * `_get_add_time_ids`; diffusers 0.29.2 `StableDiffusionXLPipeline`): each prompt through both
 * tokenizers and encoders, `hidden_states[-2]` of each concatenated on the channel axis, the
 * pooled embedding from `text_encoder_2`'s `text_embeds`; for classifier-free guidance the
 * negative prompt likewise, or zeros when it is null (`force_zeros_for_empty_prompt`, the
 * default) — an empty string is *not* null and is encoded. Rows are [negative, positive].
 */
import type { CompileOptions } from '../../../engine/compile.ts';
import type { CLIPTextModel } from '../../../models/clip/clip-text.ts';
import { type CLIPTextModelWithProjection, pooledPositions, traceClipPenultimate } from '../../../models/clip/clip-text-projection.ts';
import type { HostTensor } from '../../../runtime/session.ts';
import type { ClipTokenizer } from '../../../tokenizer/clip_tokenizer.ts';
import { GraphCache } from '../../graph-cache.ts';

export interface SdxlPromptEmbeds {
  /** [B, 77, D1+D2]: rows [negative, positive] with CFG, else [positive]. */
  embeds: HostTensor;
  /** [B, P]: the pooled embeddings, same rows. */
  textEmbeds: HostTensor;
  /** Token ids of both tokenizers for the encoded rows ([negative, positive], or [positive] when the negative is zeros or unused), [N, 77] each. */
  ids: [BigInt64Array, BigInt64Array];
}

interface Encoded {
  ids: BigInt64Array;
  /** [N, 77, D] */
  penultimate: Float32Array;
  width: number;
  /** [N, P] (text_encoder_2 only) */
  textEmbeds?: Float32Array;
  /** [N, D] (text_encoder_2 only) */
  pooled?: Float32Array;
}

/** `_get_add_time_ids` for an image of h×w, uncropped, target = original (PASD-SDXL), repeated for `batch` rows: [h, w, 0, 0, h, w]. */
export function sdxlTimeIds(height: number, width: number, batch: number): HostTensor {
  const row = [height, width, 0, 0, height, width];
  return { dtype: 'float32', shape: [batch, 6], data: Float32Array.from({ length: 6 * batch }, (_, i) => row[i % 6]) };
}

export class SdxlTextStage {
  private readonly caches: [GraphCache, GraphCache];
  constructor(readonly encoders: readonly [CLIPTextModel, CLIPTextModelWithProjection], readonly tokenizers: readonly [ClipTokenizer, ClipTokenizer], options: CompileOptions) {
    this.caches = [new GraphCache(options), new GraphCache(options)];
  }

  /** Encoder `which` (0: text_encoder, 1: text_encoder_2) on prompts: ids, hidden_states[-2] and, for 1, pooler_output / text_embeds. */
  async encodeWith(which: 0 | 1, prompts: readonly string[]): Promise<Encoded> {
    const batch = this.tokenizers[which].call(prompts);
    const [n, len] = batch.shape;
    const model = this.encoders[which];
    const s = await this.caches[which].get(`${n}x${len}`, () => traceClipPenultimate(model, { batch: n, length: len }));
    const feeds: Record<string, HostTensor> = { input_ids: { dtype: 'int64', shape: [n, len], data: batch.inputIds } };
    if (which === 1) feeds.pooled_positions = { dtype: 'int64', shape: [n], data: pooledPositions(batch.inputIds, batch.shape, model.config.eosTokenId) };
    const out = await s.run(feeds);
    const f = (k: string) => out[k]?.data as Float32Array | undefined;
    return { ids: batch.inputIds, penultimate: f('hidden_states_penultimate')!, width: model.config.hiddenSize, textEmbeds: f('text_embeds'), pooled: f('pooler_output') };
  }

  /**
   * encode_prompt(prompt, negative, cfg): `negative` null gives zero negative embeddings (only
   * used with cfg). Returns [negative, positive] rows with cfg, else [positive].
   */
  async encodePrompt(prompt: string, negative: string | null, cfg: boolean): Promise<SdxlPromptEmbeds> {
    const encoded = cfg && negative !== null ? [negative, prompt] : [prompt];
    const [a, b] = [await this.encodeWith(0, encoded), await this.encodeWith(1, encoded)];
    const n = encoded.length, seq = a.penultimate.length / (n * a.width), d = a.width + b.width;
    const p = b.textEmbeds!.length / n;
    const rows = cfg && n === 1 ? 2 : n; // a zero negative row first when negative is null
    const embeds = new Float32Array(rows * seq * d), pooled = new Float32Array(rows * p);
    for (let r = 0; r < n; r++) {
      const row = r + rows - n;
      pooled.set(b.textEmbeds!.subarray(r * p, (r + 1) * p), row * p);
      // cat([penultimate_1, penultimate_2], -1), token by token.
      for (let t = 0; t < seq; t++) {
        const o = (row * seq + t) * d;
        embeds.set(a.penultimate.subarray((r * seq + t) * a.width, (r * seq + t + 1) * a.width), o);
        embeds.set(b.penultimate.subarray((r * seq + t) * b.width, (r * seq + t + 1) * b.width), o + a.width);
      }
    }
    return {
      embeds: { dtype: 'float32', shape: [rows, seq, d], data: embeds },
      textEmbeds: { dtype: 'float32', shape: [rows, p], data: pooled },
      ids: [a.ids, b.ids],
    };
  }

  async release(): Promise<void> {
    for (const c of this.caches) await c.release();
  }
}
