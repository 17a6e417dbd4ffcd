/**
 * Foundation end to end: a small conv + groupnorm + attention model whose weights sit in a
 * safetensors file and in a PyTorch zip, exported with external data pointing into those
 * files, run by onnxruntime and compared with the float64 reference of the same graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { writeTorchZip } from '../../src/checkpoint/torch-zip-write.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensors } from '../../src/engine/weights.ts';
import { decodeModel } from '../../src/onnx/encode.ts';
import { exportGraph } from '../../src/export/export.ts';
import { Graph } from '../../src/ir/graph.ts';
import { Attention } from '../../src/nn/attention.ts';
import { Conv2d, GroupNorm } from '../../src/nn/layers.ts';
import { Module } from '../../src/nn/module.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { relErr, rng } from '../ops/harness.ts';

class TinyNet extends Module {
  readonly conv_in = new Conv2d(3, 8, 3, { padding: 1 });
  readonly norm = new GroupNorm(2, 8, 1e-6);
  readonly attn = new Attention({ queryDim: 8, heads: 2, dimHead: 4 });
  readonly conv_out = new Conv2d(8, 3, 3, { padding: 1, stride: 2 });

  forward(x: Tensor): Tensor {
    const h = this.norm.forward(this.conv_in.forward(x)).silu();
    const [b, c, hh, ww] = h.shape;
    const tokens = h.reshape([b, c, hh * ww]).transpose([0, 2, 1]); // [B, HW, C]
    const a = this.attn.forward(tokens).transpose([0, 2, 1]).reshape([b, c, hh, ww]);
    return this.conv_out.forward(h.add(a));
  }
}

function randomWeights(m: Module, seed: number) {
  const r = rng(seed);
  return m.namedParameters().map(([name, p]) => ({
    name, dtype: 'float32' as const, shape: p.shape,
    data: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => r() - 0.5),
  }));
}

async function runCase(write: (path: string, tensors: ReturnType<typeof randomWeights>) => void, file: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-tiny-'));
  try {
    const net = new TinyNet().nameTree();
    const path = join(dir, file);
    write(path, randomWeights(net, 7));
    const ckpt = openCheckpoint(path);
    net.loadWeights(storedTensors(ckpt), { what: file });

    const g = new Graph('tiny');
    const x = new Tensor(g, g.addInput('x', { dtype: 'float32', shape: [1, 3, 8, 10] }));
    g.setOutputs({ y: net.forward(x).value });

    // Every parameter is external data into the weight file, with its own offset.
    const model = decodeModel(exportGraph(g).bytes) as { graph: { initializer: { name: string; externalData?: { key: string; value: string }[] }[] } };
    const params = model.graph.initializer.filter((t) => !t.name.startsWith('const'));
    assert.equal(params.length, net.namedParameters().length);
    for (const t of params) {
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      assert.equal(kv.location, file, `${t.name} points into ${file}`);
      assert.equal(Number(kv.offset), ckpt.tensors.get(t.name)!.offset);
    }

    const r = rng(3);
    const xs = Float32Array.from({ length: 240 }, () => r() * 2 - 1);
    const session = await compileGraph(g, { cache: false, threads: 1 });
    const y = (await session.run({ x: { dtype: 'float32', shape: [1, 3, 8, 10], data: xs } })).y;
    await session.release();
    assert.deepEqual([...y.shape], [1, 3, 4, 5]);

    const feeds = new Map(g.params.map((p) => [p, { dtype: 'float64' as const, shape: p.shape, data: Float64Array.from(ckpt.readF32(p.name!)) }]));
    feeds.set(x.value, { dtype: 'float64', shape: x.shape, data: Float64Array.from(xs) });
    const want = evaluateRef(g, feeds).get(g.outputs[0])!.data;
    const err = relErr(y.data as Float32Array, want);
    assert.ok(err < 1e-5, `onnxruntime vs float64 reference: ${err}`);
    assert.ok(statSync(path).size > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('tiny conv+groupnorm+attention model: weights in safetensors, read in place by onnxruntime', async () => {
  await runCase((p, t) => writeSafetensors(p, t), 'tiny.safetensors');
});

test('tiny conv+groupnorm+attention model: weights in a PyTorch zip, read in place by onnxruntime', async () => {
  await runCase((p, t) => writeTorchZip(p, t), 'tiny.bin');
});
