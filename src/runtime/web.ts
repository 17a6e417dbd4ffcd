/**
 * onnxruntime-web adapter of `#runtime` (node.ts is Node's), for the browser build. `cpu`
 * runs on onnxruntime's WebAssembly backend (SIMD; threads when the page is cross-origin
 * isolated), `webgpu` on the page's WebGPU adapter. Weight files reach onnxruntime-web as
 * `externalData`: the bytes of each file the graph's external-data locations point into, read
 * from the page's file tree (src/platform/web.ts) once per session. One ArrayBuffer holds at
 * most 2 GB in Chromium, so a weight file larger than that cannot be handed over (SD1.5's
 * fp16 UNet, 1.7 GB, fits; its fp32 one, 3.4 GB, does not).
 */
import * as ort from 'onnxruntime-web/webgpu';
import { platform } from '#platform';
import type { DType } from '../core/dtype.ts';
import { ProviderError, RuntimeBackendError } from '../core/errors.ts';
import type { HostTensor, ModelArtifact, Provider, Session, SessionOptions } from './session.ts';

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32', float16: 'float16', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool',
};
/** Largest ArrayBuffer Chromium allocates (2 GiB − 1 byte would be the V8 limit on 64-bit; 2^31 is refused). */
const MAX_BUFFER = 2 ** 31 - 1;

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

function externalData(model: ModelArtifact): { path: string; data: Uint8Array }[] {
  if (!model.externalFolder) return [];
  return (model.externalFiles ?? []).map((f) => {
    const size = platform.stat(f)?.size ?? 0;
    if (size > MAX_BUFFER) throw new RuntimeBackendError(`${f}: ${(size / 2 ** 30).toFixed(2)} GiB is more than one browser ArrayBuffer holds (2 GiB); use a float16 copy of the weights or a split (sharded) checkpoint`);
    return { path: platform.path.relative(model.externalFolder!, f), data: platform.readFile(f) };
  });
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === t.type);
  if (!dtype) throw new RuntimeBackendError(`onnxruntime-web returned an output of unsupported type ${t.type}`);
  return { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
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
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) {
        const type = ORT_TYPES[v.dtype];
        if (!type) throw new RuntimeBackendError(`input "${k}": dtype ${v.dtype} cannot be passed to onnxruntime-web`);
        ortFeeds[k] = new ort.Tensor(type, v.data as ort.Tensor.DataType, [...v.shape]);
      }
      let out: ort.InferenceSession.ReturnType;
      try {
        out = await s.run(ortFeeds);
      } catch (e) {
        const msg = (e as Error).message ?? String(e);
        const hint = /memory|allocat|buffer/i.test(msg) ? ' — the device ran out of memory or hit a buffer-size limit: use a smaller image, --process-size or latent tiles, or the WebAssembly backend' : '';
        throw new RuntimeBackendError(`onnxruntime-web run failed: ${msg}${hint}`, { cause: e });
      }
      const res: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v);
      return res;
    },
    release: () => s.release(),
    endProfiling: () => s.endProfiling(),
  };
}
