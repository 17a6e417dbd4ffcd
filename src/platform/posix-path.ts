/** POSIX path operations for the browser's virtual file tree (Node uses node:path). Paths are absolute from `/`. */
import type { PathOps } from './types.ts';

function normalize(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  const s = out.join('/');
  return abs ? `/${s}` : s || '.';
}

export const posixPath: PathOps = {
  sep: '/',
  join: (...parts) => normalize(parts.filter((p) => p !== '').join('/') || '.'),
  dirname(p) {
    const n = normalize(p);
    const i = n.lastIndexOf('/');
    return i < 0 ? '.' : i === 0 ? '/' : n.slice(0, i);
  },
  basename(p, ext) {
    const b = normalize(p).split('/').pop() ?? '';
    return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b;
  },
  extname(p) {
    const b = posixPath.basename(p);
    const i = b.lastIndexOf('.');
    return i <= 0 ? '' : b.slice(i);
  },
  resolve(...parts) {
    let out = '';
    for (const p of parts) out = p.startsWith('/') ? p : `${out}/${p}`;
    return normalize(out.startsWith('/') ? out : `/${out}`);
  },
  relative(from, to) {
    const a = posixPath.resolve(from).split('/').filter(Boolean), b = posixPath.resolve(to).split('/').filter(Boolean);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return [...Array(a.length - i).fill('..'), ...b.slice(i)].join('/');
  },
  isAbsolute: (p) => p.startsWith('/'),
};
