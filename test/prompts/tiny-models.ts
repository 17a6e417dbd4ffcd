/**
 * Tiny high-level models written with our own IR and exporter, in the exact layouts their
 * loaders read, with weights chosen so the answer is known:
 * - an ultralytics YOLOv8 export (model.onnx, `images` → `output0` [1, 4 + nc, anchors], class
 *   names in the metadata);
 * - transformers.js folders: a ViT classifier, a DETR detector and a VisionEncoderDecoder
 *   captioner (encoder_model.onnx + decoder_model_merged.onnx, a word-level tokenizer).
 * Each graph reads its image (a tiny multiple of the pixel mean joins the scores), so the
 * pipelines really feed it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportGraph } from '../../src/export/export.ts';
import { Graph } from '../../src/ir/graph.ts';
import { ModelProto } from '../../src/onnx/schema.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { classifierBytes, withSymbolicDims } from './tiny-classifier.ts';

function param(g: Graph, name: string, shape: number[], v: ArrayLike<number>): Tensor {
  return new Tensor(g, g.addParam(name, { dtype: 'float32', shape }, { kind: 'host', dtype: 'float32', data: Float32Array.from(v) }));
}

/** `table` [rows][cols] + 1e-3 · mean(image): a constant answer that still depends on the input. */
function imageDependent(g: Graph, image: Tensor, name: string, table: readonly (readonly number[])[], shape: number[]): Tensor {
  const mean = image.mean([1, 2, 3]).reshape([1, 1, 1]);
  return mean.mul(1e-3).add(param(g, name, shape, table.flat()));
}

function withMetadata(bytes: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const m = ModelProto.decode(bytes) as unknown as { metadataProps: { key: string; value: string }[] };
  m.metadataProps = Object.entries(metadata).map(([key, value]) => ({ key, value }));
  return ModelProto.encode(ModelProto.fromObject(m)).finish();
}

export interface YoloAnchor { cls: number; score: number; box: [number, number, number, number] }

/**
 * An ultralytics-style YOLOv8 export: `images` [1, 3, size, size] → `output0` [1, 4 + nc, anchors]
 * with rows cx, cy, w, h, then one sigmoid score per class. `size` null: symbolic H and W (a
 * dynamic export).
 */
export function writeYolo(dir: string, names: readonly string[], anchors: readonly YoloAnchor[], size: number | null = 64): string {
  const g = new Graph('tiny_yolo');
  const s = size ?? 64;
  const image = new Tensor(g, g.addInput('images', { dtype: 'float32', shape: [1, 3, s, s] }));
  const rows = Array.from({ length: 4 + names.length }, (_, r) =>
    anchors.map((a) => (r < 4 ? [a.box[0], a.box[1], a.box[2], a.box[3]][r] : r - 4 === a.cls ? a.score : 0.01)));
  g.setOutputs({ output0: imageDependent(g, image, 'head', rows, [1, 4 + names.length, anchors.length]).value });
  let bytes = exportGraph(g).bytes;
  if (size === null) bytes = withSymbolicDims(bytes, { images: { 2: 'height', 3: 'width' } });
  mkdirSync(dir, { recursive: true });
  const dict = `{${names.map((n, i) => `${i}: '${n}'`).join(', ')}}`;
  writeFileSync(join(dir, 'model.onnx'), withMetadata(bytes, { names: dict, stride: '32', imgsz: `[${s}, ${s}]`, task: 'detect' }));
  return dir;
}

const VIT_PROCESSOR = {
  image_processor_type: 'ViTImageProcessor', do_resize: true, size: { height: 8, width: 8 }, resample: 2,
  do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
};

function writeJson(dir: string, files: Record<string, unknown>): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const [name, v] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(v));
}

const labelMaps = (labels: readonly string[]) => ({
  id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
});

/** A transformers.js ViTForImageClassification folder: channel means → logits (red → labels[0], blue → labels[1]). */
export function writeVitClassifier(dir: string, labels: readonly string[], weight: readonly number[], bias: readonly number[]): string {
  writeJson(dir, {
    'config.json': { model_type: 'vit', architectures: ['ViTForImageClassification'], ...labelMaps(labels) },
    'preprocessor_config.json': VIT_PROCESSOR,
  });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), classifierBytes({ inputShape: [1, 3, 8, 8], weight, bias, inputName: 'pixel_values' }));
  return dir;
}

/**
 * A transformers.js DetrForObjectDetection folder: `pixel_values` (any size) → `logits`
 * [1, queries, classes + 1] (the last class is "no object") and `pred_boxes` [1, queries, 4]
 * (normalised cx, cy, w, h).
 */
