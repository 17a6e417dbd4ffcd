import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { GraphCache } from '../../src/pipelines/graph-cache.ts';

function tiny(n: number): Graph {
  const g = new Graph(`g${n}`);
  const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [n] }));
  g.setOutputs({ y: x.mul(2).value });
  return g;
}

test('graph cache: reuses a shape, keeps at most maxEntries, evicts the least recently used', async () => {
  const cache = new GraphCache({ cache: false, threads: 1 }, 2);
  let traces = 0;
  const get = (n: number) => cache.get(String(n), () => (traces++, tiny(n)));
  const a = await get(1);
  assert.equal(await get(1), a, 'same shape, same compiled graph');
  await get(2);
  await get(1); // 1 is now the most recent
  await get(3); // evicts 2
  assert.equal(cache.size, 2);
  assert.equal(traces, 3);
  await get(1);
  assert.equal(traces, 3, '1 was kept');
  await get(2);
  assert.equal(traces, 4, '2 had been evicted and is traced again');
  const out = await (await get(2)).run({ x: { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) } });
  assert.deepEqual([...(out.y.data as Float32Array)], [2, 4]);
  await cache.release();
  assert.equal(cache.size, 0);
});
