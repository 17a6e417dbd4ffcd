/**
 * A small protocol-2 pickle emitter: one method per opcode, with the integer and memo opcodes
 * chosen as CPython's `pickle._Pickler` chooses them (`save_long`, `put`, `get`). It builds
 * the `data.pkl` of test and exported PyTorch checkpoints, and lets tests craft hostile pickles.
 */
export class PickleWriter {
  private readonly chunks: Buffer[] = [];

  private op(code: number, payload?: Buffer): this {
    this.chunks.push(Buffer.of(code));
    if (payload) this.chunks.push(payload);
    return this;
  }

  /** Raw bytes, for crafting malformed input. */
  raw(bytes: Uint8Array): this {
    this.chunks.push(Buffer.from(bytes));
    return this;
  }

  proto(v = 2): this { return this.op(0x80, Buffer.of(v)); }
  stop(): this { return this.op(0x2e); }
  mark(): this { return this.op(0x28); }
  emptyDict(): this { return this.op(0x7d); }
  emptyList(): this { return this.op(0x5d); }
  emptyTuple(): this { return this.op(0x29); }
  none(): this { return this.op(0x4e); }
  bool(v: boolean): this { return this.op(v ? 0x88 : 0x89); }
  reduce(): this { return this.op(0x52); }
  build(): this { return this.op(0x62); }
  persid(): this { return this.op(0x51); }
  setitem(): this { return this.op(0x73); }
  setitems(): this { return this.op(0x75); }
  append(): this { return this.op(0x61); }
  appends(): this { return this.op(0x65); }
  memoize(): this { return this.op(0x94); }

  /** TUPLE after a MARK. */
  tuple(): this { return this.op(0x74); }

  /** TUPLE1/2/3 of the top n values (n in 1..3). */
  tupleN(n: 1 | 2 | 3): this { return this.op(0x84 + n); }

  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return this.op(0x4b, Buffer.of(v));
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 65536) {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(v);
      return this.op(0x4d, b);
    }
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(v);
      return this.op(0x4a, b);
    }
    // LONG1: shortest little-endian two's complement
    let x = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = bytes[bytes.length - 1] & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    return this.op(0x8a, Buffer.from([bytes.length, ...bytes]));
  }

  float(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return this.op(0x47, b);
  }

  /** BINUNICODE (what protocol 2 uses for every str). */
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return this.op(0x58, Buffer.concat([len, b]));
  }

  global(module: string, name: string): this {
    return this.op(0x63, Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }

  put(i: number): this {
    if (i < 256) return this.op(0x71, Buffer.of(i));
    const b = Buffer.alloc(4);
    b.writeUInt32LE(i);
    return this.op(0x72, b);
  }

  get(i: number): this {
    if (i < 256) return this.op(0x68, Buffer.of(i));
    const b = Buffer.alloc(4);
    b.writeUInt32LE(i);
    return this.op(0x6a, b);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
