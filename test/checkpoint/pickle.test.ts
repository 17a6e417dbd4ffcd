import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type PyValue, PyDict, PyTuple, unpickle } from '../../src/checkpoint/pickle.ts';
import { PickleWriter } from '../../src/checkpoint/pickle-write.ts';
import { TORCH_GLOBALS } from '../../src/checkpoint/torch-pickle.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { tempDir } from './helpers.ts';

const run = (w: PickleWriter | Buffer, globals = TORCH_GLOBALS) =>
  unpickle(w instanceof PickleWriter ? w.bytes() : w, { what: 'test.pkl', globals }).value;

const refuses = (w: PickleWriter | Buffer, msg: RegExp, globals = TORCH_GLOBALS) =>
  assert.throws(() => run(w, globals), (e: unknown) => e instanceof CheckpointError && msg.test(e.message), String(msg));

test('plain values, containers, memo and OrderedDict build', () => {
  const w = new PickleWriter().proto(2)
    .global('collections', 'OrderedDict').put(0).emptyTuple().reduce().put(1)
    .mark()
    .str('a').int(1).str('b').int(-70000).str('big').int(2n ** 70n).str('neg').int(-300)
    .str('f').float(0.1).str('t').mark().none().bool(true).bool(false).tuple()
    .str('l').emptyList().mark().int(65535).get(0).appends().put(2)
    .setitems()
    .str('again').get(2).setitem()
    .emptyDict().str('_metadata').emptyDict().setitem().build()
    .stop();
  const v = run(w) as PyDict;
  assert.ok(v instanceof PyDict && v.ordered);
  assert.equal(v.items.get('a'), 1);
  assert.equal(v.items.get('b'), -70000);
  assert.equal(v.items.get('big'), 2n ** 70n);
  assert.equal(v.items.get('neg'), -300);
  assert.equal(v.items.get('f'), 0.1);
  assert.deepEqual((v.items.get('t') as PyTuple).items, [null, true, false]);
  const l = v.items.get('l') as PyValue[];
  assert.equal(l.length, 2);
  assert.equal(l[0], 65535);
  assert.equal(v.items.get('again'), l, 'memo returns the same object');
  assert.ok(v.state instanceof PyDict && v.state.items.has('_metadata'));
});

test('GLOBAL outside the allowlist is refused by name, whatever the opcode', () => {
  refuses(new PickleWriter().proto(2).global('os', 'system').str('echo hi').tupleN(1).reduce().stop(), /refusing pickle global os\.system/);
  refuses(new PickleWriter().proto(4).str('builtins').str('eval').raw(Buffer.of(0x93)).stop(), /refusing pickle global builtins\.eval/);
  refuses(new PickleWriter().proto(2).global('torch', '_utils._rebuild_tensor_v2').stop(), /refusing pickle global torch\._utils\._rebuild_tensor_v2/);
  refuses(new PickleWriter().proto(2).global('torch', 'ShortStorage').stop(), /refusing pickle global torch\.ShortStorage/);
  refuses(new PickleWriter().proto(2).global('_codecs', 'encode').stop(), /refusing pickle global _codecs\.encode/);
});

test('REDUCE only calls allowlisted callables', () => {
  refuses(new PickleWriter().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop(), /refusing to call pickle global torch\.FloatStorage/);
  refuses(new PickleWriter().proto(2).emptyList().emptyTuple().reduce().stop(), /REDUCE of a list: only allowlisted globals may be called/);
  refuses(new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyList().reduce().stop(), /REDUCE arguments are a list, not a tuple/);
});

test('SETITEM(S) only on dicts, APPEND(S) only on lists, BUILD only dict state on dicts', () => {
  refuses(new PickleWriter().proto(2).emptyList().str('k').int(1).setitem().stop(), /SETITEM\(S\) target is a list, not a dict/);
  refuses(new PickleWriter().proto(2).emptyTuple().mark().str('k').int(1).setitems().stop(), /SETITEM\(S\) target is a tuple/);
  refuses(new PickleWriter().proto(2).emptyDict().int(1).append().stop(), /APPEND\(S\) target is a dict, not a list/);
  refuses(new PickleWriter().proto(2).emptyList().emptyDict().build().stop(), /BUILD of a list/);
  refuses(new PickleWriter().proto(2).emptyDict().str('x').build().stop(), /BUILD of a dict with a string/);
  refuses(new PickleWriter().proto(2).emptyDict().emptyList().int(1).setitem().stop(), /dict key of type a list is not supported/);
});

