/**
 * Minimal ZIP reader/writer for PyTorch checkpoints (APPNOTE.TXT 6.3; PyTorch writes them with
 * miniz from `caffe2/serialize/inline_container.cc`). The reader parses the central directory
 * itself (with ZIP64), validates every entry against the file and its local header, and gives
 * the absolute offset of each entry's data so tensors can be read, or mapped, in place.
 * Nothing is decompressed: PyTorch stores its records uncompressed and callers refuse others.
 */
import type { ReadHandle } from '../platform/types.ts';
import { platform } from '#platform';
import { CheckpointError } from '../core/errors.ts';
import { writeFileAtomic } from '../core/atomic.ts';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored; anything else is compressed. */
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
  /** Absolute offset of the entry's (stored) bytes. */
  readonly dataOffset: number;
}

/** Caps that keep a hostile directory from costing more than its own size. */
export const MAX_ZIP_ENTRIES = 1_000_000;
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const U32_MAX = 0xffffffff;
/** A fixed timestamp keeps written archives reproducible. */
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;

function fail(path: string, msg: string): never {
  throw new CheckpointError(`${path}: ${msg}`);
}

/** Reads exactly `len` bytes at `pos` of a file of `fileSize` bytes, or throws naming `what`. */
export function readAt(f: ReadHandle, fileSize: number, pos: number, len: number, path: string, what: string): Buffer {
  if (pos < 0 || len < 0 || pos + len > fileSize) fail(path, `${what} at offset ${pos} (+${len}) lies outside the ${fileSize}-byte file; the zip is truncated or corrupt`);
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = f.read(buf, done, len - done, pos + done);
    if (n === 0) fail(path, `unexpected end of file reading ${what}`);
    done += n;
  }
  return buf;
}

function u64(buf: Buffer, at: number, path: string, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(path, `zip ${what} ${v} is too large`);
  return Number(v);
}

/** Locates the central directory through the (ZIP64) end-of-central-directory records. */
function findCentralDirectory(f: ReadHandle, fileSize: number, path: string) {
  const tailLen = Math.min(fileSize, EOCD_SIZE + 0xffff);
  const tail = readAt(f, fileSize, fileSize - tailLen, tailLen, path, 'zip end record');
  let at = -1;
  // The comment length must land exactly on the end of the file; this rejects stray signatures.
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLen) { at = i; break; }
  }
  if (at < 0) fail(path, 'no zip end-of-central-directory record; not a zip file or truncated');
  const eocdPos = fileSize - tailLen + at;
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) fail(path, 'multi-disk zip archives are not supported');
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  let cdLimit = eocdPos;
  if (eocdPos >= 20) {
    const loc = readAt(f, fileSize, eocdPos - 20, 20, path, 'zip64 locator');
    if (loc.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      const z64Pos = u64(loc, 8, path, 'zip64 end record offset');
      if (z64Pos + 56 > eocdPos - 20) fail(path, `zip64 end record offset ${z64Pos} is out of place`);
      const z = readAt(f, fileSize, z64Pos, 56, path, 'zip64 end record');
      if (z.readUInt32LE(0) !== SIG_ZIP64_EOCD) fail(path, 'zip64 end record has a bad signature');
      if (z.readUInt32LE(16) !== 0 || z.readUInt32LE(20) !== 0) fail(path, 'multi-disk zip archives are not supported');
      count = u64(z, 32, path, 'entry count');
      cdSize = u64(z, 40, path, 'central directory size');
      cdOffset = u64(z, 48, path, 'central directory offset');
      cdLimit = z64Pos;
    }
  }
  if (count > MAX_ZIP_ENTRIES) fail(path, `zip has ${count} entries, more than the ${MAX_ZIP_ENTRIES} allowed`);
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) fail(path, `zip central directory of ${cdSize} bytes exceeds the cap`);
  if (cdOffset + cdSize > cdLimit) fail(path, `zip central directory (offset ${cdOffset}, ${cdSize} bytes) overruns the end records`);
  if (count * 46 > cdSize) fail(path, `zip central directory of ${cdSize} bytes cannot hold ${count} entries`);
  return { count, cdSize, cdOffset };
}

