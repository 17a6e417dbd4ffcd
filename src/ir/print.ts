/**
 * Stable text form of a graph: the same trace gives the same text, byte for byte. It is
 * the key of the compiled-graph cache (with the weight files' identity) and a debugging aid.
 */
import { platform } from '#platform';
import type { HostArray } from '../core/dtype.ts';
import { type Graph, type Value, fmtType } from './graph.ts';

function fmtAttr(v: unknown): string {
  if (ArrayBuffer.isView(v)) {
    const a = v as HostArray;
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    return `<${a.constructor.name} ${a.length} sha256:${platform.sha256Hex(bytes).slice(0, 16)}>`;
  }
  if (Array.isArray(v)) return `[${v.map(fmtAttr).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${k}:${fmtAttr(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

export function printGraph(g: Graph): string {
  const names = new Map<Value, string>();
  let k = 0;
  const name = (v: Value) => {
    let s = names.get(v);
    if (!s) names.set(v, (s = `%${k++}`));
    return s;
  };
  const lines: string[] = [`graph ${JSON.stringify(g.name)}`];
  for (const v of g.inputs) lines.push(`input ${name(v)} ${JSON.stringify(v.name)} : ${fmtType(v.type)}`);
  for (const v of g.params) {
    const s = v.source!;
    const where = s.kind === 'file' ? `file ${JSON.stringify(s.path)} @${s.offset}+${s.byteLength} ${s.dtype}` : `host ${fmtAttr(s.data)} ${s.dtype}`;
    lines.push(`param ${name(v)} ${JSON.stringify(v.name)} : ${fmtType(v.type)} = ${where}`);
  }
  for (const n of g.nodes) {
    const outs = n.outputs.map(name).join(', ');
    const attrs = Object.keys(n.attrs).length ? ` ${fmtAttr(n.attrs)}` : '';
    lines.push(`${outs} = ${n.op}(${n.inputs.map(name).join(', ')})${attrs} : ${n.outputs.map((o) => fmtType(o.type)).join(', ')}${n.scope ? `  # ${n.scope}` : ''}`);
  }
  g.outputs.forEach((v, i) => lines.push(`output ${JSON.stringify(g.outputNames[i])} = ${name(v)}`));
  return lines.join('\n') + '\n';
}
