/**
 * safetensors writer, byte-compatible with the reference implementation
 * (huggingface/safetensors `safetensors/src/tensor.rs`, `prepare`): tensors sorted by dtype in
 * descending order of the crate's `Dtype` enum (I64, F64, F32, I32, BF16, F16, I8, U8, BOOL —
 * so every tensor starts aligned to its element size), then by name (byte order); JSON header
 * with `__metadata__` first and `{dtype, shape, data_offsets}` per tensor, padded with spaces
 * to a multiple of 8 bytes. Assumes a little-endian host, like the reader.
 */
import { CheckpointError, ShapeError } from '../core/errors.ts';
import { type DType, type HostArray, dtypeSize } from '../core/dtype.ts';
import { type Shape, fmtShape, numel } from '../core/shape.ts';
import { SAFETENSORS_DTYPES } from './safetensors.ts';
import { writeFileAtomic } from '../core/atomic.ts';

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Host array of the dtype's kind (float16/bfloat16 as raw Uint16 bits, int64 as BigInt64Array). */
  readonly data: HostArray;
}

/** Rank of each dtype in the safetensors crate's `Dtype` enum (its declaration order). */
const DTYPE_RANK: Readonly<Record<DType, number>> = {
  bool: 0, uint8: 1, int8: 2, float16: 7, bfloat16: 8, int32: 9, float32: 11, float64: 12, int64: 13,
};

const TAG_OF = Object.fromEntries(Object.entries(SAFETENSORS_DTYPES).map(([tag, d]) => [d, tag])) as Record<DType, string>;

/** The typed-array constructor that holds each dtype (what the reader's `read` returns). */
const ARRAY_OF: Readonly<Record<DType, string>> = {
  float32: 'Float32Array', float64: 'Float64Array', float16: 'Uint16Array', bfloat16: 'Uint16Array',
  int64: 'BigInt64Array', int32: 'Int32Array', int8: 'Int8Array', uint8: 'Uint8Array', bool: 'Uint8Array',
};

/** Throws unless every tensor has a unique name, a known dtype, a valid shape and matching data. */
export function checkTensorsToWrite(tensors: readonly TensorToWrite[], who: string): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new CheckpointError(`${who}: "__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new CheckpointError(`${who}: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    if (!(t.dtype in DTYPE_RANK)) throw new ShapeError(`${who}: tensor "${t.name}": unsupported dtype ${String(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ShapeError(`${who}: tensor "${t.name}": invalid shape ${fmtShape(t.shape)}`);
    if (t.data.constructor.name !== ARRAY_OF[t.dtype])
      throw new ShapeError(`${who}: tensor "${t.name}": ${t.dtype} data must be a ${ARRAY_OF[t.dtype]}, got ${t.data.constructor.name}`);
    if (t.data.length !== numel(t.shape))
      throw new ShapeError(`${who}: tensor "${t.name}": shape ${fmtShape(t.shape)} has ${numel(t.shape)} elements but data has ${t.data.length}`);
  }
}

export type TensorSpec = Pick<TensorToWrite, 'name' | 'dtype' | 'shape'>;

/** Header bytes (length + padded JSON) and the specs in file order. */
function header<T extends TensorSpec>(tensors: readonly T[], metadata?: Readonly<Record<string, string>>): { head: Uint8Array[]; sorted: T[] } {
  if (metadata) for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw new CheckpointError(`writeSafetensors: metadata "${k}" must be a string`);
  const sorted = [...tensors].sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  // Built by hand: a JS object would move integer-like names ("0", "1") ahead of "__metadata__".
  const parts: string[] = [];
  if (metadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const t of sorted) {
    const n = numel(t.shape) * dtypeSize(t.dtype);
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: TAG_OF[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] })}`);
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), ' ');
  json.copy(padded);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(padded.length));
  return { head: [len, padded], sorted };
}

const bytesOf = (d: HostArray) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** Bytes of a safetensors file holding `tensors` (header + data chunks, not concatenated). */
export function serializeSafetensors(tensors: readonly TensorToWrite[], metadata?: Readonly<Record<string, string>>): Uint8Array[] {
  checkTensorsToWrite(tensors, 'writeSafetensors');
  const { head, sorted } = header(tensors, metadata);
  return [...head, ...sorted.map((t) => bytesOf(t.data))];
}

/**
 * Writes a safetensors file atomically, producing each tensor's data only when it is written,
 * so files larger than memory (full-size random models for benchmarks) can be made.
 */
export function writeSafetensorsStreaming(path: string, specs: readonly TensorSpec[], produce: (spec: TensorSpec) => HostArray, metadata?: Readonly<Record<string, string>>): void {
  const { head, sorted } = header(specs, metadata);
  writeFileAtomic(path, (function* () {
    yield* head;
    for (const s of sorted) {
      const data = produce(s);
      checkTensorsToWrite([{ ...s, data }], 'writeSafetensorsStreaming');
      yield bytesOf(data);
    }
  })(), CheckpointError);
}

/** Writes a safetensors file atomically (temp file + rename). */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata), CheckpointError);
}
