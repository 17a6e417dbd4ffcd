/**
 * The clean-up CLIPTokenizer falls back to when ftfy is not installed:
 * `" ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text))`
 * (transformers `models/clip/tokenization_clip.py` with `BasicTokenizer` from
 * `models/bert/tokenization_bert.py`). With these settings it only removes control
 * characters, spaces out CJK ideographs, NFC-normalises, lower-cases and collapses whitespace;
 * accents stay and punctuation is not split.
 *
 * Character classes come from the JS engine's Unicode tables; Python's `unicodedata` may be
 * an older Unicode version, which only matters for code points unassigned in one of them.
 */

/** `_clean_text`: NUL, U+FFFD and every category C character except \t \n \r are dropped. */
const DROPPED_RE = /[\0\ufffd]|(?![\t\n\r])\p{C}/gu;
/** `_is_whitespace`: \t \n \r and space separators (Zs) become one ASCII space each. */
const WHITESPACE_RE = /[\t\n\r\p{Zs}]/gu;

/** `_is_chinese_char`: the CJK Unified/Compatibility Ideograph blocks BERT spaces out. */
const CJK_RE =
  /[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b820}-\u{2ceaf}\u{2f800}-\u{2fa1f}]/gu;

/**
 * Python's `str.split()` separators that survive `_clean_text`: the ASCII space plus the line
 * and paragraph separators (categories Zl/Zp, which `_clean_text` keeps).
 */
const SPLIT_RE = /[ \u2028\u2029]+/;

/** The text CLIPTokenizer passes to its regex when ftfy is missing. */
export function basicClean(text: string): string {
  const cleaned = text.replace(DROPPED_RE, '').replace(WHITESPACE_RE, ' ').replace(CJK_RE, ' $& ');
  return cleaned
    .normalize('NFC')
    .split(SPLIT_RE)
    .filter((t) => t !== '')
    .map((t) => t.toLowerCase())
    .join(' ');
}
