/**
 * Shared by the ControlNet and PASD-light parity tests: loading a fixture ControlNet,
 * running it on a `models`/`models_light` case, and checking its 16 outputs.
 */
import assert from 'node:assert/strict';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { parseControlNetConfig } from '../../src/config/unet.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensors } from '../../src/engine/weights.ts';
import { ControlNetModel } from '../../src/models/controlnets/controlnet.ts';
import { Graph } from '../../src/ir/graph.ts';
import type { ControlResiduals } from '../../src/models/unets/unet-base.ts';
import type { Module } from '../../src/nn/module.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import type { HostTensor } from '../../src/runtime/session.ts';
import { assertClose, fixtureCase, modelDir } from '../parity/fixtures.ts';

export type FixtureCase = ReturnType<typeof fixtureCase>;

/**
 * A fixture model with its weights bound. `root` names the tree (`root.conv_in.weight`): models
 * traced into one graph need distinct parameter names, since ControlNet and UNet share keys.
 */
export function loadFixtureModel<M extends Module>(name: string, build: (config: Readonly<Record<string, unknown>>) => M, root = ''): M {
  const folder = loadModelFolder(modelDir(name));
  const m = build(folder.config).nameTree(root);
  m.loadWeights(storedTensors(...folder.weightFiles), { what: name });
  return m;
}

export function loadControlNet(name: string, root = ''): ControlNetModel {
  return loadFixtureModel(name, (c) => new ControlNetModel(parseControlNetConfig(c, `${name}/config.json`)), root);
}

/** {key: shape} of the fixture model's weight file, for key-parity tests. */
export function fixtureShapes(name: string): Map<string, number[]> {
  const file = openSafetensors(`${modelDir(name)}/diffusion_pytorch_model.safetensors`);
  return new Map([...file.tensors].map(([k, e]) => [k, [...e.shape]]));
}

export function moduleShapes(m: Module): Map<string, number[]> {
  return new Map([...m.stateShapes()].map(([k, s]) => [k, [...s]]));
}

/** A case input as a runtime feed. */
export function caseInput(fx: FixtureCase, name: string): HostTensor {
  const key = `input.${name}`;
  const shape = fx.file.tensors.get(key)!.shape;
  return name === 'timestep' ? { dtype: 'int64', shape, data: fx.file.read(key) } : { dtype: 'float32', shape, data: fx.file.readF32(key) };
}

/**
 * Asserts every listed `output.<name>` (by prefix) within its manifest tolerance and returns the
 * worst |diff| / tolerance with the output it came from.
 */
export function checkOutputs(fx: FixtureCase, out: Record<string, HostTensor>, prefixes: readonly string[]): { ratio: number; at: string; diff: number } {
  const names = fx.meta.tensors.map((t) => t.name).filter((n) => prefixes.some((p) => n.startsWith(`output.${p}`)));
  assert.ok(names.length > 0, `${fx.meta.name}: no outputs ${prefixes.join(', ')}`);
  let worst = { ratio: 0, at: '', diff: 0 };
  for (const n of names) {
    const key = n.slice('output.'.length);
    const got = out[key];
    assert.ok(got, `missing output ${key}`);
    assert.deepEqual([...got.shape], [...fx.file.tensors.get(n)!.shape], `${key} shape`);
    const tol = fx.tol(n);
    const diff = assertClose(got.data as Float32Array, fx.file.readF32(n), tol, `${fx.meta.name} ${key}`);
    if (diff / tol > worst.ratio) worst = { ratio: diff / tol, at: key, diff };
  }
  return worst;
}

export const CONTROLNET_OUTPUTS = ['rgbs.', 'down_block_res_samples.', 'mid_block_res_sample'];

export interface ControlledUNet {
  forward(sample: Tensor, timestep: Tensor, context: Tensor, control: ControlResiduals): Tensor;
}

/**
 * ControlNet → UNet in one graph, as the pipeline runs them: outputs the 16 ControlNet
 * outputs and noise_pred, so the UNet sees our residuals rather than the fixture's.
 */
export async function runChainedCase(net: ControlNetModel, unet: ControlledUNet, fx: FixtureCase): Promise<Record<string, HostTensor>> {
  const g = new Graph(`chained_${fx.meta.name}`);
  const names = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond', 'conditioning_scale'];
  const feeds = Object.fromEntries(names.map((n) => [n, caseInput(fx, n)]));
  const [sample, timestep, ehs, cond, scale] = names.map((n) => new Tensor(g, g.addInput(n, { dtype: feeds[n].dtype, shape: feeds[n].shape })));
  const c = net.forward(sample, timestep, ehs, cond, scale);
  g.setOutputs({
    ...Object.fromEntries(c.rgbs.map((t, i) => [`rgbs.${i}`, t.value])),
    ...Object.fromEntries(c.down.map((t, i) => [`down_block_res_samples.${i}`, t.value])),
    mid_block_res_sample: c.mid.value,
    noise_pred: unet.forward(sample, timestep, ehs, c).value,
  });
  const session = await compileGraph(g, { cache: false, threads: 2 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
