/**
 * LPIPS (AlexNet and VGG16 backbones, v0.1 heads) against the `lpips_pairs` fixture case
 * (richzhang/PerceptualSimilarity with the fixtures' int8 random backbones and the real heads):
 * distances and per-layer terms within the manifest's tolerance_max_abs; key parity with the
 * fixture files; folder errors.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { LpipsMetric, nhwcU8ToNchw01 } from '../../src/metrics/lpips.ts';
import { Lpips } from '../../src/models/lpips/lpips.ts';
import { assertClose, fixtureCase, modelDir } from '../parity/fixtures.ts';

const fx = fixtureCase('lpips_pairs');
const metrics = new Map<string, LpipsMetric>();
after(async () => { for (const m of metrics.values()) await m.release(); });

function batch(name: string) {
  return nhwcU8ToNchw01(fx.file.readF32(name), fx.file.tensors.get(name)!.shape);
}

for (const net of ['alex', 'vgg'] as const) {
  test(`LPIPS-${net}: key parity with the fixture backbone + heads`, () => {
    const want = new Map<string, number[]>();
    for (const f of ['backbone.safetensors', 'lin.safetensors'])
      for (const [k, e] of openSafetensors(join(modelDir(`lpips_${net}`), f)).tensors) want.set(k, [...e.shape]);
    const got = new Map([...new Lpips({ net, weightExp: {} }).stateShapes()].map(([k, s]) => [k, [...s]]));
    assert.deepEqual(got, want);
  });

  test(`LPIPS-${net}: distances and per-layer terms match lpips_pairs`, async () => {
    const m = LpipsMetric.load(modelDir(`lpips_${net}`), { cache: false, threads: 1 });
    metrics.set(net, m);
    for (const tag of ['ex', 'monarch']) {
      const a = batch(`input.${tag}_in0_u8`), b = batch(`input.${tag}_in1_u8`);
      const r = await m.compare(a.data, b.data, a.shape);
      for (const [out, got] of [['distance', r.distance], ['per_layer', r.perLayer]] as const) {
        const name = `output.${tag}_${net}_${out}`;
        assertClose(got, fx.file.readF32(name), fx.tol(name), name);
      }
    }
  });
}

test('LPIPS folders: missing files, config and int8 weights without scales are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-lpips-'));
  try {
    assert.throws(() => LpipsMetric.load(dir), /no config\.json.*lpips_net/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ lpips_net: 'squeeze' }));
    assert.throws(() => LpipsMetric.load(dir), /"lpips_net" = "squeeze" is not supported \(supported: alex, vgg\)/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ lpips_net: 'alex' }));
    assert.throws(() => LpipsMetric.load(dir), /no backbone\.safetensors or backbone\.pth/);
    copyFileSync(join(modelDir('lpips_alex'), 'backbone.safetensors'), join(dir, 'backbone.safetensors'));
    copyFileSync(join(modelDir('lpips_vgg'), 'lin.safetensors'), join(dir, 'lin.safetensors'));
    assert.throws(() => LpipsMetric.load(dir), /"features\.0\.weight" is stored as int8 without a "weight_exp" entry/);
    copyFileSync(join(modelDir('lpips_alex'), 'config.json'), join(dir, 'config.json'));
    assert.throws(() => LpipsMetric.load(dir), /mis-shaped keys.*lin1\.model\.1\.weight: expected \[1,192,1,1\], found \[1,128,1,1\]/s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
