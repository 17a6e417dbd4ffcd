/**
 * Messages between the page (page.ts) and the Worker that runs the pipeline (worker.ts).
 * Files travel as Blobs (a File from a folder the user picked, or a fetched model file), so
 * nothing is copied until the loaders read the bytes they need. There is no cancel message: a
 * run's onnxruntime-web calls resolve as microtasks, so the Worker would not see one before the
 * run ends; the page cancels by terminating the Worker and starting a fresh one.
 */
import type { Progress } from '../pipelines/pasd.ts';
import type { RunSettings } from '../pipelines/options.ts';

/** Which model: the bundled mini model, or folders the user picked (mounted at these paths). */
export type ModelChoice = { kind: 'mini' } | { kind: 'folders'; model: string; base: string };

export type ToWorker =
  | { type: 'mount'; files: { path: string; data: Blob }[] }
  | { type: 'run'; id: number; image: Uint8Array; name: string; model: ModelChoice; provider: 'cpu' | 'webgpu'; precision: 'fp32' | 'fp16'; options: Partial<RunSettings> };

export interface RunTimings {
  /** Seconds: model loading (configs, weight headers, tracing happens in the first steps), the upscale, the encode. */
  load: number;
  upscale: number;
  encode: number;
}

export type FromWorker =
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'done'; id: number; png: Uint8Array; width: number; height: number; timings: RunTimings; provider: 'cpu' | 'webgpu';
      /** On WebGPU: the largest error of onnxruntime's fused attention on this adapter (engine/compile.ts); above 1e-5 the chunked lowering ran. */
      attentionError?: number }
  | { type: 'error'; id: number; message: string; name: string };
