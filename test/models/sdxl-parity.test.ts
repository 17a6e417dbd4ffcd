/**
 * PASD-SDXL against the original (fixture group `sdxl`): both tokenizers and text encoders,
 * encode_prompt + time ids (`sdxl_text`), the PASD-SDXL ControlNet and UNet with text_embeds /
 * time_ids (`sdxl_models_*`), through the parity runner's `sdxl` handler. Plus the typed
 * errors of the added conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUNetConfig } from '../../src/config/unet.ts';
import { ConfigError, ShapeError } from '../../src/core/errors.ts';
import { Graph } from '../../src/ir/graph.ts';
import { PasdUNet2DConditionModel } from '../../src/models/unets/pasd-unet.ts';
import { Tensor } from '../../src/ops/tensor.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { notPassing, runCase } from '../../src/parity/runner.ts';
import { ClipTokenizer, padTokenOf } from '../../src/tokenizer/clip_tokenizer.ts';
import { FIXTURES } from '../parity/fixtures.ts';

const fixtures = FixtureSet.open(FIXTURES);
const cases = fixtures.cases.filter((c) => c.group === 'sdxl' && c.settings === undefined);

test('the manifest has the sdxl text and model cases', () => assert.ok(cases.length >= 3, `${cases.length} cases`));

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
