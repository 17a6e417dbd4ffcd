/**
 * The text clean-up CLIPTokenizer runs before BPE when ftfy is installed (PASD's environment):
 * `ftfy.fix_text(text)` with ftfy 6.x defaults (ftfy `__init__.py` `fix_text` /
 * `fix_and_explain`, fixers in `fixes.py`, tables in `chardata.py`).
 *
 * Implemented, in ftfy's order and with its fixed-point loop per line:
 * unescape_html ("auto": skipped from the first line containing '<' on), fix_c1_controls,
 * fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates,
 * remove_terminal_escapes, remove_control_chars, NFC.
 *
 * Not implemented: `fix_encoding` (mojibake repair: the `is_bad` heuristic with its
 * encode/decode search, restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8).
 * ftfy leaves ASCII text and text that its heuristic does not judge "bad" untouched in that
 * step, so correctly encoded prompts come out the same; only mojibake like "cafÃ©" differs
 * (ftfy would turn it into "café", we keep it).
 */
import HTML_ENTITIES from './html_entities.json' with { type: 'json' };

/**
 * Windows-1252 as ftfy's "sloppy-windows-1252" decodes bytes 0x80..0x9F: the five bytes
 * Windows-1252 leaves undefined (81, 8D, 8F, 90, 9D) decode to the same-numbered C1 code
 * point. Python's `html.unescape` uses the same table for `&#128;`..`&#159;`.
 */
const CP1252_80_9F =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

/**
 * Named references: WHATWG's list (Python `html.entities.html5`) restricted like ftfy's
 * `_build_html_entities`: names ending in ';' plus ALL-CAPS variants of lower-case names that
 * are not entities themselves (`&EACUTE;` → 'É'), keys without '&' and ';', only the names
 * ftfy's entity regex can match (1..24 ASCII letters/digits).
 */
const NAMED = HTML_ENTITIES as Readonly<Record<string, string>>;

/** ftfy `HTML_ENTITY_RE`. */
const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** Code points Python's `html.unescape` drops from numeric references (`_invalid_codepoints`). */
function isInvalidCodepoint(cp: number): boolean {
  return (cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** Python `html.unescape` of a whole `&#…;` reference; null where it would decode only a prefix. */
function numericReference(body: string): string | null {
  const m = /^(?:([0-9]+)|[xX]([0-9a-fA-F]+))$/.exec(body);
  if (m === null) return null;
  const cp = m[1] !== undefined ? Number(m[1]) : parseInt(m[2], 16);
  if (cp === 0) return '\ufffd';
  if (cp === 0xd) return '\r';
  if (cp >= 0x80 && cp <= 0x9f) return CP1252_80_9F[cp - 0x80];
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(cp)) return '';
  return String.fromCodePoint(cp);
}

/** ftfy `unescape_html` / `_unescape_fixup`: only `&…;` forms, never `&amp` without ';'. */
export function unescapeHtml(text: string): string {
  return text.replace(HTML_ENTITY_RE, (ref) => {
    const body = ref.slice(1, -1);
    if (body[0] !== '#') return Object.hasOwn(NAMED, body) ? NAMED[body] : ref;
    const decoded = numericReference(body.slice(1));
    // ftfy keeps the reference when the decoded text still holds a ';' (e.g. `&#59;`).
    return decoded === null || decoded.includes(';') ? ref : decoded;
  });
}

const C1_CONTROL_RE = /[\x80-\x9f]/g;
/** ftfy `fix_c1_controls`: C1 controls read as their Windows-1252 characters, as browsers do. */
function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL_RE, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80]);
}

/** ftfy `chardata.LIGATURES`: Latin ligatures and digraphs only (other scripts are left alone). */
const LIGATURES: Readonly<Record<string, string>> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl',
  '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

/**
 * ftfy `chardata.WIDTH_MAP`: U+3000 → ' ', and every U+FF01..U+FFEF whose NFKC form differs
 * (fullwidth ASCII → ASCII, halfwidth katakana/hangul → their normal forms).
 */
const WIDTH_MAP: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const c = String.fromCharCode(cp);
    const alt = c.normalize('NFKC');
    if (alt !== c) map.set(c, alt);
  }
  return map;
})();
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;

/** fix_surrogates: JS strings keep pairs as the character; an unpaired half becomes U+FFFD. */
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** ftfy `fixes.ANSI_RE`; Python's `\d` matches any Unicode decimal digit. */
const ANSI_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;

/** ftfy `chardata.CONTROL_CHARS`: C0 controls except \t \n \f \r, DEL, U+206A..F, BOM, U+FFF9..C. */
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

/** One pass of ftfy's fixers over a segment (ftfy `fix_and_explain` loop body). */
function fixOnce(text: string, unescape: boolean): string {
  if (unescape) text = unescapeHtml(text);
  text = fixC1Controls(text);
  text = text.replace(LIGATURE_RE, (c) => LIGATURES[c]);
  text = text.replace(WIDTH_RE, (c) => WIDTH_MAP.get(c) ?? c);
  text = text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
  text = text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\x85]/g, '\n');
  text = text.replace(LONE_SURROGATE_RE, '\ufffd');
  text = text.replace(ANSI_RE, '');
  text = text.replace(CONTROL_RE, '');
  return text.normalize('NFC');
}

/** ftfy `max_decode_length`: longest segment fixed in one piece. */
const MAX_SEGMENT = 1_000_000;

/**
 * `ftfy.fix_text(text)` with default settings, minus mojibake repair (see the file comment).
 * Like ftfy, text is fixed line by line, each line until it stops changing, and HTML
 * unescaping stays off for the rest of the text once a line contains '<'.
 */
export function fixText(text: string): string {
  let unescape = true;
  let out = '';
  for (let pos = 0; pos < text.length; ) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > MAX_SEGMENT) {
      end = pos + MAX_SEGMENT;
      // ftfy counts code points; never cut a surrogate pair in two.
      if (/[\ud800-\udbff]/.test(text[end - 1])) end--;
    }
    let segment = text.slice(pos, end);
    if (segment.includes('<')) unescape = false;
    for (;;) {
      const fixed = fixOnce(segment, unescape);
      if (fixed === segment) break;
      segment = fixed;
    }
    out += segment;
    pos = end;
  }
  return out;
}
