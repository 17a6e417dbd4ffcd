/**
 * CLIP BPE tokenizer for Stable Diffusion 1.x text encoders, id-for-id equal to the slow
 * transformers `CLIPTokenizer` (`models/clip/tokenization_clip.py`) as diffusers'
 * `_encode_prompt` calls it: `tokenizer(prompts, padding="max_length", max_length=77,
 * truncation=True)`.
 *
 * Steps per prompt:
 * 1. split on the special-token strings (`<|startoftext|>`, `<|endoftext|>`), which become
 *    their ids directly (transformers `tokens_trie.split`);
 * 2. clean every other piece: ftfy `fix_text` + whitespace collapse + strip + lower-case
 *    (`textCleaning: 'ftfy'`, the default, as in PASD's environment), or the BERT
 *    BasicTokenizer fallback transformers uses without ftfy (`'basic'`);
 * 3. pre-tokenise with CLIP's regex, map UTF-8 bytes to unicode, apply byte-level BPE;
 * 4. truncate to `maxLength - 2` content ids, add bos/eos, right-pad with the pad id.
 *
 * vocab.json and merges.txt are read, and from special_tokens_map.json (else
 * tokenizer_config.json) only `pad_token`: SD 1.x pads with eos `<|endoftext|>`; SDXL's
 * `tokenizer_2` pads with `!` (id 0), which, being an added special token, is also cut out
 * of the text like bos/eos (every `!` becomes id 0, never BPE-merged; huggingface/diffusers#4153).
 * The other names (bos `<|startoftext|>`, eos = unk `<|endoftext|>`) are fixed in CLIPTokenizer's code.
 */
import { platform } from '#platform';
import { ConfigError, InputError } from '../core/errors.ts';
import type { Shape } from '../core/shape.ts';
import { basicClean } from './basic_clean.ts';
import { type MergeRanks, bpeWord, bytesToUnicode } from './bpe.ts';
import { fixText } from './text_fix.ts';

const { join } = platform.path;

/** How many merges CLIP uses: vocabulary 49408 = 256 bytes + 256 `</w>` bytes + merges + 2 specials. */
export const CLIP_NUM_MERGES = 49152 - 256 - 2;
/** `model_max_length` of every SD 1.x tokenizer. */
export const CLIP_MAX_LENGTH = 77;

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

/**
 * CLIP's pre-tokeniser pattern (IGNORECASE). `\s` is spelled `\p{White_Space}` because that is
 * what Python's `regex` module means by `\s`; JS `\s` also matches U+FEFF.
 */
const PRETOKEN_RE =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu;
/** `whitespace_clean`: runs → one space, then strip (only spaces are left to strip by then). */
const WHITESPACE_RUN_RE = /\p{White_Space}+/gu;
const EDGE_SPACE_RE = /^ | $/g;

/** BPE results kept per pre-token; transformers' cache is unbounded, ours is cleared when full. */
const BPE_CACHE_LIMIT = 100_000;

export type TextCleaning = 'ftfy' | 'basic';

export interface ClipTokenizerOptions {
  /**
   * 'ftfy' (default): `whitespace_clean(ftfy.fix_text(text)).lower()`, the behaviour of an
   * environment with ftfy (PASD's). 'basic': the BERT BasicTokenizer clean-up transformers
   * uses when ftfy is missing (CJK characters spaced out, no quote/width/ligature fixes).
   */
  readonly textCleaning?: TextCleaning;
  /** The pad token (default eos `<|endoftext|>`); another token is split off the text as a special token. */
  readonly padToken?: string;
}

export interface ClipBatch {
  /** Row-major ids, `shape` [batch, maxLength]; int64 like the text encoder's `input_ids`. */
  readonly inputIds: BigInt64Array;
  readonly shape: Shape;
  /** Per prompt, the number of content ids before truncation (without bos/eos). */
  readonly numContentTokensUntruncated: readonly number[];
}

