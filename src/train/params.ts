/**
 * Trainable parameters on the host: their float32 values (what the optimizer updates and the
 * step graph is fed), read once from where the weights live (a weight file or host memory).
 */
import { readEntryBytes, bytesToHostArray, toFloat32 } from '../checkpoint/safetensors.ts';
import { numel } from '../core/shape.ts';
import { StateDictError } from '../core/errors.ts';
import type { WeightSource } from '../ir/graph.ts';
import type { Parameter } from '../nn/module.ts';

/** The values of a weight source as a fresh Float32Array (F16/BF16/F64 converted). */
export function readSourceF32(src: WeightSource, shapeNumel: number): Float32Array {
  if (src.kind === 'host') {
    const data = toFloat32(src.data, src.dtype);
    // toFloat32 returns float32 input as is: never alias the module's weights.
    return data === src.data ? data.slice() : data;
  }
  const bytes = readEntryBytes(src.path, { name: '', dtype: src.dtype, shape: [shapeNumel], offset: src.offset, byteLength: src.byteLength });
  return toFloat32(bytesToHostArray(bytes, src.dtype), src.dtype);
}

/** Current float32 values of `params` (copies). */
export function parameterValues(params: readonly Parameter[]): Float32Array[] {
  return params.map((p) => {
    if (!p.source) throw new StateDictError(`parameter "${p.name}" has no weights: load or initialise the model first`);
    return readSourceF32(p.source, numel(p.shape));
  });
}

/** Points each parameter at host values (after a step or a resume, for checkpointing and inference). */
export function bindHostValues(params: readonly Parameter[], values: readonly Float32Array[]): void {
  params.forEach((p, i) => { p.source = { kind: 'host', data: values[i], dtype: 'float32' }; });
}
