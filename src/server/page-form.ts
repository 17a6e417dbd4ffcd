/**
 * The page's option fields, made from the option table (src/pipelines/options.ts) when the
 * server loads web/index.html: its `<!-- options:main -->` and `<!-- options:more -->` marks
 * become the fields of the options whose `page.at` is that group. Each field carries its
 * option in `data-option` (web/app.js reads the fields and the model defaults by it); number
 * fields take the server's caps as their max.
 */
import { OPTIONS, OPTION_KEYS, type OptionSpec, type PageField, jsonName } from '../pipelines/options.ts';
import { DEFAULT_OPTION_LIMITS, OPTION_CAPS, type OptionLimits } from './options.ts';

const esc = (s: string | number) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `html` with its option marks replaced by the fields. */
export function withOptionFields(html: string, limits: OptionLimits = DEFAULT_OPTION_LIMITS): string {
  return html.replace(/<!-- options:(main|more) -->/g, (_, at: PageField['at']) => OPTION_KEYS
    .filter((k) => OPTIONS[k].page?.at === at)
    .map((k) => {
      const cap = OPTION_CAPS[k];
      return field(OPTIONS[k], k, cap && limits[cap]);
    })
    .join('\n'));
}

function field(s: OptionSpec, key: string, cap: number | undefined): string {
  const page = s.page!;
  const attrs = `name="${jsonName(key as keyof typeof OPTIONS)}" data-option="${key}"`;
  switch (s.kind) {
    case 'number': {
      const max = Math.min(s.max, cap ?? Infinity);
      const step = page.step ?? (s.int ? 1 : 'any');
      const value = page.value !== undefined ? ` value="${page.value}"` : ` placeholder="${s.default}"`;
      return `<label>${esc(page.label)} <input ${attrs} type="number" min="${s.min}"${max < 1e9 ? ` max="${max}"` : ''} step="${step}"${value}></label>`;
    }
    case 'string':
      return `<label class="wide">${esc(page.label)} <input ${attrs} type="text" maxlength="${s.maxLength}" placeholder="${esc(s.help)}"></label>`;
    case 'choice':
      return `<label>${esc(page.label)} <select ${attrs}><option value="">default</option>${s.choices.map((c) => `<option>${esc(c)}</option>`).join('')}</select></label>`;
    case 'boolean':
      return `<label><input ${attrs} type="checkbox"> ${esc(page.label)}</label>`;
  }
}
