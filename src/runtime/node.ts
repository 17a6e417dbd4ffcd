/**
 * onnxruntime-node adapter — the only place that imports onnxruntime in Node.
 * CPU by default; CUDA and WebGPU are opt-in and fail with a RuntimeBackendError that names
 * the provider and the reason.
 */
import * as ort from 'onnxruntime-node';
import type { DType } from '../core/dtype.ts';
import { RuntimeBackendError } from '../core/errors.ts';
import type { HostTensor, ModelArtifact, Provider, Session, SessionOptions } from './session.ts';

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32', float64: 'float64', float16: 'float16', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

function toOrt(name: string, t: HostTensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new RuntimeBackendError(`input "${name}": dtype ${t.dtype} cannot be passed to onnxruntime`);
  return new ort.Tensor(type, t.data as ort.Tensor.DataType, [...t.shape]);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === t.type);
  if (!dtype) throw new RuntimeBackendError(`onnxruntime returned an output of unsupported type ${t.type}`);
  return { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
}

function providerList(p: Provider): ort.InferenceSession.ExecutionProviderConfig[] {
  const bundled = ort.listSupportedBackends?.() ?? [];
  const entry = bundled.find((b) => b.name === p);
  if (p !== 'cpu' && !entry)
    throw new RuntimeBackendError(`provider "${p}" is not available in this onnxruntime-node build (available: ${bundled.map((b) => b.name).join(', ') || 'cpu'})`);
  if (p === 'cuda' && entry && !entry.bundled)
    throw new RuntimeBackendError('provider "cuda" needs onnxruntime-node\'s CUDA binaries: reinstall with `npm install --onnxruntime-node-install=true` on a machine with CUDA 12');
  return p === 'cpu' ? ['cpu'] : [p, 'cpu'];
}

export async function createNodeSession(model: ModelArtifact, opts: SessionOptions = {}): Promise<Session> {
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providerList(provider),
    graphOptimizationLevel: opts.optimization ?? 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    ...(model.externalFolder ? { extra: { session: { model_external_initializers_file_folder_path: model.externalFolder } } } : {}),
  };
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(model.bytes, options);
  } catch (e) {
    throw new RuntimeBackendError(`onnxruntime could not create a ${provider} session: ${(e as Error).message}`, { cause: e });
  }
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(k, v);
      let out: ort.InferenceSession.ReturnType;
      try {
        out = await s.run(ortFeeds);
      } catch (e) {
        throw new RuntimeBackendError(`onnxruntime run failed: ${(e as Error).message}`, { cause: e });
      }
      const res: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v);
      return res;
    },
    release: () => s.release(),
    endProfiling: () => s.endProfiling(),
  };
}
