/**
 * Loads the model of a kind of high-level information from a local folder (never from the
 * network), whatever its layout — one loader for every door:
 * - a transformers.js folder (it has `config.json`): captioners (VisionEncoderDecoder, e.g.
 *   vit-gpt2), DETR/YOLOS-style detectors, ViT/ResNet/… classifiers (./hf.ts);
 * - detection, an ultralytics YOLOv8 ONNX export: `model.onnx` with ultralytics' metadata
 *   (`names`, `stride`), run on our session with its letterbox and NMS (./yolo.ts);
 * - classification, a plain ONNX classifier: `model.onnx`, `labels.txt`, optional
 *   `preprocess.json` (./classifier-node.ts), e.g. the original's torchvision ResNet-50.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { createSession } from '#runtime';
import type { SessionOptions } from '../runtime/session.ts';
import { loadClassifier } from './classifier-node.ts';
import type { PromptProvider } from './provider.ts';
import { imageModelSignature } from './signature.ts';
import { YoloDetector, parseYoloNames } from './yolo.ts';

type Kind = PromptProvider['kind'];

const LAYOUTS: Record<Kind, string> = {
  caption: 'a captioner folder is a transformers.js image-to-text model: config.json, preprocessor_config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx',
  detection: 'a detector folder is a transformers.js object-detection model (config.json, preprocessor_config.json, onnx/model.onnx) or an ultralytics YOLOv8 ONNX export saved as model.onnx',
  classification: 'a classifier folder is a transformers.js image-classification model (config.json, preprocessor_config.json, onnx/model.onnx) or model.onnx + labels.txt (+ preprocess.json)',
};

/** An ultralytics YOLOv8 export in `dir` (model.onnx, class names in its metadata). */
async function loadYolo(dir: string, opts: SessionOptions): Promise<YoloDetector> {
  const modelPath = join(dir, 'model.onnx');
  const bytes = readFileSync(modelPath);
  const signature = imageModelSignature(bytes, modelPath, 'object detector');
  const names = signature.metadata.names;
  if (names === undefined) throw new ConfigError(`${modelPath}: no "names" metadata; export the detector with ultralytics (yolo export model=yolov8n.pt format=onnx), or use a transformers.js folder (README "High-level information")`);
  const session = await createSession({ bytes, externalFolder: realpathSync(dir) }, opts);
  return new YoloDetector(session, signature, parseYoloNames(names, `${modelPath} metadata "names"`));
}

/** The provider of `kind` from the folder `dir`; a folder that is missing or of no known layout is a ConfigError naming it. */
export async function loadPromptProvider(kind: Kind, dir: string, opts: SessionOptions = {}): Promise<PromptProvider> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(`${kind} model folder ${dir} does not exist; ${LAYOUTS[kind]}`);
  if (existsSync(join(dir, 'config.json'))) {
    // Imported on first use: transformers.js costs ~140 MiB of RSS per process or worker thread
    // (measured with test/server/load.test.ts), which runs without high-level models should not pay.
    const { TransformersProvider } = await import('./hf.ts');
    return TransformersProvider.load(kind, realpathSync(dir), { threads: opts.threads });
  }
  if (kind === 'classification') return loadClassifier(dir, opts);
  if (kind === 'detection' && existsSync(join(dir, 'model.onnx'))) return loadYolo(dir, opts);
  throw new ConfigError(`${kind} model folder ${dir}: neither config.json nor ${kind === 'detection' ? 'model.onnx' : 'a known layout'} is there; ${LAYOUTS[kind]}`);
}