test('memo and stack bombs hit their caps', () => {
  const memoBomb = Buffer.concat([Buffer.of(0x80, 2, 0x4e), Buffer.alloc(1_100_000, 0x94), Buffer.of(0x2e)]);
  refuses(memoBomb, /memo exceeds 1048576 entries/);
  const stackBomb = Buffer.concat([Buffer.of(0x80, 2), Buffer.alloc(1_100_000, 0x4e), Buffer.of(0x2e)]);
  refuses(stackBomb, /stack exceeds 1048576 entries/);
  const markBomb = Buffer.concat([Buffer.of(0x80, 2), Buffer.alloc(1_100_000, 0x28), Buffer.of(0x2e)]);
  refuses(markBomb, /stack exceeds 1048576 entries/);
});

test('malformed pickles give CheckpointErrors with the byte offset', () => {
  refuses(Buffer.of(0x80, 2, 0x58, 10, 0, 0, 0, 0x61), /unexpected end of pickle data/);
  refuses(Buffer.of(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff), /unexpected end/);
  refuses(Buffer.of(0x80, 2, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), /unexpected end/);
  refuses(Buffer.of(0x80, 2, 0x4e, 0x4e, 0x2e), /STOP with 2 values/);
  refuses(Buffer.of(0x80, 2, 0x2e), /STOP with 0 values/);
  refuses(Buffer.of(0x80, 2, 0x30, 0x2e), /byte 2: unsupported pickle opcode 0x30/);
  refuses(Buffer.of(0x80, 2, 0x81, 0x2e), /unsupported pickle opcode 0x81/); // NEWOBJ
  refuses(Buffer.of(0x80, 2, 0x69, 0x2e), /unsupported pickle opcode 0x69/); // INST
  refuses(Buffer.of(0x80, 2, 0x68, 7, 0x2e), /memo has no entry 7/);
  refuses(Buffer.of(0x80, 2, 0x74, 0x2e), /needs a MARK/);
  refuses(Buffer.of(0x80, 2, 0x28, 0x85, 0x2e), /stack underflow/);
  refuses(Buffer.of(0x80, 2, 0x8c, 2, 0xc3, 0x28, 0x2e), /not valid UTF-8/);
  refuses(Buffer.of(0x80, 9, 0x4e, 0x2e), /unsupported pickle protocol 9/);
  refuses(new PickleWriter().proto(2).mark().str('storage').tuple().persid().stop(), /persistent ids are not allowed/, new Map());
});

test('nothing in a hostile pickle is executed', () => {
  const { dir, cleanup } = tempDir();
  try {
    const marker = join(dir, 'pwned');
    // What CPython would run: os.system("touch <marker>"), and subprocess.Popen via STACK_GLOBAL.
    const payloads = [
      new PickleWriter().proto(2).global('os', 'system').str(`touch ${marker}`).tupleN(1).reduce().stop(),
      new PickleWriter().proto(2).global('posix', 'system').str(`touch ${marker}`).tupleN(1).reduce().stop(),
      new PickleWriter().proto(4).str('subprocess').str('Popen').raw(Buffer.of(0x93)).str('touch').str(marker).tupleN(2).tupleN(1).reduce().stop(),
    ];
    // Spy handlers: an allowlisted name would be the only way to reach code; none may be called.
    const calls: string[] = [];
    const spies = new Map([['collections.OrderedDict', () => { calls.push('OrderedDict'); return null; }]]);
    for (const p of payloads) {
      assert.throws(() => run(p, spies), CheckpointError);
      assert.throws(() => run(p), CheckpointError);
    }
    assert.equal(existsSync(marker), false);
    assert.deepEqual(calls, []);
  } finally {
    cleanup();
  }
});