/** Reads and validates the central directory; entries in directory order. */
export function readZipDirectory(f: ReadHandle, path: string): ZipEntry[] {
  const fileSize = f.size;
  const { count, cdSize, cdOffset } = findCentralDirectory(f, fileSize, path);
  const cd = readAt(f, fileSize, cdOffset, cdSize, path, 'zip central directory');
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cd.readUInt32LE(p) !== SIG_CENTRAL) fail(path, `zip central directory entry ${i} is corrupt`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const disk = cd.readUInt16LE(p + 34);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(path, `zip central directory entry ${i} runs past the directory`);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // ZIP64 extended information (header id 1): only the fields saturated in the entry appear.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (e + 4 + len > p + 46 + nameLen + extraLen) fail(path, `zip entry "${name}": extra field runs past its end`);
      if (id === 1) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(path, `zip entry "${name}": zip64 field lacks the ${what}`);
          const v = u64(cd, q, path, what);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take('size');
        if (compressedSize === U32_MAX) compressedSize = take('compressed size');
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take('local header offset');
      }
      e += 4 + len;
    }
    p = end;
    if (disk !== 0 && disk !== 0xffff) fail(path, 'multi-disk zip archives are not supported');
    if (names.has(name)) fail(path, `zip has two entries named "${name}"`);
    names.add(name);
    const local = readAt(f, fileSize, localHeaderOffset, 30, path, `local header of "${name}"`);
    if (local.readUInt32LE(0) !== SIG_LOCAL) fail(path, `zip entry "${name}": local header has a bad signature`);
    const lNameLen = local.readUInt16LE(26);
    const lExtraLen = local.readUInt16LE(28);
    const lName = readAt(f, fileSize, localHeaderOffset + 30, lNameLen, path, `local name of "${name}"`).toString('utf8');
    if (lName !== name) fail(path, `zip entry "${name}": local header names "${lName}"`);
    const dataOffset = localHeaderOffset + 30 + lNameLen + lExtraLen;
    if (dataOffset + compressedSize > cdOffset) fail(path, `zip entry "${name}": its ${compressedSize} bytes at ${dataOffset} overrun the central directory; the file is truncated or corrupt`);
    entries.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset, dataOffset });
  }
  // Entries must not share bytes: overlapping entries are a known zip-bomb and parser-confusion trick.
  const byPos = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byPos.length; i++) {
    const prev = byPos[i - 1];
    if (byPos[i].localHeaderOffset < prev.dataOffset + prev.compressedSize) fail(path, `zip entries "${prev.name}" and "${byPos[i].name}" overlap`);
  }
  return entries;
}

/** Throws unless `e` is stored uncompressed and unencrypted (so its bytes can be used in place). */
export function requireStored(e: ZipEntry, path: string): void {
  if (e.flags & 1) fail(path, `zip entry "${e.name}" is encrypted; encrypted checkpoints are not supported`);
  if (e.method === 0 && e.compressedSize !== e.size)
    fail(path, `zip entry "${e.name}" is stored (method 0) but its sizes disagree: ${e.compressedSize} bytes stored, ${e.size} declared; the file is corrupt`);
  if (e.method !== 0)
    fail(path, `zip entry "${e.name}" is compressed (method ${e.method}); weights must be stored uncompressed to be read in place. ` +
      'Re-save it with torch.save (which stores entries uncompressed) or convert the checkpoint to .safetensors');
}

/** Reads a whole stored entry and checks its CRC-32 (for small records such as data.pkl). */
export function readStoredEntry(f: ReadHandle, e: ZipEntry, path: string, maxBytes: number): Buffer {
  requireStored(e, path);
  if (e.size > maxBytes) fail(path, `zip entry "${e.name}" is ${e.size} bytes, more than the ${maxBytes} allowed`);
  const buf = readAt(f, f.size, e.dataOffset, e.size, path, `zip entry "${e.name}"`);
  if (platform.crc32(buf) !== e.crc32) fail(path, `zip entry "${e.name}" fails its CRC-32 check; the file is corrupt`);
  return buf;
}

export interface ZipRecord {
  readonly name: string;
  readonly data: Uint8Array;
}

/**
 * Writes a zip of stored records, laid out as PyTorch's writer does: each record's data starts
 * at a multiple of `align` thanks to an "FB" extra field of padding in its local header
 * (inline_container.cc `getPadding`), and ZIP64 end records follow the directory (miniz with
 * MZ_ZIP_FLAG_WRITE_ZIP64). Records and the archive stay under 4 GiB (a test/export helper).
 */
export function writeStoredZip(path: string, records: readonly ZipRecord[], align = 64): void {
  const chunks: Uint8Array[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const pad = (align - ((pos + 30 + name.length + 4) % align)) % align;
    const extra = Buffer.alloc(4 + pad, 'Z');
    extra.write('FB', 0, 'latin1');
    extra.writeUInt16LE(pad, 2);
    const crc = platform.crc32(r.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(r.data.byteLength, 18);
    local.writeUInt32LE(r.data.byteLength, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(SIG_CENTRAL, 0);
    cd.writeUInt16LE(20, 4); // version made by
    cd.writeUInt16LE(20, 6); // version needed
    cd.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(r.data.byteLength, 20);
    cd.writeUInt32LE(r.data.byteLength, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(pos, 42);
    central.push(cd, name);
    chunks.push(local, name, extra, r.data);
    pos += 30 + name.length + extra.length + r.data.byteLength;
    if (pos >= U32_MAX) throw new CheckpointError(`${path}: writeStoredZip supports archives under 4 GiB`);
  }
  const cdOffset = pos;
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const z64 = Buffer.alloc(56 + 20);
  z64.writeUInt32LE(SIG_ZIP64_EOCD, 0);
  z64.writeBigUInt64LE(44n, 4); // size of the remaining record
  z64.writeUInt16LE(45, 12);
  z64.writeUInt16LE(45, 14);
  z64.writeBigUInt64LE(BigInt(records.length), 24);
  z64.writeBigUInt64LE(BigInt(records.length), 32);
  z64.writeBigUInt64LE(BigInt(cdSize), 40);
  z64.writeBigUInt64LE(BigInt(cdOffset), 48);
  z64.writeUInt32LE(SIG_ZIP64_LOCATOR, 56);
  z64.writeBigUInt64LE(BigInt(cdOffset + cdSize), 64);
  z64.writeUInt32LE(1, 72);
  const eocd = Buffer.alloc(EOCD_SIZE);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(Math.min(records.length, 0xffff), 8);
  eocd.writeUInt16LE(Math.min(records.length, 0xffff), 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  writeFileAtomic(path, [...chunks, ...central, z64, eocd], CheckpointError);
}
