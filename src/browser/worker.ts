/**
 * The Worker that runs PASD in the page: the same pipeline as Node (src/pipelines), on
 * onnxruntime-web through `#runtime` and the page's file tree through `#platform` (the web
 * adapters, chosen by the bundler's `browser` condition). One pipeline is kept per model and
 * provider, so the second image skips loading and tracing.
 */
import { configureWeb } from '../runtime/web.ts';
import { mountFile } from '../platform/web.ts';
import { PasdError } from '../core/errors.ts';
import { fusedAttentionError } from '../engine/compile.ts';
import { decodeImage, encodeImage } from '../image/codec-web.ts';
import { resize } from '../image/resample.ts';
import { defaultModelOptions, defaultModelPaths } from '../pipelines/load.ts';
import { DOOR_SCALE, withDoorDefaults } from '../pipelines/options.ts';
import { PasdPipeline } from '../pipelines/pasd.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const scope = globalThis as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null; location: Location };
configureWeb({ wasmPaths: new URL('ort/', scope.location.href).href });

const pipelines = new Map<string, PasdPipeline>();

async function pipelineFor(m: Extract<ToWorker, { type: 'run' }>): Promise<PasdPipeline> {
  const key = JSON.stringify([m.model, m.provider, m.precision]);
  let p = pipelines.get(key);
  if (!p) {
    // One model in memory at a time: a browser tab has a few GB at most.
    for (const old of pipelines.values()) await old.release();
    pipelines.clear();
    const runtime = { provider: m.provider, precision: m.precision };
    p = m.model.kind === 'mini' ? PasdPipeline.fromFolders(defaultModelPaths(), runtime) : PasdPipeline.fromPretrained(m.model.model, m.model.base, runtime);
    pipelines.set(key, p);
  }
  return p;
}

async function run(m: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const t0 = performance.now();
    const pipe = await pipelineFor(m);
    const { rgb, alpha } = await decodeImage(m.image, { name: m.name });
    const base = m.model.kind === 'mini' ? defaultModelOptions() : {};
    const options = { ...base, ...withDoorDefaults(m.options, pipe.family.defaults.upscale ?? DOOR_SCALE) };
    const t1 = performance.now();
    const img = await pipe.upscale(rgb, { ...options, onProgress: (progress) => scope.postMessage({ type: 'progress', id: m.id, progress }) });
    const t2 = performance.now();
    // Alpha is upscaled separately with the plain resize, then attached again (as in Node).
    const a = alpha ? resize(alpha, img.width, img.height, 'bicubic') : null;
    const png = await encodeImage(img, { format: 'png', alpha: a });
    const timings = { load: (t1 - t0) / 1000, upscale: (t2 - t1) / 1000, encode: (performance.now() - t2) / 1000 };
    const attentionError = m.provider === 'webgpu' ? await fusedAttentionError() : undefined;
    scope.postMessage({ type: 'done', id: m.id, png, width: img.width, height: img.height, timings, provider: m.provider, attentionError }, [png.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as Error;
    scope.postMessage({ type: 'error', id: m.id, message: err instanceof PasdError ? err.message : `${err.name}: ${err.message}`, name: err.name });
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'mount') for (const f of m.files) mountFile(f.path, f.data);
  else void run(m);
};
