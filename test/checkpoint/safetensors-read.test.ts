import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { serializeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { prng, sampleTensors, tempDir } from './helpers.ts';

/** A file made of an 8-byte length, `header` (JSON text) and `dataBytes` zero bytes. */
function craft(header: string | object, dataBytes: number, headerLen?: bigint): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(h.length));
  return Buffer.concat([len, h, Buffer.alloc(dataBytes)]);
}

const F32 = (offs: [number, number], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offs });

const BAD: [string, Buffer, RegExp][] = [
  ['empty file', Buffer.alloc(0), /too short/],
  ['truncated length', Buffer.from([8, 0, 0]), /too short/],
  ['header longer than file', craft({ a: F32([0, 8]) }, 8, 1000n), /larger than the file/],
  ['header over the cap', craft('{}', 0, 200_000_000n), /exceeds the .*cap/],
  ['header length 2^64-1', craft('{}', 0, 2n ** 64n - 1n), /exceeds the .*cap/],
  ['non-JSON header', craft('{"a": {"dtype": "F32",', 8), /not valid JSON/],
  ['JSON array header', craft('[1,2]', 0), /not a JSON object/],
  ['unknown dtype', craft({ a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2), /tensor "a": unsupported dtype "F8_E4M3"/],
  ['negative dim', craft({ a: F32([0, 8], [-2]) }, 8), /invalid shape/],
  ['fractional dim', craft({ a: F32([0, 8], [2.5]) }, 8), /invalid shape/],
  ['offsets reversed', craft({ a: F32([8, 0]) }, 8), /invalid data_offsets/],
  ['offsets not integers', craft({ a: F32(['0', '8'] as unknown as [number, number]) }, 8), /invalid data_offsets/],
  ['dtype x shape != bytes', craft({ a: F32([0, 12]) }, 12), /needs 8 bytes but data_offsets span 12/],
  ['offsets past the end', craft({ a: F32([0, 8]) }, 4), /past the end of the data .*truncated/],
  ['huge shape', craft({ a: F32([0, 8], [2 ** 40, 2 ** 40]) }, 8), /needs .* bytes but data_offsets span 8/],
  ['overlapping tensors', craft({ a: F32([0, 8]), b: F32([4, 12]) }, 12), /tensors "a" and "b" overlap/],
  ['entry not an object', craft({ a: 5 }, 0), /tensor "a": entry is not an object/],
  ['bad __metadata__', craft({ __metadata__: { k: 1 } }, 0), /__metadata__ values must be strings/],
];

test('openSafetensors refuses malformed files with a CheckpointError naming the problem', () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [what, bytes, msg] of BAD) {
      const p = join(dir, 'bad.safetensors');
      writeFileSync(p, bytes);
      assert.throws(() => openSafetensors(p), (e: unknown) => e instanceof CheckpointError && msg.test(e.message), what);
    }
    assert.throws(() => openSafetensors(join(dir, 'missing.safetensors')), /cannot open/);
  } finally {
    cleanup();
  }
});

test('a file truncated after it was opened gives a CheckpointError on read, not zeros', () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'x.safetensors');
    const bytes = Buffer.concat(serializeSafetensors(sampleTensors()));
    writeFileSync(p, bytes);
    const st = openSafetensors(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 30));
    assert.throws(() => st.read('u8'), /file ends before/);
    assert.throws(() => st.read('nope'), /no tensor named "nope"/);
  } finally {
    cleanup();
  }
});

test('fuzz: byte flips and truncations of a valid file give only CheckpointError', () => {
  const { dir, cleanup } = tempDir();
  try {
    const valid = Buffer.concat(serializeSafetensors(sampleTensors(), { format: 'pt' }));
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    const rand = prng(20240601);
    const p = join(dir, 'fuzz.safetensors');
    let refused = 0;
    for (let iter = 0; iter < 400; iter++) {
      let b = Buffer.from(valid);
      const kind = iter % 4;
      if (kind === 0) b = b.subarray(0, Math.floor(rand() * b.length));
      else {
        const flips = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < flips; k++) {
          // Mostly in the header, where the structure is; digits swapped for digits keep the JSON valid.
          const at = kind === 3 ? Math.floor(rand() * b.length) : Math.floor(rand() * headerEnd);
          if (kind === 2 && b[at] >= 0x30 && b[at] <= 0x39) b[at] = 0x30 + Math.floor(rand() * 10);
          else b[at] ^= 1 << Math.floor(rand() * 8);
        }
      }
      writeFileSync(p, b);
      try {
        const st = openSafetensors(p);
        for (const name of st.tensors.keys()) st.readF32(name);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`iteration ${iter}: ${String(e)}`, { cause: e });
        refused++;
      }
    }
    assert.ok(refused > 200, `most mutations are refused (${refused})`);
  } finally {
    cleanup();
  }
});

test('reads the F16 fixture exactly as stored', () => {
  // vae_gn32 stores F16 weights; readF32 must widen them exactly (half → float is exact).
  const p = join(process.cwd(), '../shared/fixtures/models/vae_gn32/diffusion_pytorch_model.safetensors');
  const st = openSafetensors(p);
  const e = st.tensors.get('decoder.conv_in.weight')!;
  assert.equal(e.dtype, 'float16');
  assert.deepEqual(e.shape, [32, 4, 3, 3]);
  const bits = st.read(e.name) as Uint16Array;
  const raw = readFileSync(p).subarray(e.offset, e.offset + e.byteLength);
  assert.equal(bits[5], raw.readUInt16LE(10));
  const f = st.readF32(e.name);
  const back = new Uint16Array(f.length);
  // float32 → half for values that came from halves: exact, so the bits must round-trip.
  const tmp = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < f.length; i++) {
    tmp.setFloat32(0, f[i]);
    const x = tmp.getUint32(0);
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    back[i] = f[i] === 0 ? sign : exp <= 0 ? sign | ((mant | 0x800000) >> (14 - exp)) : sign | (exp << 10) | (mant >> 13);
  }
  assert.deepEqual(back, bits);
});
