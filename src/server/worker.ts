/**
 * The server's worker thread: holds one loaded pipeline (the model of the last job) and runs
 * one job at a time, so the HTTP thread never blocks on a denoising step. Progress is posted
 * as it comes; a `cancel` message aborts the running job through its AbortSignal (checked
 * between steps and tiles); the PNG comes back as a transferred buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PasdError } from '../core/errors.ts';
import type { RuntimeChoice } from '../engine/compile.ts';
import { encodeImage } from '../image/codec-node.ts';
import type { Image } from '../image/image.ts';
import { resize } from '../image/resample.ts';
import { PasdPipeline, type UpscaleOptions } from '../pipelines/pasd.ts';
import { loadPromptProvider } from '../prompts/load-node.ts';
import type { PromptProvider } from '../prompts/provider.ts';
import type { ToMain, ToWorker, WorkerModel } from './runner.ts';

const { models, runtime } = workerData as { models: WorkerModel[]; runtime: RuntimeChoice };
const port = parentPort!;
const post = (m: ToMain, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// The pipeline's compiled-graph caches are bounded (LRU per model), so any mix of image sizes is fine.
let loaded: { name: string; pipe: PasdPipeline } | null = null;
const controllers = new Map<string, AbortController>();
// Loads and runs are chained so they never overlap; cancels bypass the chain.
let chain: Promise<void> = Promise.resolve();

async function pipelineOf(name: string): Promise<PasdPipeline> {
  if (loaded?.name === name) return loaded.pipe;
  const spec = models.find((m) => m.name === name);
  if (!spec) throw new PasdError(`model "${name}" is not served`);
  // One model in memory at a time: the server's footprint stays that of its largest model.
  if (loaded) await loaded.pipe.release();
  loaded = null;
  loaded = { name, pipe: PasdPipeline.fromFolders(spec.paths, { ...runtime }) };
  return loaded.pipe;
}

// High-level models are small: each kind is loaded on its first job and kept.
const providers = new Map<PromptProvider['kind'], Promise<PromptProvider>>();

/** The job's high-level model (the option check admitted only kinds the model has a folder for). */
function providerOf(model: string, kind: UpscaleOptions['highLevelInfo']): Promise<PromptProvider> | undefined {
  const dir = kind && kind !== 'none' ? models.find((m) => m.name === model)?.highLevel?.[kind] : undefined;
  if (!dir || !kind || kind === 'none') return undefined;
  if (!providers.has(kind)) providers.set(kind, loadPromptProvider(kind, dir, { threads: runtime.threads }));
  return providers.get(kind);
}

async function run(id: string, model: string, options: UpscaleOptions, rgb: Image, alpha: Image | null): Promise<void> {
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    const pipe = await pipelineOf(model);
    const promptProvider = await providerOf(model, options.highLevelInfo);
    const out = await pipe.upscale(rgb, { ...options, ...(promptProvider ? { promptProvider } : {}), signal: controller.signal, onProgress: (progress) => post({ type: 'progress', id, progress }) });
    // Alpha is upscaled with the plain resize and attached again, as `pasd upscale` does.
    const a = alpha ? resize(alpha, out.width, out.height, 'bicubic') : null;
    const png = await encodeImage(out, { format: 'png', alpha: a });
    const bytes = new Uint8Array(png); // an own ArrayBuffer, so it can be transferred
    post({ type: 'done', id, png: bytes, width: out.width, height: out.height }, [bytes.buffer]);
  } catch (e) {
    const err = e as Error;
    post({ type: 'error', id, name: err.name, message: err.message, aborted: controller.signal.aborted });
  } finally {
    controllers.delete(id);
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'cancel':
      controllers.get(m.id)?.abort();
      break;
    case 'load':
      chain = chain.then(() => pipelineOf(m.model)).then(
        () => post({ type: 'loaded', model: m.model }),
        (e: Error) => post({ type: 'load-error', model: m.model, message: `${e.name}: ${e.message}` }),
      );
      break;
    case 'run':
      chain = chain.then(() => run(m.id, m.model, m.options, m.rgb, m.alpha));
      break;
    case 'close':
      chain = chain.then(async () => {
        await loaded?.pipe.release();
        loaded = null;
        for (const p of providers.values()) await (await p.catch(() => null))?.release?.();
        providers.clear();
        post({ type: 'closed' });
      });
      break;
  }
});
