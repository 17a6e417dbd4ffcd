/**
 * The option table (src/pipelines/options.ts) is the one source of the run options: every
 * door it names takes the option (flag, usage line, JSON name, page field), every option is on
 * the CLI and the server, the choices are the registries', and resolveOptions refuses what
 * would otherwise fail per image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVAL_USAGE } from '../../src/cli/eval.ts';
import { flagValue, optionFlags, optionsFromFlags } from '../../src/cli/options.ts';
import { UPSCALE_USAGE } from '../../src/cli/upscale.ts';
import { COLOR_FIXES } from '../../src/image/colorfix.ts';
import { COLORIZATION_SCHEDULER_CONFIG, SD15_SCHEDULER_CONFIG, defaultModelOptions } from '../../src/pipelines/load.ts';
import { type Door, OPTIONS, OPTION_KEYS, type OptionKey, OptionError, type RunSettings, jsonName, resolveOptions } from '../../src/pipelines/options.ts';
import { autoTileSize, latentTiles, tileCostMs } from '../../src/pipelines/tiles.ts';
import { SCHEDULER_CHOICES } from '../../src/schedulers/index.ts';
import { KNOWN_OPTIONS, parseJobOptions } from '../../src/server/options.ts';
import { loadStaticFiles } from '../../src/server/static.ts';

/** A value each option accepts on its own (the default for numbers and text, a non-default otherwise). */
function sample(k: OptionKey): RunSettings[OptionKey] {
  const s = OPTIONS[k];
  return s.kind === 'boolean' ? true : s.kind === 'choice' ? s.choices.at(-1)! : s.default;
}

const usage: Partial<Record<Door, string>> = { upscale: UPSCALE_USAGE, eval: EVAL_USAGE };
const page = loadStaticFiles().get('/')!.body.toString('utf8');
const served = new Map([['m', { defaults: {}, highLevel: ['caption', 'detection', 'classification'] }]]);

test('every option is on the CLI and the server; each door it names takes it', () => {
  for (const k of OPTION_KEYS) {
    const s = OPTIONS[k];
    for (const door of ['upscale', 'server'] as const) assert.ok(s.doors.includes(door), `${k}: every run option is on ${door}`);
    for (const door of s.doors) {
      if (door === 'upscale' || door === 'eval') {
        assert.ok(optionFlags(door)[s.flag], `${k}: pasd ${door} parses --${s.flag}`);
        assert.match(usage[door]!, new RegExp(`--${s.flag}\\b`), `${k}: pasd ${door} --help lists --${s.flag}`);
        const raw = s.kind === 'boolean' ? true : String(sample(k));
        assert.deepEqual(optionsFromFlags({ [s.flag]: raw }, door), { [k]: sample(k) }, `${k}: --${s.flag} ${raw}`);
      } else {
        assert.ok(KNOWN_OPTIONS.includes(jsonName(k)), `${k}: the server knows "${jsonName(k)}"`);
        const job = parseJobOptions({ [jsonName(k)]: sample(k) }, served);
        assert.equal(job.upscale[k], sample(k), `${k}: the server passes "${jsonName(k)}" on`);
      }
    }
    if (s.page) assert.match(page, new RegExp(`name="${jsonName(k)}" data-option="${k}"`), `${k}: the page has its field`);
  }
  assert.doesNotMatch(page, /<!-- options:/, 'every mark of the page became fields');
});

test('choices come from the registries: a new scheduler is one entry, and every door offers it', () => {
  assert.deepEqual(OPTIONS.scheduler.choices, [...SCHEDULER_CHOICES.keys()]);
  assert.deepEqual(OPTIONS.colorFix.choices, COLOR_FIXES);
  for (const name of SCHEDULER_CHOICES.keys()) {
    assert.match(UPSCALE_USAGE, new RegExp(`--scheduler NAME .*\\b${name}\\b`));
    assert.match(page, new RegExp(`<option>${name}</option>`));
    assert.equal(parseJobOptions({ scheduler: name }, served).upscale.scheduler, name);
    assert.equal(resolveOptions({ scheduler: name }, { schedulerConfig: SD15_SCHEDULER_CONFIG, colorizationSchedulerConfig: COLORIZATION_SCHEDULER_CONFIG }).scheduler, name);
  }
});

