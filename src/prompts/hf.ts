/**
 * Captioners, detectors and classifiers in transformers.js' model-folder layout
 * (`config.json`, `preprocessor_config.json`, `onnx/*.onnx`, and for captioners
 * `generation_config.json`, `tokenizer.json`, `tokenizer_config.json`), run by
 * `@huggingface/transformers`' image-to-text, object-detection and image-classification
 * pipelines. transformers.js runs on onnxruntime-node in Node and onnxruntime-web in the
 * browser, so this file names no platform: the caller gives the folder's location (a path in
 * Node, a same-origin URL path in a page). The network is switched off before any load:
 * nothing is ever downloaded, and nothing is cached.
 */
import { type ImageClassificationOutput, type ImageToTextOutput, type ObjectDetectionOutput, RawImage, env, pipeline } from '@huggingface/transformers';
import type { Image } from '../image/image.ts';
import { asRgb } from '../image/image.ts';
import type { Description, PromptProvider } from './provider.ts';

type Kind = PromptProvider['kind'];

/** The transformers.js task per kind of high-level information. */
export const HF_TASKS = { caption: 'image-to-text', detection: 'object-detection', classification: 'image-classification' } as const;

/**
 * transformers.js' object-detection default score threshold (DETR-style detectors): ultralytics'
 * 0.25 is for YOLO's sigmoid scores, not DETR's softmax over classes plus "no object".
 */
export const HF_DETECTION_THRESHOLD = 0.9;

/** Only local files, and no cache writes, for every transformers.js load in this process. */
export function transformersOffline(): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useBrowserCache = false;
  env.useFSCache = false;
}

/**
 * How the original joins a caption to the user prompt: `--use_blip` gives "{caption}, {prompt}";
 * its default captioner, open_clip's CoCa, "{caption} {prompt}". A BLIP folder (config.json
 * `model_type` "blip") joins BLIP's way; every other captioner stands in for the default CoCa.
 */
export function captionJoin(modelType: unknown): 'blip' | 'coca' {
  return modelType === 'blip' ? 'blip' : 'coca';
}

/** Our image as transformers.js' RawImage (RGB, no copy). */
function rawImage(image: Image): RawImage {
  const img = asRgb(image, 'high-level model input');
  return new RawImage(img.data, img.width, img.height, 3);
}

interface Loaded {
  (image: RawImage, options?: Record<string, unknown>): Promise<unknown>;
  model: { config: { model_type?: unknown } };
  dispose(): Promise<void>;
}

/** A transformers.js pipeline as a prompt provider. */
export class TransformersProvider implements PromptProvider {
  private constructor(readonly kind: Kind, private readonly pipe: Loaded, readonly location: string) {}

  /**
   * Loads the pipeline for `kind` from `location` on the CPU, in float32 (`onnx/<name>.onnx`).
   * `threads`: onnxruntime's intra-op threads.
   */
  static async load(kind: Kind, location: string, o: { threads?: number } = {}): Promise<TransformersProvider> {
    transformersOffline();
    const session_options = o.threads === undefined ? {} : { intraOpNumThreads: o.threads };
    const pipe = await pipeline(HF_TASKS[kind], location, { local_files_only: true, device: 'cpu', dtype: 'fp32', session_options });
    return new TransformersProvider(kind, pipe as unknown as Loaded, location);
  }

  async describe(image: Image): Promise<Description> {
    const raw = rawImage(image);
    switch (this.kind) {
      case 'caption': {
        const [out] = (await this.pipe(raw)) as ImageToTextOutput;
        return { kind: 'caption', text: (out as { generated_text: string }).generated_text, join: captionJoin(this.pipe.model.config.model_type) };
      }
      case 'detection': {
        const found = (await this.pipe(raw, { threshold: HF_DETECTION_THRESHOLD })) as ObjectDetectionOutput;
        return { kind: 'detection', names: found.map((d) => d.label) };
      }
      case 'classification': {
        const [top] = (await this.pipe(raw, { top_k: 1 })) as ImageClassificationOutput;
        return { kind: 'classification', label: top.label, probability: top.score };
      }
    }
  }

  release(): Promise<void> {
    return this.pipe.dispose();
  }
}
