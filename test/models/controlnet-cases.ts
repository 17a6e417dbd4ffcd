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
import { ControlNetModel, traceControlNet } from '../../src/models/controlnets/controlnet.ts';
import type { Module } from '../../src/nn/module.ts';
import type { HostTensor } from '../../src/runtime/session.ts';
import { assertClose, fixtureCase, modelDir } from '../parity/fixtures.ts';

export type FixtureCase = ReturnType<typeof fixtureCase>;

export function loadControlNet(name: string): ControlNetModel {
  const folder = loadModelFolder(modelDir(name));
  const net = new ControlNetModel(parseControlNetConfig(folder.config, `${name}/config.json`)).nameTree();
  net.loadWeights(storedTensors(...folder.weightFiles), { what: name });
  return net;
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

/** Runs the ControlNet on a case; outputs are keyed by fixture name without "output.". */
export async function runControlNetCase(net: ControlNetModel, fx: FixtureCase): Promise<Record<string, HostTensor>> {
  const [batch, , height, width] = fx.file.tensors.get('input.sample')!.shape;
  const session = await compileGraph(traceControlNet(net, { batch, height, width }), { cache: false, threads: 2 });
  try {
    const names = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond', 'conditioning_scale'];
    return await session.run(Object.fromEntries(names.map((n) => [n, caseInput(fx, n)])));
  } finally {
    await session.release();
  }
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
