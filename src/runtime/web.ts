/**
 * onnxruntime-web adapter of `#runtime` (node.ts is Node's), for the browser build. `cpu`
 * runs on onnxruntime's WebAssembly backend (SIMD; threads when the page is cross-origin
 * isolated), `webgpu` on the page's WebGPU adapter. Weight files reach onnxruntime-web as
 * `externalData`: the bytes of each file the graph's external-data locations point into, read
 * from the page's file tree (src/platform/web.ts) once per session.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { platform } from '#platform';
import { ProviderError, RuntimeBackendError } from '../core/errors.ts';
import { ortSession } from './ort-session.ts';
import type { ModelArtifact, Provider, Session, SessionOptions } from './session.ts';

/** Where onnxruntime-web's .wasm/.mjs files are served (the site's `ort/` folder), set by the page before any session. */
export function configureWeb(o: { wasmPaths: string; threads?: number }): void {
  ort.env.wasm.wasmPaths = o.wasmPaths;
  if (o.threads) ort.env.wasm.numThreads = o.threads;
  ort.env.logLevel = 'error';
}

function backend(p: Provider): string {
  if (p === 'cpu') return 'wasm';
  if (p === 'webgpu') {
    if (!(globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) throw new ProviderError('webgpu', 'provider "webgpu": this browser exposes no WebGPU (navigator.gpu is missing); use the WebAssembly backend (cpu)');
    return 'webgpu';
  }
  throw new ProviderError(p, `provider "${p}" does not exist in the browser; use cpu (WebAssembly) or webgpu`);
}

/**
 * The weight files' bytes as onnxruntime-web's `externalData`, each read whole. Chromium 156
 * allocated ArrayBuffers of 2, 3 and 4 GiB in a Worker here (8 GiB failed), so the bound is the
 * memory the tab gets, not a fixed size; a file that cannot be held is named in the error.
 */
function externalData(model: ModelArtifact): { path: string; data: Uint8Array }[] {
  if (!model.externalFolder) return [];
  return (model.externalFiles ?? []).map((f) => {
    let data: Uint8Array;
    try {
      data = platform.readFile(f);
    } catch (e) {
      if (!(e instanceof RangeError) && (e as Error).name !== 'NotReadableError') throw e;
      const gib = ((platform.stat(f)?.size ?? 0) / 2 ** 30).toFixed(2);
      throw new RuntimeBackendError(`${f}: the browser could not hold this ${gib} GiB weight file in memory (${(e as Error).message}); use float16 weights or a sharded checkpoint`, { cause: e });
    }
    return { path: platform.path.relative(model.externalFolder!, f), data };
  });
}

export async function createSession(model: ModelArtifact, opts: SessionOptions = {}): Promise<Session> {
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [backend(provider)],
    graphOptimizationLevel: opts.optimization ?? 'all',
    logSeverityLevel: 3,
    externalData: externalData(model),
  };
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(model.bytes, options);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (provider === 'webgpu' && /adapter|device|webgpu/i.test(msg)) throw new ProviderError('webgpu', `provider "webgpu" could not start (${msg}); use the WebAssembly backend (cpu)`, { cause: e });
    throw new RuntimeBackendError(`onnxruntime-web could not create a ${provider} session: ${msg}`, { cause: e });
  }
  return ortSession(s, (type, data, dims) => new ort.Tensor(type as ort.Tensor.Type, data as ort.Tensor.DataType, dims), (message, cause) => {
    const hint = /memory|allocat|buffer/i.test(message) ? ' — the device ran out of memory or hit a buffer-size limit: use a smaller image, --process-size or latent tiles, or the WebAssembly backend' : '';
    return new RuntimeBackendError(`onnxruntime-web run failed: ${message}${hint}`, { cause });
  });
}
