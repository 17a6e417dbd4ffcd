// fixText / basicClean against expectations recorded by the original projects: ftfy 6.3's own
// tests (tests/test_entities.py, tests/test_characters.py, tests/test-cases/negative.json —
// texts its mojibake step leaves alone, so our subset must give the same result) and
// transformers' BasicTokenizer behaviour as the fixture's input_ids_without_ftfy pins it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixText, unescapeHtml } from '../../src/tokenizer/text_fix.ts';
import { basicClean } from '../../src/tokenizer/basic_clean.ts';

test('HTML entities as ftfy unescapes them (tests/test_entities.py)', () => {
  assert.equal(fixText('&amp;\n<html>\n&amp;'), '&\n<html>\n&amp;'); // off from the first '<' line on
  assert.equal(fixText('&lt;&gt;'), '<>');
  assert.equal(fixText('jednocze&sacute;nie'), 'jednocześnie');
  assert.equal(fixText('JEDNOCZE&Sacute;NIE'), 'JEDNOCZEŚNIE');
  assert.equal(fixText('broken&#x81;'), 'broken\x81');
  assert.equal(fixText('&amp;amp;amp;'), '&'); // fixed point
  assert.equal(fixText('this is just informal english &not html'), 'this is just informal english &not html');
  assert.equal(unescapeHtml('euro &#x80;'), 'euro €');
  assert.equal(unescapeHtml('EURO &EURO;'), 'EURO €');
  assert.equal(unescapeHtml('not an entity &#20x6;'), 'not an entity &#20x6;');
  assert.equal(unescapeHtml('JEDNOCZE&SACUTE;NIE'), 'JEDNOCZEŚNIE');
  assert.equal(unescapeHtml('V&SCARON;ICHNI'), 'VŠICHNI');
  assert.equal(unescapeHtml('&#xffff;'), '');
  assert.equal(unescapeHtml('&#xffffffff;'), '\ufffd');
  assert.equal(unescapeHtml('&ntilde; &Ntilde; &NTILDE; &nTILDE;'), 'ñ Ñ Ñ &nTILDE;');
  assert.equal(unescapeHtml('&Jscr;ohn &HilbertSpace;ancock'), '𝒥ohn ℋancock');
});

test('control characters, terminal escapes, surrogates (tests/test_characters.py)', () => {
  // ftfy's test checks remove_control_chars alone; fix_text also turns \r\n into \n.
  assert.equal(
    fixText('\ufeffSometimes, \ufffcbad ideas \x7f\ufffalike these characters\ufffb \u206aget standardized.\r\n'),
    'Sometimes, bad ideas like these characters get standardized.\n',
  );
  assert.equal(fixText('\x01\x1b[36;44mfoo'), 'foo');
  const welsh = 'This flag has a dragon on it 🏴󠁧󠁢󠁷󠁬󠁳󠁿';
  assert.equal(fixText(welsh), welsh);
  assert.equal(fixText('a\ud800b\udc00'), 'a\ufffdb\ufffd');
});

test('width, ligatures, quotes, C1 controls, line breaks (ftfy docstrings and negative.json)', () => {
  assert.equal(fixText('ＬＯＵＤ　ＮＯＩＳＥＳ'), 'LOUD NOISES');
  // The fix_text docstring prints "text..." here, but pytest runs ftfy's doctests with
  // ELLIPSIS on, so "..." stands for the '…' that ftfy really returns.
  assert.equal(fixText('Broken text&hellip; it&#x2019;s ﬂubberiﬁc!'), "Broken text… it's flubberific!");
  assert.equal(fixText('Ｕﾀｰﾝ'), 'Uターン');
  assert.equal(fixText('ﬂuﬃeﬆ'), 'fluffiest');
  assert.equal(fixText('higher values (“+” and “×” curves)'), 'higher values ("+" and "×" curves)');
  assert.equal(fixText('L’épisode 8 est trop fou ouahh'), "L'épisode 8 est trop fou ouahh");
  assert.equal(fixText("C'est vrai que nous n'en avons pas encore beaucoup parlé\x85 Tu sais"), "C'est vrai que nous n'en avons pas encore beaucoup parlé… Tu sais");
  assert.equal(fixText('a\u2028b\u2029c\rd'), 'a\nb\nc\nd');
  assert.equal(fixText('cafe\u0301'), 'café'); // NFC
  for (const same of ['Η ¨ανατροφή¨ δυστυχώς', 'SELKÄ\xa0EDELLÄ\xa0MAAHAN', '[x]\xa0©', '(-1/2)! = √π', '├┤a┼┐a┼┐a']) {
    assert.equal(fixText(same), same);
  }
});

test('basicClean: controls dropped, CJK spaced, whitespace collapsed, lower-cased', () => {
  assert.equal(basicClean('  日本語 AND\t中文\x00\u200d  '), '日 本 語 and 中 文');
  assert.equal(basicClean('“Quotes” ＡＢＣ ﬁne'), '“quotes” ａｂｃ ﬁne');
  assert.equal(basicClean('a\u2028b\u3000c'), 'a b c');
});
