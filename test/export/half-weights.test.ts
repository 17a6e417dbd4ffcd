/**
 * Float16 weight storage with float32 compute: scripts/half-weights.ts rewrites a weight file
 * as F16; a model bound to it runs (one Cast per weight after its initializer) and matches the
 * float32 model up to the weights' half rounding; non-float32 tensors and metadata are kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { parseVaeConfig } from '../../src/config/vae.ts';
import { Random } from '../../src/core/random.ts';
import { compileGraph } from '../../src/engine/compile.ts';
import { storedTensors } from '../../src/engine/weights.ts';
import { AutoencoderKL, traceVaeDecode } from '../../src/models/autoencoders/autoencoder-kl.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';

test('F16-stored weights (scripts/half-weights.ts) run in float32 and match the F32 model to half rounding', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-half-'));
  try {
    const src = join(modelDir('vae'), 'diffusion_pytorch_model.safetensors');
    const half = join(dir, 'vae.safetensors');
    copyFileSync(src, half);
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/half-weights.ts', half], { stdio: 'pipe' });
    const f16 = openSafetensors(half), f32 = openSafetensors(src);
    assert.ok(statSync(half).size < 0.6 * statSync(src).size);
    for (const e of f32.tensors.values()) assert.equal(f16.tensors.get(e.name)!.dtype, e.dtype === 'float32' ? 'float16' : e.dtype, e.name);
    const config = parseVaeConfig(FixtureSet.open(FIXTURES).model('vae').config);
    const latent = new Random(9).randn(config.latentChannels * 64);
    const decode = async (file: string) => {
      const vae = new AutoencoderKL(config).nameTree();
      vae.loadWeights(storedTensors(openCheckpoint(file)));
      const s = await compileGraph(traceVaeDecode(vae, { batch: 1, height: 8, width: 8 }), { cache: false, threads: 1 });
      try {
        return (await s.run({ latent: { dtype: 'float32', shape: [1, config.latentChannels, 8, 8], data: latent } })).image.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await decode(src), await decode(half)];
    let worst = 0, scale = 0;
    for (let i = 0; i < a.length; i++) { worst = Math.max(worst, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(a[i])); }
    assert.ok(worst > 0, 'the weights were rounded');
    assert.ok(worst < 5e-3 * scale, `max |f32 − f16 weights| = ${worst} (output scale ${scale})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
