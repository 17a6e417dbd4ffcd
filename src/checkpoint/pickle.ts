/**
 * A pickle interpreter that executes nothing. It understands the opcodes `torch.save` emits for
 * a state dict (protocol 2, as written by Python 3's and Python 2's `pickle`; see CPython
 * `Lib/pickletools.py` for the opcode table) and builds plain values. A GLOBAL resolves only
 * if its name is in the caller's allowlist; REDUCE calls only the caller's handler for an
 * allowlisted name; SETITEM(S) works only on dicts, APPEND(S) only on lists, BUILD only sets
 * a dict's state. Memo and stack are capped; every opcode consumes input, so it always ends.
 * Why not `torch.load`-style unpickling: that runs arbitrary callables (the original PASD loads
 * `.ckpt`/`.bin` files with bare `torch.load`).
 */
import { CheckpointError } from '../core/errors.ts';

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | Uint8Array | PyTuple | PyValue[] | PyDict | PyGlobal | PyRef;

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  readonly items = new Map<PyKey, PyValue>();
  /** The object state set by BUILD (OrderedDict state dicts carry `{_metadata: ...}`). */
  state: PyValue = null;
  constructor(readonly ordered: boolean) {}
}

/** A reference to an allowlisted global, e.g. `torch.FloatStorage`. Never called by itself. */
export class PyGlobal {
  constructor(readonly qualname: string) {}
}

/** Base of the values that allowlisted handlers build (tensors, storages). */
export abstract class PyRef {}

/** Handler for REDUCE of an allowlisted global; `null` in the map = may be referenced, not called. */
export type PyCallable = (args: readonly PyValue[]) => PyValue;

