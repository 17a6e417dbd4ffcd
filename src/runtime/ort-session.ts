/**
 * What both onnxruntime adapters (node.ts, web.ts) share: host tensors ↔ onnxruntime tensors
 * and the `Session` around an onnxruntime InferenceSession. onnxruntime-node and
 * onnxruntime-web have the same Tensor and InferenceSession API (onnxruntime-common); this file
 * names it structurally, so it imports neither package.
 */
import type { DType } from '../core/dtype.ts';
import { RuntimeBackendError } from '../core/errors.ts';
import type { HostTensor, Session } from './session.ts';

/** onnxruntime's tensor type name per dtype (both packages; float64 only where the backend has it). */
export const ORT_TYPES: Partial<Record<DType, string>> = {
  float32: 'float32', float64: 'float64', float16: 'float16', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

interface OrtSessionLike<T extends OrtTensorLike> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, T>): Promise<Record<string, T>>;
  release(): Promise<void>;
  endProfiling(): void;
}

/**
 * A `Session` over an onnxruntime session. `tensor` builds the package's Tensor; `runFailure`
 * turns a failed run into the error the adapter reports (e.g. with a hint for its backend).
 */
export function ortSession<T extends OrtTensorLike>(
  s: OrtSessionLike<T>, tensor: (type: string, data: HostTensor['data'], dims: number[]) => T, runFailure: (message: string, cause: unknown) => Error,
): Session {
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, T> = {};
      for (const [k, v] of Object.entries(feeds)) {
        const type = ORT_TYPES[v.dtype];
        if (!type) throw new RuntimeBackendError(`input "${k}": dtype ${v.dtype} cannot be passed to onnxruntime`);
        ortFeeds[k] = tensor(type, v.data, [...v.shape]);
      }
      let out: Record<string, T>;
      try {
        out = await s.run(ortFeeds);
      } catch (e) {
        throw runFailure((e as Error).message ?? String(e), e);
      }
      const res: Record<string, HostTensor> = {};
      for (const [k, t] of Object.entries(out)) {
        const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === t.type);
        if (!dtype) throw new RuntimeBackendError(`onnxruntime returned output "${k}" of unsupported type ${t.type}`);
        res[k] = { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
      }
      return res;
    },
    release: () => s.release(),
    endProfiling: () => s.endProfiling(),
  };
}
