/**
 * The whole training-step gradient (ControlNet → PASD UNet → MSE + Σ L1 of train_pasd.py)
 * against central finite differences of the same loss, both in float64 with the reference
 * evaluator: the fixture's tiny PASD UNet + ControlNet at the smallest latent they accept
 * (8×8, batch 1 — the bottom block is 1×1), sampled parameter elements across the ControlNet
 * (cond embedding, to-RGB, down/mid blocks, zero convs) and the UNet's pixel_attentions at
 * several depths (one element each, drawn with a seeded RNG).
 *
 * The full tiny models run through the reference evaluator fast enough that no reduced config
 * is needed: measured ~0.5 s to trace, ~2.2 s for forward + backward (14k nodes), ~0.4 s per
 * forward-only loss, so ~13 s for 14 probes × 2 evaluations on one core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseControlNetConfig, parseUNetConfig } from '../../src/config/unet.ts';
import { numel } from '../../src/core/shape.ts';
import { Graph, type Value } from '../../src/ir/graph.ts';
import { ControlNetModel } from '../../src/models/controlnets/controlnet.ts';
import { evaluateRef } from '../../src/ops/evaluate.ts';
import type { RefTensor } from '../../src/ops/types.ts';
import { buildUNet, folderWeights } from '../../src/train/models.ts';
import { parameterValues, readSourceF32 } from '../../src/train/params.ts';
import { gradName, trainableParameters, traceTrainStep } from '../../src/train/step-graph.ts';
import { rng } from '../ops/harness.ts';
import { modelDir } from '../parity/fixtures.ts';

const quiet = () => {};

function tinyModels() {
  const uf = loadModelFolder(modelDir('pasd_unet')), cf = loadModelFolder(modelDir('pasd_controlnet'));
  const unet = buildUNet(parseUNetConfig(uf.config, 'pasd_unet/config.json', quiet), 'pasd');
  unet.nameTree('unet').loadWeights(folderWeights(uf), { what: 'unet' });
  const controlnet = new ControlNetModel(parseControlNetConfig(cf.config, 'pasd_controlnet/config.json', quiet));
  controlnet.nameTree('controlnet').loadWeights(folderWeights(cf), { what: 'controlnet' });
  return { unet, controlnet };
}

/** The nodes the loss depends on: everything traced before the backward pass, up to the loss. */
function forwardOnly(g: Graph, loss: Value): Graph {
  const f = new Graph(`${g.name}_forward`);
  f.inputs.push(...g.inputs);
  f.params.push(...g.params);
  f.nodes.push(...g.nodes.slice(0, g.nodes.indexOf(loss.producer!) + 1));
  return f;
}

/** Parameter names to probe, with one element index each (chosen by a seeded draw). */
const PROBES = [
  'controlnet.controlnet_cond_embedding.conv_in.weight',
  'controlnet.controlnet_cond_embedding.blocks.3.bias',
  'controlnet.controlnet_cond_embedding.conv_out.weight',
  'controlnet.controlnet_cond_embedding.to_rgbs.1.weight',
  'controlnet.conv_in.weight',
  'controlnet.time_embedding.linear_1.weight',
  'controlnet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight',
  'controlnet.down_blocks.2.resnets.1.norm1.weight',
  'controlnet.mid_block.attentions.0.proj_out.weight',
  'controlnet.controlnet_down_blocks.5.weight',
  'controlnet.controlnet_mid_block.bias',
  'unet.up_blocks.1.pixel_attentions.0.transformer_blocks.0.attn2.to_v.weight',
  'unet.up_blocks.2.pixel_attentions.1.norm.bias',
  'unet.up_blocks.3.pixel_attentions.2.proj_in.weight',
];

test('whole tiny UNet+ControlNet loss gradient matches finite differences (float64 reference)', (t) => {
  const t0 = performance.now();
  const { unet, controlnet } = tinyModels();
  const params = trainableParameters(controlnet, unet);
  const step = traceTrainStep(controlnet, unet, params, { batch: 1, height: 64, width: 64, latentFactor: 8, latentChannels: 4, seqLen: 4, contextDim: 32 });
  const { graph: g } = step;
  const out = (name: string) => g.outputs[g.outputNames.indexOf(name)];
  const loss = out('loss');
  const fwd = forwardOnly(g, loss);

  // Feeds in float64: random step inputs, trainable parameters as inputs, frozen ones from their files.
  const r = rng(7);
  const feeds = new Map<Value, RefTensor>();
  const byName = new Map(params.map((p, i) => [p.name, i]));
  const values = parameterValues(params);
  for (const v of g.inputs) {
    const n = numel(v.shape), i = byName.get(v.name!);
    let data: Float64Array;
    if (i !== undefined) data = Float64Array.from(values[i]);
    else if (v.name === 'timesteps') data = Float64Array.of(Math.floor(r() * 1000));
    else if (v.name === 'controlnet_cond') data = Float64Array.from({ length: n }, r);
    else data = Float64Array.from({ length: n }, () => 2 * r() - 1);
    feeds.set(v, { dtype: v.dtype, shape: v.shape, data });
  }
  for (const v of g.params) feeds.set(v, { dtype: v.dtype, shape: v.shape, data: Float64Array.from(readSourceF32(v.source!, numel(v.shape))) });

  const t1 = performance.now();
  const env = evaluateRef(g, feeds);
  const t2 = performance.now();
  const lossAt = () => evaluateRef(fwd, feeds).get(loss)!.data[0];
  assert.equal(lossAt(), env.get(loss)!.data[0], 'the forward-only graph gives the same loss');
  const t3 = performance.now();

  const report: string[] = [];
  for (const name of PROBES) {
    const i = byName.get(name);
    assert.ok(i !== undefined, `${name} is trainable`);
    assert.ok(step.hasGrad[i], `${name} reaches the loss`);
    const p = feeds.get(g.inputs.find((v) => v.name === name)!)!.data;
    const j = Math.floor(r() * p.length);
    const analytic = env.get(out(gradName(params[i])))!.data[j];
    const x0 = p[j], h = 1e-4 * Math.max(1, Math.abs(x0));
    p[j] = x0 + h;
    const up = lossAt();
    p[j] = x0 - h;
    const down = lossAt();
    p[j] = x0;
    const numeric = (up - down) / (2 * h);
    const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-8);
    report.push(`${name}[${j}] ${analytic.toExponential(3)} rel ${rel.toExponential(1)}`);
    assert.ok(rel <= 1e-5, `${name}[${j}]: autodiff ${analytic} vs finite difference ${numeric} (rel ${rel})`);
  }
  report.push(`trace+feeds ${(t1 - t0).toFixed(0)} ms, forward+backward ${(t2 - t1).toFixed(0)} ms, forward ${(t3 - t2).toFixed(0)} ms, ${g.nodes.length} nodes`);
  t.diagnostic(report.join('; '));
});
