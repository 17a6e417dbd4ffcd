/**
 * Providers and precision: typed errors that name the provider and the reason, fp16 refused
 * on CPU, and the compile cache keyed by precision. The WebGPU and CUDA tests run for real:
 * on a machine with no GPU adapter (this one) they check the error; where the provider
 * starts they check that it computes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProviderError, RuntimeBackendError } from '../../src/core/errors.ts';
import { checkPrecision, compileGraph, compileKey, probeProvider } from '../../src/engine/compile.ts';
import { Graph } from '../../src/ir/graph.ts';
import { printGraph } from '../../src/ir/print.ts';
import { graphKey } from '../../src/runtime/cache.ts';
import { providerFailure } from '../../src/runtime/node.ts';
import type { Provider } from '../../src/runtime/session.ts';

function addGraph(): Graph {
  const g = new Graph('add');
  const x = g.addInput('x', { dtype: 'float32', shape: [3] });
  g.setOutputs({ y: g.addNode('Add', [x, x], [{ dtype: 'float32', shape: [3] }], {}).outputs[0] });
  return g;
}

/** Runs x + x on `provider`; returns the ProviderError when the provider cannot start here. */
async function tryProvider(provider: Provider): Promise<ProviderError | null> {
  try {
    const s = await compileGraph(addGraph(), { provider, cache: false });
    try {
      const r = await s.run({ x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, -2, 0.5) } });
      assert.deepEqual([...(r.y.data as Float32Array)], [2, -4, 1]);
    } finally {
      await s.release();
    }
    return null;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `${provider}: ${(e as Error).name}: ${(e as Error).message}`);
    assert.ok(e instanceof RuntimeBackendError); // doors that map RuntimeBackendError keep working
    assert.equal(e.provider, provider);
    return e;
  }
}

test('webgpu: no adapter is a ProviderError naming webgpu, the reason and what to do (or it computes)', async () => {
  const e = await tryProvider('webgpu');
  if (e === null) return; // a machine with a usable GPU: x + x was checked
  assert.match(e.message, /^provider "webgpu": no usable GPU adapter \(Failed to get a WebGPU adapter[^)]*\)/);
  assert.match(e.message, /Vulkan/);
  assert.match(e.message, /libvulkan1/);
  assert.match(e.message, /--provider cpu/);
  assert.doesNotMatch(e.message, /onnxruntime_src|\.cc:/); // onnxruntime's source location is dropped
  await assert.rejects(probeProvider({ provider: 'webgpu' }), ProviderError);
});

test('cuda: missing binaries are a ProviderError naming cuda and how to install them (or it computes)', async () => {
  const e = await tryProvider('cuda');
  if (e === null) return;
  assert.match(e.message, /^provider "cuda"/);
  assert.match(e.message, /--onnxruntime-node-install=true/);
});

test('fp16 on the CPU provider is refused before anything is exported', async () => {
  assert.throws(() => checkPrecision('cpu', 'fp16'), (e: unknown) => e instanceof ProviderError && e.provider === 'cpu' && /--provider webgpu/.test(e.message));
  assert.throws(() => checkPrecision(undefined, 'fp16'), ProviderError);
  checkPrecision('webgpu', 'fp16');
  checkPrecision('cpu', 'fp32');
  await assert.rejects(compileGraph(addGraph(), { precision: 'fp16', cache: false }), (e: unknown) => e instanceof ProviderError && e.provider === 'cpu');
  await probeProvider({ provider: 'cpu', threads: 1 });
});

test('the compile cache key separates precisions and keeps fp32 keys as before', () => {
  const g = addGraph();
  assert.equal(compileKey(g), graphKey(printGraph(g), []));
  assert.equal(compileKey(g, 'fp32'), compileKey(g));
  assert.notEqual(compileKey(g, 'fp16'), compileKey(g));
});

test('providerFailure leaves other session errors alone', () => {
  assert.equal(providerFailure('webgpu', new Error('Load model failed: invalid protobuf')), null);
  assert.equal(providerFailure('cpu', new Error('Failed to get a WebGPU adapter')), null);
  const e = providerFailure('cuda', new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'));
  assert.ok(e instanceof ProviderError);
  assert.match(e.message, /could not start \(Failed to load shared library\)/);
});
