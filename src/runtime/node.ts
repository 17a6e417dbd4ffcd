/**
 * onnxruntime-node adapter of `#runtime` (web.ts is the browser's) — the only place that imports onnxruntime in Node.
 * CPU by default; CUDA and WebGPU are opt-in and fail with a ProviderError that names the
 * provider, the reason and what to do.
 *
 * Outputs always come back to host memory. onnxruntime-node 1.30 can leave outputs on the
 * GPU (`preferredOutputLocation: 'gpu-buffer'`) and feed such a tensor to another run, but
 * cannot read one back (its `download` is not implemented in Node), and every output we use
 * is read on the host: the noise prediction by the scheduler step, the VAE's by the tiler and
 * the image code. ControlNet and UNet already run as one graph per step, so no tensor
 * crosses between them; the per-step inputs (latents, a ~6 MB control image at 512², the
 * prompt embeddings) are small next to a step's compute (not yet measured on a GPU).
 */
import * as ort from 'onnxruntime-node';
import { ProviderError, RuntimeBackendError } from '../core/errors.ts';
import { ortSession } from './ort-session.ts';
import type { ModelArtifact, Provider, Session, SessionOptions } from './session.ts';

const CUDA_HINT = 'onnxruntime-node\'s CUDA provider is downloaded separately: reinstall it with `npm install --onnxruntime-node-install=true` on a machine with CUDA 12 and cuDNN 9, or use --provider webgpu or cpu';

function providerList(p: Provider): ort.InferenceSession.ExecutionProviderConfig[] {
  const bundled = ort.listSupportedBackends?.() ?? [];
  const entry = bundled.find((b) => b.name === p);
  if (p !== 'cpu' && !entry)
    throw new ProviderError(p, `provider "${p}" is not available in this onnxruntime-node build (available: ${bundled.map((b) => b.name).join(', ') || 'cpu'}); use --provider cpu`);
  if (p === 'cuda' && entry && !entry.bundled) throw new ProviderError('cuda', `provider "cuda": its binaries are not installed; ${CUDA_HINT}`);
  // CPU after the GPU provider: ops the GPU provider lacks run there.
  return p === 'cpu' ? ['cpu'] : [p, 'cpu'];
}

/** A session-creation failure that is the provider's (no adapter, missing libraries), as a ProviderError. */
export function providerFailure(p: Provider, e: unknown): ProviderError | null {
  const msg = e instanceof Error ? e.message : String(e);
  // onnxruntime prefixes the reason with its source location and the failed check.
  const reason = (msg.match(/Failed to [^\n]*/)?.[0] ?? msg.trim().split('\n')[0]).trim();
  if (p === 'webgpu' && /WebGPU adapter|WebGPU device/i.test(msg))
    return new ProviderError('webgpu', `provider "webgpu": no usable GPU adapter (${reason}). On Linux the WebGPU provider runs on Vulkan: install the GPU driver's Vulkan ICD and the Vulkan loader (libvulkan1), or point VK_DRIVER_FILES at the driver's ICD json; otherwise use --provider cpu`, { cause: e });
  if (p === 'cuda' && /shared library|libcu|cudnn|CUDA/i.test(msg))
    return new ProviderError('cuda', `provider "cuda" could not start (${reason}); ${CUDA_HINT}`, { cause: e });
  return null;
}

export async function createSession(model: ModelArtifact, opts: SessionOptions = {}): Promise<Session> {
  const provider = opts.provider ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providerList(provider),
    graphOptimizationLevel: opts.optimization ?? 'all',
    // Errors only: a GPU provider warns on every session that shape ops run on CPU (by design).
    logSeverityLevel: 3,
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    ...(model.externalFolder ? { extra: { session: { model_external_initializers_file_folder_path: model.externalFolder } } } : {}),
  };
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(model.bytes, options);
  } catch (e) {
    throw providerFailure(provider, e) ?? new RuntimeBackendError(`onnxruntime could not create a ${provider} session: ${(e as Error).message}`, { cause: e });
  }
  return ortSession(s, (type, data, dims) => new ort.Tensor(type as ort.Tensor.Type, data as ort.Tensor.DataType, dims),
    (message, cause) => new RuntimeBackendError(`onnxruntime run failed: ${message}`, { cause }));
}
