// The degradation config: params_realesrgan.yml read through our YAML subset equals the built-in
// default, partial files fall back to it, and bad values throw naming the key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, InputError, UnsupportedError } from '../../src/core/errors.ts';
import { DEFAULT_DEGRADATION_CONFIG, loadDegradationConfig, parseDegradationConfig, parseYamlSubset } from '../../src/degrade/config.ts';

const YML = resolve(process.cwd(), '../shared/data/misc/pasd/params_realesrgan.yml');
let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'pasd-degrade-config-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

test("PASD's params_realesrgan.yml parses to the built-in default", () => {
  const { config, warnings } = loadDegradationConfig(YML);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, DEFAULT_DEGRADATION_CONFIG);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.kernel_info.kernel_list));
});

test('a partial JSON file overrides only its keys; unknown keys warn', () => {
  const path = join(dir, 'partial.json');
  writeFileSync(path, JSON.stringify({ scale: 2, noise_range2: [0, 5], kernel_info: { sinc_prob: 0, bogus: 1 }, extra: true }));
  const { config, warnings } = loadDegradationConfig(path);
  assert.equal(config.scale, 2);
  assert.deepEqual(config.noise_range2, [0, 5]);
  assert.equal(config.kernel_info.sinc_prob, 0);
  assert.equal(config.kernel_info.final_sinc_prob, 0.8);
  assert.equal(config.jpeg_range2[1], 100);
  assert.equal(warnings.length, 2);
  assert.ok(warnings.some((w) => w.includes('kernel_info.bogus')) && warnings.some((w) => w.includes('extra')));
});

test('out-of-range values throw ConfigError naming the key and the file', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ resize_prob: [0.5, 0.5] }, /resize_prob/],
    [{ resize_range: [1.2, 1.5] }, /resize_range/],
    [{ noise_range: [5, 1] }, /noise_range/],
    [{ jpeg_range2: [0, 100] }, /jpeg_range2/],
    [{ jpeg_range: [60, 101] }, /jpeg_range/],
    [{ gaussian_noise_prob: 1.5 }, /gaussian_noise_prob/],
    [{ scale: 2.5 }, /scale/],
    [{ kernel_info: { kernel_prob: [1, 2] } }, /kernel_info\.kernel_prob/],
    [{ kernel_info: { kernel_list: ['iso', 'box'] } }, /kernel_info\.kernel_list/],
    [{ kernel_info: { blur_sigma2: [1, 1] } }, /kernel_info\.blur_sigma2/],
    [{ kernel_info: { betap_range: [1.2, 2] } }, /kernel_info\.betap_range/],
  ];
  for (const [raw, key] of bad)
    assert.throws(() => parseDegradationConfig(raw, 'my.json'), (e: unknown) => e instanceof ConfigError && key.test(e.message) && e.message.startsWith('my.json'), JSON.stringify(raw));
  assert.throws(() => parseDegradationConfig({ color_jitter_prob: 0.3 }), (e: unknown) => e instanceof UnsupportedError && /color_jitter_prob/.test(e.message));
  assert.throws(() => parseDegradationConfig({ kernel_info: { blur_kernel_size: 15 } }), (e: unknown) => e instanceof UnsupportedError && /blur_kernel_size/.test(e.message));
  assert.throws(() => parseDegradationConfig([1, 2]), ConfigError);
});

test('the YAML subset reads nesting, lists, quotes and comments, and refuses the rest', () => {
  const y = parseYamlSubset("a: 1  # c\nb: [0.5, 'x', \"y\", true]\n# full line\nc:\n  d: -2e-3\n  e:\n    f: name\ng: ~\n");
  assert.deepEqual(y, { a: 1, b: [0.5, 'x', 'y', true], c: { d: -0.002, e: { f: 'name' } }, g: null });
  assert.throws(() => parseYamlSubset('a:\n\tb: 1'), ConfigError);
  assert.throws(() => parseYamlSubset('a: [1, 2'), (e: unknown) => e instanceof ConfigError && /yaml:1/.test(e.message));
  assert.throws(() => parseYamlSubset('- 1\n- 2'), ConfigError);
  assert.throws(() => parseYamlSubset('a: 1\na: 2'), /duplicate key a/);
  assert.throws(() => parseYamlSubset('a: {b: 1}'), ConfigError);
});

test('config files: unknown extension, bad JSON and missing files are typed errors', () => {
  const txt = join(dir, 'c.txt');
  writeFileSync(txt, readFileSync(YML));
  assert.throws(() => loadDegradationConfig(txt), (e: unknown) => e instanceof ConfigError && /\.txt/.test(e.message));
  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, '{ scale: 4 }');
  assert.throws(() => loadDegradationConfig(badJson), ConfigError);
  assert.throws(() => loadDegradationConfig(join(dir, 'missing.yml')), InputError);
});