export interface PickleLimits {
  /** Most memo entries. */
  readonly maxMemo: number;
  /** Most values plus marks on the stack at once. */
  readonly maxStack: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = { maxMemo: 1 << 20, maxStack: 1 << 20 };

export interface UnpickleOptions {
  /** Names the pickle in errors, e.g. `model.bin: archive/data.pkl`. */
  readonly what: string;
  /** Allowlist keyed by `module.name`. */
  readonly globals: ReadonlyMap<string, PyCallable | null>;
  readonly persistentLoad?: (pid: PyValue) => PyValue;
  readonly limits?: Partial<PickleLimits>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isPyKey(v: PyValue): v is PyKey {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** `collections.OrderedDict(...)`: no argument, or one list of [key, value] pairs (Python 2's reduce). */
export const makeOrderedDict: PyCallable = (args) => {
  const d = new PyDict(true);
  if (args.length === 0) return d;
  const pairs = args[0];
  if (args.length !== 1 || !Array.isArray(pairs)) throw new CheckpointError('collections.OrderedDict: expected no arguments or one list of pairs');
  for (const p of pairs) {
    const kv = p instanceof PyTuple ? p.items : p;
    if (!Array.isArray(kv) || kv.length !== 2 || !isPyKey(kv[0])) throw new CheckpointError('collections.OrderedDict: each item must be a [key, value] pair with a plain key');
    d.items.set(kv[0], kv[1]);
  }
  return d;
};

/**
 * Runs one pickle starting at `start`; returns the value left by STOP and the offset after it.
 * Throws CheckpointError for anything outside the supported subset.
 */
export function unpickle(data: Uint8Array, opts: UnpickleOptions, start = 0): { value: PyValue; end: number } {
  const limits = { ...DEFAULT_PICKLE_LIMITS, ...opts.limits };
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = start;
  let opPos = start;

  const fail: (msg: string) => never = (msg) => {
    throw new CheckpointError(`${opts.what}: pickle byte ${opPos}: ${msg}`);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > buf.length) fail('unexpected end of pickle data; the file is truncated or corrupt');
    const at = pos;
    pos += n;
    return at;
  };
  const push = (v: PyValue): void => {
    if (stack.length + marks.length >= limits.maxStack) fail(`pickle stack exceeds ${limits.maxStack} entries`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('pickle stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    const v = pop();
    stack.push(v);
    return v;
  };
  const popMark = (): PyValue[] => {
    if (marks.length === 0) fail('pickle opcode needs a MARK but none is set');
    return stack.splice(marks.pop() as number);
  };
  const text = (at: number, n: number): string => {
    try {
      return utf8.decode(buf.subarray(at, at + n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const put = (i: number): void => {
    if (!memo.has(i) && memo.size >= limits.maxMemo) fail(`pickle memo exceeds ${limits.maxMemo} entries`);
    memo.set(i, top());
  };
  const get = (i: number): void => {
    if (!memo.has(i)) fail(`pickle memo has no entry ${i}`);
    push(memo.get(i) as PyValue);
  };
  const global = (module: string, name: string): void => {
    const q = `${module}.${name}`;
    if (!/^[A-Za-z_][\w.]*$/.test(module) || !/^[A-Za-z_]\w*$/.test(name) || !opts.globals.has(q))
      fail(`refusing pickle global ${JSON.stringify(q).slice(1, -1)}: only plain tensor data is loaded (allowed: ${[...opts.globals.keys()].join(', ')}). ` +
        'Convert the checkpoint to .safetensors with a trusted Python environment');
    push(new PyGlobal(q));
  };
  const setItems = (dict: PyValue, kv: PyValue[]): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM(S) target is ${describe(dict)}, not a dict`);
    if (kv.length % 2) fail('SETITEMS needs an even number of items');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isPyKey(k)) fail(`dict key of type ${describe(k)} is not supported`);
      dict.items.set(k, kv[i + 1]);
    }
  };
  const append = (list: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(list)) fail(`APPEND(S) target is ${describe(list)}, not a list`);
    for (const v of items) list.push(v);
  };

  for (;;) {
    opPos = pos;
    const op = buf[need(1)];
    switch (op) {
      case 0x80: { // PROTO
        const v = buf[need(1)];
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: need(8); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        if (marks.length || stack.length !== 1) fail(`STOP with ${stack.length} values and ${marks.length} marks left on the stack`);
        return { value: stack[0], end: pos };
      }
      case 0x7d: push(new PyDict(false)); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x28: // MARK
        if (stack.length + marks.length >= limits.maxStack) fail(`pickle stack exceeds ${limits.maxStack} entries`);
        marks.push(stack.length);
        break;
      case 0x74: push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x4a: push(buf.readInt32LE(need(4))); break; // BININT
      case 0x4b: push(buf[need(1)]); break; // BININT1
      case 0x4d: push(buf.readUInt16LE(need(2))); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        const n = buf[need(1)];
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]);
        if (n > 0 && buf[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x58: { const n = buf.readUInt32LE(need(4)); push(text(need(n), n)); break; } // BINUNICODE
      case 0x8c: { const n = buf[need(1)]; push(text(need(n), n)); break; } // SHORT_BINUNICODE
      case 0x8d: { // BINUNICODE8
        const n = Number(buf.readBigUInt64LE(need(8)));
        push(text(need(n), n));
        break;
      }
      // Python 2 str (legacy torch files); torch.load decodes them as UTF-8.
      case 0x54: { const n = buf.readInt32LE(need(4)); push(text(need(n), n)); break; } // BINSTRING
      case 0x55: { const n = buf[need(1)]; push(text(need(n), n)); break; } // SHORT_BINSTRING
      case 0x42: { const n = buf.readUInt32LE(need(4)); push(Uint8Array.from(buf.subarray(need(n), pos))); break; } // BINBYTES
      case 0x43: { const n = buf[need(1)]; push(Uint8Array.from(buf.subarray(need(n), pos))); break; } // SHORT_BINBYTES
      case 0x47: push(buf.readDoubleBE(need(8))); break; // BINFLOAT
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4e: push(null); break; // NONE
      case 0x71: put(buf[need(1)]); break; // BINPUT
      case 0x72: put(buf.readUInt32LE(need(4))); break; // LONG_BINPUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x68: get(buf[need(1)]); break; // BINGET
      case 0x6a: get(buf.readUInt32LE(need(4))); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const nl1 = buf.indexOf(0x0a, pos);
        const nl2 = nl1 < 0 ? -1 : buf.indexOf(0x0a, nl1 + 1);
        if (nl2 < 0 || nl2 - pos > 512) fail('malformed GLOBAL');
        const module = buf.toString('latin1', pos, nl1);
        const name = buf.toString('latin1', nl1 + 1, nl2);
        pos = nl2 + 1;
        global(module, name);
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        global(module, name);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail(`REDUCE of ${describe(fn)}: only allowlisted globals may be called`);
        const handler = opts.globals.get(fn.qualname);
        if (!handler) fail(`refusing to call pickle global ${fn.qualname}: it may only be referenced`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments are ${describe(args)}, not a tuple`);
        try {
          push(handler(args.items));
        } catch (e) {
          if (e instanceof CheckpointError) fail(`${fn.qualname}: ${e.message}`);
          throw e;
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not allowed in this pickle');
        try {
          push(opts.persistentLoad(pid));
        } catch (e) {
          if (e instanceof CheckpointError) fail(`persistent id: ${e.message}`);
          throw e;
        }
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x62: { // BUILD: torch emits it only to give an OrderedDict its `_metadata` attribute
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict) || !(state === null || state instanceof PyDict)) fail(`BUILD of ${describe(obj)} with ${describe(state)} is not supported (only dict state on a dict)`);
        obj.state = state;
        break;
      }
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}; only the opcodes of a plain state dict are accepted`);
    }
  }
}

/** Short type name of a value, for error messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyGlobal) return `the global ${v.qualname}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyRef) return `a ${v.constructor.name}`;
  return `a ${typeof v}`;
}
