/**
 * PASD UNet parity: the fixture's ControlNet residuals are fed as inputs, so the UNet with
 * pixel-aware attention is checked on its own (noise_pred) for every `models` case.
 */
import { test } from 'node:test';
import { loadModelFolder } from '../../src/checkpoint/folder.ts';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensor } from '../../src/engine/weights.ts';
import { Graph } from '../../src/ir/graph.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import type { HostTensor } from '../../src/runtime/session.ts';
import { assertClose, casesOf, fixtureCase, modelDir } from '../parity/fixtures.ts';

const folder = loadModelFolder(modelDir('pasd_unet'));
const unet = new PasdUNet2DConditionModel(parseUNetConfig(folder.config)).nameTree();
unet.loadWeights(new Map([...folder.tensors].map(([k, t]) => [k, storedTensor(t.file.path, t.entry)])), { what: 'pasd_unet' });

for (const c of casesOf('models').filter((c) => c.models?.includes('pasd_unet'))) {
  test(`PASD UNet noise_pred matches the original: ${c.name}`, async () => {
    const fx = fixtureCase(c.name);
    const g = new Graph(`unet_${c.name}`);
    const feeds: Record<string, HostTensor> = {};
    const input = (name: string, key: string) => {
      const e = fx.file.tensors.get(key)!;
      const t = new Tensor(g, g.addInput(name, { dtype: e.dtype, shape: e.shape }));
      feeds[name] = { dtype: e.dtype, shape: e.shape, data: fx.file.read(key) };
      return t;
    };
    const sample = input('sample', 'input.sample');
    const timestep = input('timestep', 'input.timestep');
    const ehs = input('encoder_hidden_states', 'input.encoder_hidden_states');
    const down = Array.from({ length: 12 }, (_, i) => input(`down_${i}`, `output.down_block_res_samples.${i}`));
    const mid = input('mid', 'output.mid_block_res_sample');
    g.setOutputs({ noise_pred: unet.forward(sample, timestep, ehs, { down, mid }).value });
    const s = await compileGraph(g, { cache: false, threads: 2 });
    const out = await s.run(feeds);
    await s.release();
    assertClose(out.noise_pred.data as Float32Array, fx.file.readF32('output.noise_pred'), fx.tol('output.noise_pred'), `${c.name} noise_pred`);
  });
}
