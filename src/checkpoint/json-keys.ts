/**
 * Duplicate keys in a JSON object: JSON.parse silently keeps the last, so a header that names
 * a tensor twice would mean whatever the last entry says. A scan of the (already valid) text
 * finds them; keys are compared after unescaping, as JSON.parse compares them.
 */

const isSpace = (c: string) => c === ' ' || c === '\n' || c === '\r' || c === '\t';

/** The first key that occurs twice among the top-level keys of `text`, a valid JSON object; null if none. */
export function duplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (isSpace(text[k])) k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j;
    }
  }
  return null;
}