export function writeDetr(dir: string, labels: readonly string[], queryLogits: readonly (readonly number[])[]): string {
  writeJson(dir, {
    'config.json': { model_type: 'detr', architectures: ['DetrForObjectDetection'], ...labelMaps(labels) },
    'preprocessor_config.json': { ...VIT_PROCESSOR, image_processor_type: 'DetrImageProcessor', do_pad: false },
  });
  const g = new Graph('tiny_detr');
  const image = new Tensor(g, g.addInput('pixel_values', { dtype: 'float32', shape: [1, 3, 8, 8] }));
  const q = queryLogits.length;
  const boxes = Array.from({ length: q }, (_, i) => [(i + 0.5) / q, 0.5, 0.5 / q, 0.5]);
  g.setOutputs({
    logits: imageDependent(g, image, 'class_head', queryLogits, [1, q, labels.length + 1]).value,
    pred_boxes: imageDependent(g, image, 'box_head', boxes, [1, q, 4]).value,
  });
  const bytes = withSymbolicDims(exportGraph(g).bytes, { pixel_values: { 2: 'height', 3: 'width' } });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), bytes);
  return dir;
}

/**
 * A transformers.js VisionEncoderDecoder captioner (vit-gpt2's layout) whose greedy decoding
 * spells `words`: the encoder pools the image to `last_hidden_state` [1, 1, 4]; the decoder
 * (no past key values: transformers.js then feeds one token a step) maps each token to logits
 * that favour the next word, a bigram table. Special tokens: 0 `<s>` (decoder start), 1 `</s>`
 * (end).
 */
export function writeCaptioner(dir: string, words: readonly string[]): string {
  const vocab = ['<s>', '</s>', ...new Set(words)];
  const id = (w: string) => vocab.indexOf(w);
  const v = vocab.length;
  const table = Array.from({ length: v }, () => new Array(v).fill(0));
  const chain = [0, ...words.map(id), 1];
  for (let i = 0; i + 1 < chain.length; i++) table[chain[i]][chain[i + 1]] = 10;
  writeJson(dir, {
    'config.json': {
      model_type: 'vision-encoder-decoder', architectures: ['VisionEncoderDecoderModel'], is_encoder_decoder: true,
      decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 1,
      encoder: { model_type: 'vit', hidden_size: 4 },
      decoder: { model_type: 'gpt2', n_head: 1, n_layer: 1, n_embd: 4, vocab_size: v, bos_token_id: 0, eos_token_id: 1 },
    },
    'generation_config.json': { decoder_start_token_id: 0, bos_token_id: 0, eos_token_id: 1, pad_token_id: 1, max_length: 16 },
    'preprocessor_config.json': VIT_PROCESSOR,
    'tokenizer_config.json': { tokenizer_class: 'PreTrainedTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '</s>', pad_token: '</s>' },
    'tokenizer.json': {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [0, 1].map((i) => ({ id: i, content: vocab[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordLevel', vocab: Object.fromEntries(vocab.map((w, i) => [w, i])), unk_token: '</s>' },
    },
  });
  const e = new Graph('tiny_encoder');
  const pixels = new Tensor(e, e.addInput('pixel_values', { dtype: 'float32', shape: [1, 3, 8, 8] }));
  const pooled = pixels.mean([2, 3]).matmul(param(e, 'proj', [3, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])); // [1, 4]
  e.setOutputs({ last_hidden_state: pooled.reshape([1, 1, 4]).value });
  writeFileSync(join(dir, 'onnx', 'encoder_model.onnx'), exportGraph(e).bytes);

  const d = new Graph('tiny_decoder');
  const ids = new Tensor(d, d.addInput('input_ids', { dtype: 'int64', shape: [1, 1] }));
  const enc = new Tensor(d, d.addInput('encoder_hidden_states', { dtype: 'float32', shape: [1, 1, 4] }));
  const logits = param(d, 'bigram', [v, v], table.flat()).gather(ids, 0).add(enc.mean([1, 2], true).mul(1e-3)); // [1, S, V]
  d.setOutputs({ logits: logits.value });
  const bytes = withSymbolicDims(exportGraph(d).bytes, { input_ids: { 0: 'batch', 1: 'sequence' }, encoder_hidden_states: { 0: 'batch' }, logits: { 0: 'batch', 1: 'sequence' } });
  writeFileSync(join(dir, 'onnx', 'decoder_model_merged.onnx'), bytes);
  return dir;
}