function readText(dir: string, name: string): string {
  const path = join(dir, name);
  try {
    return platform.readText(path);
  } catch (e) {
    throw new ConfigError(
      `${path}: cannot read the tokenizer's ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
        'point the tokenizer folder at a CLIP tokenizer (vocab.json + merges.txt, e.g. <model>/tokenizer)',
      { cause: e },
    );
  }
}

/**
 * The folder's `pad_token` (special_tokens_map.json, else tokenizer_config.json; a string or
 * an AddedToken object), or undefined when neither file names one.
 */
export function padTokenOf(dir: string): string | undefined {
  for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const path = join(dir, name);
    if (!platform.exists(path)) continue;
    let json: unknown;
    try {
      json = JSON.parse(platform.readText(path));
    } catch (e) {
      throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    const pad = (json as { pad_token?: unknown } | null)?.pad_token;
    if (pad === undefined || pad === null) continue;
    const content = typeof pad === 'string' ? pad : (pad as { content?: unknown }).content;
    if (typeof content !== 'string' || content === '') throw new ConfigError(`${path}: pad_token must be a token string or {"content": …}, got ${JSON.stringify(pad)}`);
    return content;
  }
  return undefined;
}

function parseVocab(path: string, text: string): Map<string, number> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: vocab.json is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError(`${path}: vocab.json must be a JSON object mapping token → id`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      throw new ConfigError(`${path}: vocab.json entry ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids must be non-negative integers`);
    }
    vocab.set(token, id as number);
  }
  for (const special of [BOS, EOS]) {
    if (!vocab.has(special)) throw new ConfigError(`${path}: vocab.json lacks the special token ${special}; this is not a CLIP vocabulary`);
  }
  return vocab;
}

/**
 * merges.txt: a `#version` line, then one `first second` pair per line; like transformers we
 * skip the first line unconditionally and keep the first CLIP_NUM_MERGES pairs.
 */
function parseMerges(path: string, text: string): Map<string, number> {
  const lines = text.trim().split('\n').slice(1, CLIP_NUM_MERGES + 1);
  if (lines.length === 0) throw new ConfigError(`${path}: merges.txt holds no merges after its header line`);
  const ranks = new Map<string, number>();
  lines.forEach((line, i) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2 || parts[0] === '') {
      throw new ConfigError(`${path}: line ${i + 2} is ${JSON.stringify(line)}; every merge line must be two symbols separated by a space`);
    }
    const key = `${parts[0]} ${parts[1]}`;
    // A repeated pair keeps its last rank, as transformers' dict(zip(merges, range(n))) does.
    ranks.set(key, i);
  });
  return ranks;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  /** `<|endoftext|>` (as unk) unless the folder's pad_token says otherwise (SDXL's tokenizer_2: `!`). */
  readonly padId: number;
  readonly textCleaning: TextCleaning;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly ranks: MergeRanks;
  private readonly byteChars = bytesToUnicode();
  private readonly encoder = new TextEncoder();
  private readonly cache = new Map<string, readonly string[]>();
  /** Splits the special-token strings off a text (capturing them). */
  private readonly specials: RegExp;

  constructor(vocab: ReadonlyMap<string, number>, ranks: MergeRanks, options: ClipTokenizerOptions = {}) {
    const cleaning = options.textCleaning ?? 'ftfy';
    if (cleaning !== 'ftfy' && cleaning !== 'basic') {
      throw new ConfigError(`textCleaning must be 'ftfy' or 'basic', got ${JSON.stringify(cleaning)}`);
    }
    const bos = vocab.get(BOS);
    const eos = vocab.get(EOS);
    if (bos === undefined || eos === undefined) throw new ConfigError(`the vocabulary lacks ${BOS} or ${EOS}; this is not a CLIP vocabulary`);
    this.vocab = vocab;
    this.ranks = ranks;
    this.textCleaning = cleaning;
    this.bosId = bos;
    this.eosId = eos;
    const pad = options.padToken ?? EOS;
    const padId = vocab.get(pad);
    if (padId === undefined) throw new ConfigError(`pad_token ${JSON.stringify(pad)} is not in the vocabulary`);
    this.padId = padId;
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.specials = new RegExp(`(${[...new Set([BOS, EOS, pad])].map(escape).join('|')})`);
  }

  /** Loads `vocab.json`, `merges.txt` and the pad token from a tokenizer folder (e.g. `<sd-1.5>/tokenizer`). */
  static fromFolder(dir: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const vocab = parseVocab(join(dir, 'vocab.json'), readText(dir, 'vocab.json'));
    const ranks = parseMerges(join(dir, 'merges.txt'), readText(dir, 'merges.txt'));
    return new ClipTokenizer(vocab, ranks, { padToken: padTokenOf(dir), ...options });
  }

  /** Content ids of one prompt: no bos/eos, no truncation, no padding. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new InputError(`prompt must be a string, got ${typeof text}`);
    const ids: number[] = [];
    // Special-token strings are cut out first and never cleaned or BPE'd (the trie split).
    const pieces = text.split(this.specials);
    pieces.forEach((piece, i) => {
      if (i % 2 === 1) ids.push(piece === BOS ? this.bosId : piece === EOS ? this.eosId : this.padId);
      else if (piece !== '') this.encodePiece(piece, ids);
    });
    return ids;
  }

  /**
   * Tokenises a batch like `tokenizer(texts, padding="max_length", max_length, truncation=True)`:
   * `[bos] + content[:maxLength-2] + [eos]`, right-padded with the pad id.
   */
  call(texts: readonly string[], { maxLength = CLIP_MAX_LENGTH }: { maxLength?: number } = {}): ClipBatch {
    if (!Number.isSafeInteger(maxLength) || maxLength < 2) {
      throw new ConfigError(`maxLength must be an integer ≥ 2 (room for bos and eos), got ${maxLength}`);
    }
    const inputIds = new BigInt64Array(texts.length * maxLength).fill(BigInt(this.padId));
    const counts = texts.map((text, row) => {
      if (typeof text !== 'string') throw new InputError(`prompt ${row} must be a string, got ${typeof text}`);
      const content = this.encode(text);
      const kept = content.slice(0, maxLength - 2);
      const ids = [this.bosId, ...kept, this.eosId];
      ids.forEach((id, j) => (inputIds[row * maxLength + j] = BigInt(id)));
      return content.length;
    });
    return { inputIds, shape: [texts.length, maxLength], numContentTokensUntruncated: counts };
  }

  /** transformers `CLIPTokenizer._tokenize` + `_convert_token_to_id` for one non-special piece. */
  private encodePiece(piece: string, out: number[]): void {
    const text = this.textCleaning === 'ftfy'
      ? fixText(piece).replace(WHITESPACE_RUN_RE, ' ').replace(EDGE_SPACE_RE, '').toLowerCase()
      : basicClean(piece);
    for (const match of text.matchAll(PRETOKEN_RE)) {
      // Unknown symbols map to the unk token, which is <|endoftext|> for CLIP.
      for (const symbol of this.bpe(match[0])) out.push(this.vocab.get(symbol) ?? this.eosId);
    }
  }

  private bpe(pretoken: string): readonly string[] {
    // The regex can still produce the special strings (e.g. from upper-case input that was
    // lower-cased); transformers' cache is seeded so they map to themselves.
    if (pretoken === BOS || pretoken === EOS) return [pretoken];
    const cached = this.cache.get(pretoken);
    if (cached !== undefined) return cached;
    let mapped = '';
    for (const byte of this.encoder.encode(pretoken)) mapped += this.byteChars[byte];
    const symbols = bpeWord(mapped, this.ranks);
    if (this.cache.size >= BPE_CACHE_LIMIT) this.cache.clear();
    this.cache.set(pretoken, symbols);
    return symbols;
  }
}
