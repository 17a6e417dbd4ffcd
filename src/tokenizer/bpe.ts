/**
 * Byte-level BPE as in CLIP: the byte→unicode table and the merge loop.
 * Mirrors transformers `models/clip/tokenization_clip.py` (`bytes_to_unicode`, `get_pairs`,
 * `CLIPTokenizer.bpe`), which itself copies openai/CLIP `simple_tokenizer.py`.
 */

/** Marks the last symbol of a word; merges and vocab entries carry it (`a</w>`). */
export const END_OF_WORD = '</w>';

/**
 * Maps every byte 0..255 to a printable code point so BPE can work on strings without
 * whitespace/control characters: printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100, U+0101, … in byte order (transformers `bytes_to_unicode`).
 */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : next++);
  return table;
}

/** Merge ranks keyed by `"first second"` (a space never occurs inside a BPE symbol). */
export type MergeRanks = ReadonlyMap<string, number>;

/**
 * Applies the merges to one pre-token (already byte-mapped, one char per byte) and returns
 * its symbols. Like transformers: the last char gets `</w>`, then repeatedly the adjacent
 * pair with the lowest rank is merged everywhere (left to right, non-overlapping) until no
 * pair has a rank or one symbol is left.
 */
export function bpeWord(token: string, ranks: MergeRanks): string[] {
  if (token === '') return [];
  let word = Array.from(token);
  word[word.length - 1] += END_OF_WORD;
  while (word.length > 1) {
    let best = Infinity;
    let first = '';
    let second = '';
    for (let i = 0; i + 1 < word.length; i++) {
      const r = ranks.get(word[i] + ' ' + word[i + 1]);
      if (r !== undefined && r < best) {
        best = r;
        first = word[i];
        second = word[i + 1];
      }
    }
    if (best === Infinity) break;
    const merged: string[] = [];
    for (let i = 0; i < word.length; ) {
      if (word[i] === first && i + 1 < word.length && word[i + 1] === second) {
        merged.push(first + second);
        i += 2;
      } else {
        merged.push(word[i]);
        i += 1;
      }
    }
    word = merged;
  }
  return word;
}
