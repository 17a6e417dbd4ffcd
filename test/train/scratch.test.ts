/**
 * Training from scratch: component folders holding only config.json are initialised at random
 * (torch defaults, zero convolutions, ControlNet.from_unet copies), train, and are saved with
 * the checkpoint so it is complete. Also: a base UNet without pixel-aware modules (SD1.5-like)
 * gets them initialised while every other weight stays bound to its file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { writeSafetensors } from '../../src/checkpoint/safetensors-write.ts';
import { Random } from '../../src/core/random.ts';
import { train } from '../../src/train/loop.ts';
import { readSourceF32 } from '../../src/train/params.ts';
import { setupTraining } from '../../src/train/setup.ts';
import { FIXTURES, modelDir } from '../parity/fixtures.ts';
import { tinyOptions } from './helpers.ts';

function configOnlyBase(root: string): string {
  const base = join(root, 'base');
  for (const [sub, model] of [['unet', 'pasd_unet'], ['vae', 'vae'], ['text_encoder', 'text_encoder']]) {
    mkdirSync(join(base, sub), { recursive: true });
    copyFileSync(join(modelDir(model), 'config.json'), join(base, sub, 'config.json'));
  }
  symlinkSync(join(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
  return base;
}

const values = (p: { source: unknown; shape: readonly number[] }) => readSourceF32(p.source as never, p.shape.reduce((a, b) => a * b, 1));

test('random init from configs: torch defaults, zero convs, ControlNet copied from the UNet', () => {
  const root = mkdtempSync(join(tmpdir(), 'pasd-scratch-'));
  try {
    const s = setupTraining({ base: configOnlyBase(root) }, new Random(1));
    assert.deepEqual(s.randomFrozen, ['vae', 'text_encoder']);
    const cn = new Map(s.controlnet.namedParameters()), un = new Map(s.unet.namedParameters());
    assert.deepEqual(values(cn.get('conv_in.weight')!), values(un.get('conv_in.weight')!), 'from_unet copies conv_in');
    assert.ok(values(cn.get('controlnet_mid_block.weight')!).every((x) => x === 0), 'zero conv');
    assert.ok(values(cn.get('controlnet_cond_embedding.conv_out.weight')!).every((x) => x === 0), 'zero conv');
    const w = values(un.get('conv_in.weight')!);
    const bound = 1 / Math.sqrt(4 * 3 * 3);
    assert.ok(w.every((x) => Math.abs(x) <= bound) && w.some((x) => Math.abs(x) > bound / 2), 'kaiming-uniform bound 1/√fan_in');
    assert.ok(values(un.get('conv_norm_out.weight')!).every((x) => x === 1) && values(un.get('conv_norm_out.bias')!).every((x) => x === 0), 'norms: 1 and 0');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a base UNet without pixel attention: only the pixel-aware modules are initialised', () => {
  const root = mkdtempSync(join(tmpdir(), 'pasd-scratch-'));
  try {
    const base = join(root, 'base');
    mkdirSync(base);
    for (const [sub, model] of [['vae', 'vae'], ['text_encoder', 'text_encoder']]) symlinkSync(modelDir(model), join(base, sub));
    symlinkSync(join(FIXTURES, 'tokenizer'), join(base, 'tokenizer'));
    // An SD1.5-like UNet: the PASD fixture UNet without its pixel_attentions.
    mkdirSync(join(base, 'unet'));
    copyFileSync(join(modelDir('pasd_unet'), 'config.json'), join(base, 'unet', 'config.json'));
    const full = openSafetensors(join(modelDir('pasd_unet'), 'diffusion_pytorch_model.safetensors'));
    const kept = [...full.tensors.values()].filter((e) => !e.name.includes('pixel_attentions'));
    writeSafetensors(join(base, 'unet', 'diffusion_pytorch_model.safetensors'), kept.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, data: full.read(e.name) })));
    const s = setupTraining({ base }, new Random(2));
    assert.deepEqual(s.randomFrozen, []);
    let initialised = 0;
    for (const [k, p] of s.unet.namedParameters()) {
      assert.equal(p.source!.kind, k.includes('pixel_attentions') ? 'host' : 'file', k);
      if (k.includes('pixel_attentions')) initialised++;
    }
    assert.equal(initialised, full.tensors.size - kept.length);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('train from scratch: 2 steps, checkpoint includes the random VAE and text encoder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pasd-scratch-'));
  try {
    const out = join(root, 'out');
    const r = await train(tinyOptions({ base: configOnlyBase(root), out, maxSteps: 2, checkpointEvery: 2 }));
    assert.ok(r.log.every((l) => Number.isFinite(l.loss) && l.gradNorm > 0));
    for (const sub of ['unet/diffusion_pytorch_model', 'controlnet/diffusion_pytorch_model', 'vae/diffusion_pytorch_model', 'text_encoder/model'])
      assert.ok(existsSync(join(out, 'checkpoint-2', `${sub}.safetensors`)), sub);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
