/**
 * A float32 safetensors file written one tensor at a time: the header only needs names and
 * shapes, so each tensor's data is computed just before it is written and then dropped. Used
 * for merged weights (a blended SD1.5 UNet is 3.4 GB in float32; `writeSafetensors` would need
 * it all in memory). Same layout as `safetensors-write.ts` for a single dtype (tensors in name
 * byte order, header padded with spaces to 8 bytes), written atomically.
 */
import { CheckpointError, ShapeError } from '../core/errors.ts';
import { type Shape, fmtShape, numel } from '../core/shape.ts';
import { writeFileAtomic } from '../core/atomic.ts';

export interface F32TensorPlan {
  readonly name: string;
  readonly shape: Shape;
}

function* chunks(plans: readonly F32TensorPlan[], compute: (name: string) => Float32Array, metadata?: Readonly<Record<string, string>>): Generator<Uint8Array> {
  const parts: string[] = metadata ? [`"__metadata__":${JSON.stringify(metadata)}`] : [];
  let offset = 0;
  for (const p of plans) {
    const n = numel(p.shape) * 4;
    parts.push(`${JSON.stringify(p.name)}:${JSON.stringify({ dtype: 'F32', shape: [...p.shape], data_offsets: [offset, offset + n] })}`);
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const header = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), ' ');
  json.copy(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  yield len;
  yield header;
  for (const p of plans) {
    const data = compute(p.name);
    if (data.length !== numel(p.shape)) throw new ShapeError(`tensor "${p.name}": ${data.length} values computed for shape ${fmtShape(p.shape)}`);
    yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
}

/** Writes float32 tensors whose values `compute(name)` returns, in name order, atomically. */
export function writeF32SafetensorsStreaming(path: string, plans: readonly F32TensorPlan[], compute: (name: string) => Float32Array, metadata?: Readonly<Record<string, string>>): void {
  const names = new Set(plans.map((p) => p.name));
  if (names.size !== plans.length) throw new CheckpointError(`${path}: duplicate tensor names`);
  const sorted = [...plans].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  writeFileAtomic(path, chunks(sorted, compute, metadata), CheckpointError);
}