test('resolveOptions: what used to fail per image fails once, naming the option', () => {
  const configs = { schedulerConfig: SD15_SCHEDULER_CONFIG, colorizationSchedulerConfig: COLORIZATION_SCHEDULER_CONFIG };
  const refused = (o: Partial<RunSettings>, option: OptionKey, msg: RegExp) =>
    assert.throws(() => resolveOptions(o, configs), (e: unknown) => e instanceof OptionError && e.option === option && msg.test(e.detail), JSON.stringify(o));
  refused({ seed: 1e30 }, 'seed', /integer in \[0, 9007199254740991\]/);
  refused({ steps: 1000, scheduler: 'lcm' }, 'steps', /1000 steps do not fit the scheduler \(lcm\)/);
  refused({ steps: 1, strength: 0.5 }, 'strength', /at least 1/);
  refused({ strength: 0.5, initLatentWithNoise: true }, 'initLatentWithNoise', /strength below 1/);
  refused({ latentTileSize: 64, latentTileOverlap: 64 }, 'latentTileOverlap', /smaller than the tile size 64/);
  refused({ colorize: true, upscale: 2 }, 'upscale', /colorization keeps the input size/);
  refused({ colorize: true, addedPrompt: '8k' }, 'addedPrompt', /prompt alone/);
  refused({ scheduler: 'pndm' as never }, 'scheduler', /expected one of unipc/);
  const o = resolveOptions({ colorize: true, colorFix: 'none' }, configs);
  assert.equal(o.negativePrompt, 'b&w, color bleeding');
  assert.equal(o.upscale, 1);
  assert.throws(() => flagValue('seed', '1e30'), /--seed: expected an integer in \[0, 9007199254740991\], got "1e30"/);
  assert.throws(() => parseJobOptions({ tileSize: 64, tileOverlap: 64 }, served), /tileOverlap: must be smaller/);
});

test("the mini model's defaults.json is checked against the table", () => {
  const d = defaultModelOptions();
  assert.ok(Object.keys(d).length > 0);
  assert.doesNotThrow(() => resolveOptions(d));
});

test("latent tiles: 'auto' picks by the measured cost model; a number tiles as the original", () => {
  assert.equal(OPTIONS.latentTileSize.default, 'auto');
  assert.equal(autoTileSize(96, 96, 8), 96, "the original's 768 px: the whole latent");
  assert.equal(latentTiles(96, 96, autoTileSize(96, 96, 8), 8), null);
  assert.equal(autoTileSize(128, 128, 8), 72, '1024 px: 4 tiles of 72');
  assert.equal(latentTiles(128, 128, 72, 8)!.length, 4);
  assert.ok(4 * tileCostMs(72 * 72) < 0.75 * tileCostMs(128 * 128), 'predicted > 25 % faster than whole');
  assert.equal(autoTileSize(64, 400, 8), 64, 'a long strip runs as tiles of its short side');
  assert.equal(autoTileSize(16, 24, 8), 24, 'small latents run whole');
  assert.equal(flagValue('latentTileSize', 'auto'), 'auto');
  assert.equal(flagValue('latentTileSize', '72'), 72);
  assert.throws(() => flagValue('latentTileSize', 'big'), /--tile-size: expected an integer in \[8, 1024\] or "auto", got "big"/);
  assert.equal(parseJobOptions({ tileSize: 'auto', tileOverlap: 200 }, served).upscale.latentTileSize, 'auto');
});

test('highLevelInfo on the server: only the kinds it has a model for; one model given is the default', () => {
  const bare = new Map([['m', { defaults: {} }]]);
  assert.throws(() => parseJobOptions({ highLevelInfo: 'caption' }, bare), /highLevelInfo: this server has no caption model \(start it with pasd serve --captioner DIR\)/);
  assert.equal(parseJobOptions({ highLevelInfo: 'none' }, bare).upscale.highLevelInfo, 'none');
  const detector = new Map([['m', { defaults: { highLevelInfo: 'detection' as const }, highLevel: ['detection'] }]]);
  assert.equal(parseJobOptions({}, detector).upscale.highLevelInfo, 'detection');
  assert.equal(parseJobOptions({ highLevelInfo: 'none' }, detector).upscale.highLevelInfo, 'none');
  assert.throws(() => parseJobOptions({ highLevelInfo: 'classification' }, detector), /no classification model/);
});
