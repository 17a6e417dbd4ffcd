/**
 * PASD-SDXL against the original (fixture group `sdxl`): both tokenizers and text encoders,
 * encode_prompt + time ids (`sdxl_text`), the PASD-SDXL ControlNet and UNet with text_embeds /
 * time_ids (`sdxl_models_*`), the whole pipeline through the SDXL model family
 * (`sdxl_pipeline_*`, teacher-forced), all through the parity runner's `sdxl` handler; a
 * free-running `upscale` with the family's defaults; the typed errors of the added conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { ConfigError, ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { makeImage } from '../../src/image/image.ts';
import { SDXL_DEFAULTS } from '../../src/pipelines/families/sdxl/index.ts';
import type { SdxlPaths } from '../../src/pipelines/families/sdxl/load.ts';
import { PasdPipeline, buildPrompt } from '../../src/pipelines/pasd.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { StoredDraws } from '../../src/parity/groups/pipeline.ts';
import { notPassing, runCase } from '../../src/parity/runner.ts';
import { ClipTokenizer, padTokenOf } from '../../src/tokenizer/clip_tokenizer.ts';
import { FIXTURES } from '../parity/fixtures.ts';

const fixtures = FixtureSet.open(FIXTURES);
const cases = fixtures.cases.filter((c) => c.group === 'sdxl');

test('the manifest has the sdxl text, model and pipeline cases', () => assert.ok(cases.length >= 4, `${cases.length} cases`));

for (const c of cases) {
  test(`${c.name}: every output within tolerance`, async (t) => {
    const rows = await runCase(fixtures, c, { threads: 2 });
    assert.ok(rows.length > 0);
    assert.deepEqual(notPassing(rows), []);
    for (const r of rows) t.diagnostic(`${r.output}: ${r.maxAbsDiff?.toExponential(2)} / ${r.tolerance ?? 'exact'}`);
  });
}

test("tokenizer_2's pad token '!' is split off the text and pads", () => {
  const tok = ClipTokenizer.fromFolder(fixtures.path('tokenizer'), { padToken: padTokenOf(fixtures.path('models/sdxl_tokenizer_2')) });
  const ids = Array.from(tok.call(['! !! !!!'], { maxLength: 10 }).inputIds, Number);
  assert.deepEqual(ids, [49406, 0, 0, 0, 0, 0, 0, 49407, 0, 0]);
  assert.equal(ClipTokenizer.fromFolder(fixtures.path('tokenizer')).padId, 49407);
});

test('text_time configs: missing dims and missing / unexpected added conditions are typed errors', () => {
  const raw = fixtures.model('sdxl_unet').config;
  assert.throws(() => parseUNetConfig({ ...raw, addition_time_embed_dim: null }, 'unet', () => {}), ConfigError);
  assert.throws(() => parseUNetConfig({ ...raw, addition_embed_type: 'text' }, 'unet', () => {}), /addition_embed_type/);
  const unet = new PasdUNet2DConditionModel(parseUNetConfig(raw, 'unet', () => {})).nameTree();
  const g = new Graph('t');
  const x = (name: string, shape: number[]) => new Tensor(g, g.addInput(name, { dtype: 'float32', shape }));
  const args = [x('s', [1, 4, 8, 8]), x('t', [1]), x('c', [1, 77, 56]), null] as const;
  assert.throws(() => unet.forward(...args), (e: unknown) => e instanceof ShapeError && /text_embeds and time_ids/.test(e.message));
  assert.throws(() => unet.forward(...args, { textEmbeds: x('p', [1, 19]), timeIds: x('i', [1, 6]) }), (e: unknown) => e instanceof ShapeError && /\[B, 20\]/.test(e.message));
  const sd = new PasdUNet2DConditionModel(parseUNetConfig(fixtures.model('pasd_unet').config, 'unet', () => {})).nameTree();
  assert.throws(() => sd.forward(x('s2', [1, 4, 8, 8]), args[1], x('c2', [1, 77, 32]), null, { textEmbeds: x('p2', [1, 20]), timeIds: x('i2', [1, 6]) }), /no addition_embed_type/);
});

test('upscale() with the SDXL family: found from the UNet config, its defaults, the pure-noise start from the stored draws', async () => {
  const c = cases.find((x) => x.settings !== undefined)!;
  const ctx = fixtures.context(c, { threads: 2 });
  const st = c.settings as Record<string, unknown>;
  const m = (n: string) => fixtures.model(n).dir;
  const pipe = PasdPipeline.fromFolders({
    unet: m('sdxl_unet'), controlnet: m('sdxl_controlnet'), vae: m('sdxl_vae'), textEncoder: m('text_encoder'), textEncoder2: m('sdxl_text_encoder_2'),
    tokenizer: fixtures.path('tokenizer'), tokenizer2: fixtures.path('models/sdxl_tokenizer_2'),
  } as SdxlPaths, { threads: 2, cache: false, warn: () => {} });
  try {
    assert.equal(pipe.family.name, 'sdxl');
    assert.equal(SDXL_DEFAULTS.negativePrompt, st.negative_prompt);
    assert.equal(buildPrompt(st.user_prompt as string, SDXL_DEFAULTS.addedPrompt), st.prompt);
    const draws = StoredDraws.of(ctx);
    const [h, w, ch] = ctx.shape('input.lr_image_u8');
    const lr = makeImage(w, h, ch, Uint8Array.from(ctx.f32('input.lr_image_u8')));
    const out = await pipe.upscale(lr, { upscale: 2, processSize: 64, steps: 4, prompt: st.user_prompt as string, random: draws });
    assert.deepEqual([out.width, out.height], st.final_size_wh);
    assert.equal(draws.left, 0, 'one latent draw, then one per Euler step');
    const want = ctx.f32('output.image_wavelet_color_fix_u8');
    const worst = out.data.reduce((mx, v, i) => Math.max(mx, Math.abs(v - want[i])), 0);
    // Free-running float32 drifts from the float64-checked reference (README: 3.7e-4 in noise_pred by step 4).
    assert.ok(worst <= 2, `free-running image differs by ${worst} levels`);
  } finally {
    await pipe.release();
  }
});
