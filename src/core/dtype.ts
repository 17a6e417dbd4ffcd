/** Element types known to the IR, the checkpoint readers and the runtime. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];

export function isFloat(d: DType): boolean {
  return FLOAT_DTYPES.includes(d);
}

/** Bytes per element. */
export function dtypeSize(d: DType): number {
  switch (d) {
    case 'float64': case 'int64': return 8;
    case 'float32': case 'int32': return 4;
    case 'float16': case 'bfloat16': return 2;
    case 'int8': case 'uint8': case 'bool': return 1;
  }
}

/** Host typed array for each dtype (float16/bfloat16 as raw Uint16 bits). */
export type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;
