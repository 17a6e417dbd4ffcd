/**
 * safetensors reader: 8-byte LE header length, JSON header, raw LE data.
 * The header is validated before any tensor is read: size cap, known dtypes, offsets sorted,
 * non-overlapping, inside the file, and dtype × shape = byte length.
 * Tensors are located by absolute file offset so ONNX external data can point into the file.
 */
import { CheckpointError } from '../core/errors.ts';
import { type DType, type HostArray, dtypeSize } from '../core/dtype.ts';
import { type Shape, numel } from '../core/shape.ts';
import { withFile } from './file.ts';
import { duplicateTopLevelKey } from './json-keys.ts';

/** safetensors dtype tag → our DType. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** Largest JSON header we accept (the format's own reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly fileSize: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries in data-offset order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** Reads one tensor into a fresh host array (float16/bfloat16 as raw Uint16 bits). */
  read(name: string): HostArray;
  /** Reads one float tensor converted to Float32Array (F16, BF16, F64, F32, I8/U8 as values). */
  readF32(name: string): Float32Array;
}

function fail(path: string, msg: string): never {
  throw new CheckpointError(`${path}: ${msg}`);
}

export function parseSafetensorsHeader(path: string, headerBytes: Buffer, fileSize: number) {
  let json: unknown;
  try {
    json = JSON.parse(headerBytes.toString('utf8'));
  } catch (e) {
    fail(path, `safetensors header is not valid JSON (${(e as Error).message}); the file is corrupt or not a safetensors file`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(path, 'safetensors header is not a JSON object');
  const twice = duplicateTopLevelKey(headerBytes.toString('utf8'));
  if (twice !== null) fail(path, `safetensors header names "${twice}" twice; which one is meant is ambiguous (JSON.parse would keep the last), so the file is refused`);
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(path, '__metadata__ must be an object of strings');
      for (const v of Object.values(raw)) if (typeof v !== 'string') fail(path, '__metadata__ values must be strings');
      metadata = raw as Record<string, string>;
      continue;
    }
    if (raw === null || typeof raw !== 'object') fail(path, `tensor "${name}": entry is not an object`);
    const { dtype: tag, shape, data_offsets: offs } = raw as Record<string, unknown>;
    if (typeof tag !== 'string' || !(tag in SAFETENSORS_DTYPES)) fail(path, `tensor "${name}": unsupported dtype ${JSON.stringify(tag)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(path, `tensor "${name}": invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0])
      fail(path, `tensor "${name}": invalid data_offsets ${JSON.stringify(offs)}`);
    const dtype = SAFETENSORS_DTYPES[tag];
    const byteLength = offs[1] - offs[0];
    const expected = numel(shape) * dtypeSize(dtype);
    if (expected !== byteLength) fail(path, `tensor "${name}": ${tag}${JSON.stringify(shape)} needs ${expected} bytes but data_offsets span ${byteLength}`);
    if (offs[1] > dataSize) fail(path, `tensor "${name}": data_offsets end ${offs[1]} is past the end of the data (${dataSize} bytes); the file is truncated`);
    entries.push({ name, dtype, shape: shape.slice(), offset: dataStart + offs[0], byteLength });
  }
  entries.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < entries.length; i++) {
    const p = entries[i - 1];
    if (entries[i].offset < p.offset + p.byteLength) fail(path, `tensors "${p.name}" and "${entries[i].name}" overlap`);
  }
  return { metadata, entries };
}

export function openSafetensors(path: string): SafetensorsFile {
  return withFile(path, (f) => {
    const fileSize = f.size;
    if (fileSize < 8) fail(path, `file is ${fileSize} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    f.read(lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_BYTES)) fail(path, `safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
    if (n > BigInt(fileSize - 8)) fail(path, `safetensors header length ${n} is larger than the file; the file is truncated or not safetensors`);
    const header = Buffer.alloc(Number(n));
    f.read(header, 0, header.length, 8);
    const { metadata, entries } = parseSafetensorsHeader(path, header, fileSize);
    const tensors = new Map(entries.map((e) => [e.name, e]));
    return { path, fileSize, metadata, tensors, ...entryReaders(path, tensors) };
  });
}

/** Reads one entry's bytes; a short read means the file shrank after it was opened. */
export function readEntryBytes(path: string, e: TensorEntry): Buffer {
  const buf = Buffer.alloc(e.byteLength);
  withFile(path, (f) => {
    let done = 0;
    while (done < e.byteLength) {
      const n = f.read(buf, done, e.byteLength - done, e.offset + done);
      if (n === 0) fail(path, `tensor "${e.name}": file ends before its ${e.byteLength} bytes at offset ${e.offset}; the file was truncated or changed`);
      done += n;
    }
  });
  return buf;
}

/** `read` / `readF32` over a map of entries of one file (shared by every checkpoint format). */
export function entryReaders(path: string, tensors: ReadonlyMap<string, TensorEntry>): Pick<SafetensorsFile, 'read' | 'readF32'> {
  const get = (name: string): TensorEntry => {
    const e = tensors.get(name);
    if (!e) throw new CheckpointError(`${path}: no tensor named "${name}"`);
    return e;
  };
  return {
    read(name) {
      const e = get(name);
      return bytesToHostArray(readEntryBytes(path, e), e.dtype);
    },
    readF32(name) {
      const e = get(name);
      return toFloat32(bytesToHostArray(readEntryBytes(path, e), e.dtype), e.dtype);
    },
  };
}

/** Copies little-endian bytes into a properly aligned typed array of `dtype`. */
export function bytesToHostArray(buf: Uint8Array, dtype: DType): HostArray {
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (dtype) {
    case 'float32': return new Float32Array(ab);
    case 'float64': return new Float64Array(ab);
    case 'float16': case 'bfloat16': return new Uint16Array(ab);
    case 'int64': return new BigInt64Array(ab);
    case 'int32': return new Int32Array(ab);
    case 'int8': return new Int8Array(ab);
    case 'uint8': case 'bool': return new Uint8Array(ab);
  }
}

/** IEEE half bits → number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export function toFloat32(a: HostArray, dtype: DType): Float32Array {
  if (a instanceof Float32Array) return a;
  const out = new Float32Array(a.length);
  if (dtype === 'float16') for (let i = 0; i < a.length; i++) out[i] = f16ToNumber(a[i] as number);
  else if (dtype === 'bfloat16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < a.length; i++) u[i] = (a[i] as number) << 16;
  } else for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}
