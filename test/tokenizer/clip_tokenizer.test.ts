// Parity of ClipTokenizer with the slow transformers CLIPTokenizer that PASD's pipeline uses
// (fixture case `clip_tokenizer`: cases/tokenizer.safetensors + cases/tokenizer_prompts.json).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openSafetensors } from '../../src/checkpoint/safetensors.ts';
import { ConfigError, InputError } from '../../src/core/errors.ts';
import { FixtureSet } from '../../src/parity/fixture-set.ts';
import { notPassing, runCase } from '../../src/parity/runner.ts';
import { ClipTokenizer } from '../../src/tokenizer/clip_tokenizer.ts';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
const TOKENIZER_DIR = join(FIXTURES, 'tokenizer');
const prompts: string[] = JSON.parse(readFileSync(join(FIXTURES, 'cases/tokenizer_prompts.json'), 'utf8'));
const fixture = openSafetensors(join(FIXTURES, 'cases/tokenizer.safetensors'));

const ftfyTok = ClipTokenizer.fromFolder(TOKENIZER_DIR);
const fixtures = FixtureSet.open(FIXTURES);

test('clip_tokenizer: input_ids (ftfy and BasicTokenizer fallback) and untruncated lengths exact (procedure in src/parity/groups/text.ts)', async () => {
  const rows = await runCase(fixtures, fixtures.cases.find((c) => c.name === 'clip_tokenizer')!);
  assert.deepEqual(rows.map((r) => r.output).sort(), ['output.input_ids', 'output.input_ids_without_ftfy', 'output.num_content_tokens_untruncated']);
  assert.deepEqual(notPassing(rows), []);
});

test('encode() is the untruncated content, and the long prompts really are truncated', () => {
  const expected = Array.from(fixture.read('output.num_content_tokens_untruncated') as BigInt64Array, Number);
  assert.deepEqual(prompts.map((p) => ftfyTok.encode(p).length), expected);
  assert.ok(expected.some((n) => n > 75));
});

test('maxLength pads and truncates around bos/eos', () => {
  const content = ftfyTok.encode(prompts[1]);
  const { inputIds, shape } = ftfyTok.call([prompts[1]], { maxLength: 4 });
  assert.deepEqual(shape, [1, 4]);
  assert.deepEqual(Array.from(inputIds, Number), [49406, content[0], content[1], 49407]);
  assert.throws(() => ftfyTok.call(['x'], { maxLength: 1 }), ConfigError);
});

const tempDirs: string[] = [];
after(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('special-token strings: cut out before cleaning, or produced by lower-casing', () => {
  // Row 15 of the fixture pins 'a<|endoftext|>b'. Upper case is not split out first, but after
  // lower() CLIP's regex matches the special string and transformers' seeded BPE cache maps
  // it to itself, so it still becomes the eos id.
  assert.deepEqual(ftfyTok.encode('a<|endoftext|>b'), [320, 49407, 321]);
  assert.deepEqual(ftfyTok.encode('A<|ENDOFTEXT|>B'), [320, 49407, 321]);
  assert.deepEqual(ftfyTok.encode('<|startoftext|>'), [49406]);
  assert.throws(() => ftfyTok.call([42 as unknown as string]), InputError);
});

function brokenFolder(vocab: string | null, merges: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'pasd-tok-'));
  tempDirs.push(dir);
  if (vocab !== null) writeFileSync(join(dir, 'vocab.json'), vocab);
  if (merges !== null) writeFileSync(join(dir, 'merges.txt'), merges);
  return dir;
}

test('bad folders raise ConfigError naming the file', () => {
  const goodVocab = readFileSync(join(TOKENIZER_DIR, 'vocab.json'), 'utf8');
  const goodMerges = '#version: 0.2\ni n\n';
  const cases: Array<[string | null, string | null, RegExp]> = [
    [null, goodMerges, /vocab\.json.*ENOENT/],
    [goodVocab, null, /merges\.txt.*ENOENT/],
    ['{"a": 1', goodMerges, /vocab\.json is not valid JSON/],
    ['["a"]', goodMerges, /vocab\.json must be a JSON object/],
    ['{"a": "x"}', goodMerges, /vocab\.json entry "a" has id "x"/],
    ['{"a": 1}', goodMerges, /vocab\.json lacks the special token <\|startoftext\|>/],
    [goodVocab, '#version: 0.2\n', /merges\.txt holds no merges/],
    [goodVocab, '#version: 0.2\ni n\nt h e\n', /merges\.txt: line 3 is "t h e"/],
  ];
  for (const [vocab, merges, message] of cases) {
    assert.throws(() => ClipTokenizer.fromFolder(brokenFolder(vocab, merges)), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => ClipTokenizer.fromFolder(TOKENIZER_DIR, { textCleaning: 'none' as 'ftfy' }), ConfigError);
});
