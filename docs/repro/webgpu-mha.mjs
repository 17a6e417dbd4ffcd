// One-node repro: com.microsoft MultiHeadAttention on onnxruntime-node's WebGPU provider.
// Needs only `npm install onnxruntime-node@1.30.0` and a WebGPU adapter (on Linux: a Vulkan
// driver; Mesa's lavapipe >= 25 works without a GPU). Builds the model bytes itself (no
// Python, no onnx package), runs it on CPU and on WebGPU with the same inputs, and prints the
// max |error| of each against a float64 reference, for query lengths around the threshold.
//   node webgpu-mha.mjs          a table
//   node webgpu-mha.mjs --json   one JSON object (what test/runtime/webgpu-defects.test.ts reads)
import * as ort from 'onnxruntime-node';

// --- a minimal protobuf writer, enough for one ONNX node ---
const varint = (n) => { const out = []; let v = BigInt(n); do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; out.push(b); } while (v); return out; };
const key = (field, wire) => varint((field << 3) | wire);
const bytes = (field, data) => [...key(field, 2), ...varint(data.length), ...data];
const str = (field, s) => bytes(field, [...Buffer.from(s, 'utf8')]);
const int = (field, n) => [...key(field, 0), ...varint(n)];
const f32 = (field, x) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return [...key(field, 5), ...b]; };
const FLOAT = 1;
// ValueInfoProto { name, type: TypeProto { tensor_type { elem_type, shape { dim { dim_value } } } } }
const valueInfo = (name, dims) => [...str(1, name), ...bytes(2, bytes(1, [...int(1, FLOAT), ...bytes(2, dims.flatMap((d) => bytes(1, int(1, d))))]))];

function mhaModel(b, n, m, heads, headSize, scale) {
  const c = heads * headSize;
  const node = [
    ...str(1, 'q'), ...str(1, 'k'), ...str(1, 'v'), ...str(2, 'out'), ...str(3, 'mha'), ...str(4, 'MultiHeadAttention'),
    ...bytes(5, [...str(1, 'num_heads'), ...int(3, heads), ...int(20, 2)]),
    ...bytes(5, [...str(1, 'scale'), ...f32(2, scale), ...int(20, 1)]),
    ...str(7, 'com.microsoft'),
  ];
  const graph = [
    ...bytes(1, node), ...str(2, 'mha_repro'),
    ...bytes(11, valueInfo('q', [b, n, c])), ...bytes(11, valueInfo('k', [b, m, c])), ...bytes(11, valueInfo('v', [b, m, c])),
    ...bytes(12, valueInfo('out', [b, n, c])),
  ];
  return Uint8Array.from([
    ...int(1, 8), ...str(2, 'repro'), ...bytes(7, graph),
    ...bytes(8, [...str(1, ''), ...int(2, 17)]), ...bytes(8, [...str(1, 'com.microsoft'), ...int(2, 1)]),
  ]);
}

function reference(q, k, v, b, n, m, heads, d, scale) {
  const c = heads * d, out = new Float64Array(b * n * c), s = new Float64Array(m);
  for (let bi = 0; bi < b; bi++) for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) {
    let mx = -Infinity, z = 0;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += q[(bi * n + i) * c + h * d + t] * k[(bi * m + j) * c + h * d + t];
      s[j] = dot * scale; mx = Math.max(mx, s[j]);
    }
    for (let j = 0; j < m; j++) z += (s[j] = Math.exp(s[j] - mx));
    for (let t = 0; t < d; t++) {
      let acc = 0;
      for (let j = 0; j < m; j++) acc += s[j] * v[(bi * m + j) * c + h * d + t];
      out[(bi * n + i) * c + h * d + t] = acc / z;
    }
  }
  return out;
}

let seed = 1;
const rand = (len) => Float32Array.from({ length: len }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);

async function maxError(provider, model, feeds, want) {
  const s = await ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 3 });
  try {
    const got = (await s.run(feeds)).out.data;
    let e = 0;
    for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
    return e;
  } finally { await s.release(); }
}

const cases = [16, 31, 32, 64, 256].map((n) => ({ batch: 1, queries: n, keys: n, heads: 1, headSize: 32 }))
  .concat([{ batch: 2, queries: 256, keys: 77, heads: 8, headSize: 40 }]);
const rows = [];
let adapter = true, reason = '';
for (const c of cases) {
  const { batch: b, queries: n, keys: m, heads, headSize: d } = c, scale = d ** -0.5;
  const [q, k, v] = [rand(b * n * heads * d), rand(b * m * heads * d), rand(b * m * heads * d)];
  const feeds = { q: new ort.Tensor('float32', q, [b, n, heads * d]), k: new ort.Tensor('float32', k, [b, m, heads * d]), v: new ort.Tensor('float32', v, [b, m, heads * d]) };
  const model = mhaModel(b, n, m, heads, d, scale), want = reference(q, k, v, b, n, m, heads, d, scale);
  const cpu = await maxError('cpu', model, feeds, want);
  let webgpu = null;
  if (adapter) {
    try { webgpu = await maxError('webgpu', model, feeds, want); } catch (e) { adapter = false; reason = String(e.message ?? e).split('\n')[0]; }
  }
  rows.push({ ...c, cpu, webgpu });
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ onnxruntime: ort.env.versions?.node ?? 'unknown', adapter, reason, rows }));
} else {
  console.log(`onnxruntime-node ${ort.env.versions?.node ?? ''}; MultiHeadAttention max |error| vs float64${adapter ? '' : ` (no WebGPU adapter: ${reason})`}`);
  console.log('batch  queries  keys  heads  head size      cpu        webgpu');
  for (const r of rows) console.log(`${String(r.batch).padStart(5)}  ${String(r.queries).padStart(7)}  ${String(r.keys).padStart(4)}  ${String(r.heads).padStart(5)}  ${String(r.headSize).padStart(9)}  ${r.cpu.toExponential(2).padStart(9)}  ${r.webgpu === null ? '-' : r.webgpu.toExponential(2).padStart(9)}`);
}
