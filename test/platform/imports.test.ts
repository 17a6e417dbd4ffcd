/**
 * The runtime seam holds: the folders the browser build bundles (src/core … src/pipelines,
 * tokenizer, schedulers, prompts, browser) import no Node built-in, no sharp and no
 * onnxruntime-node. Only the adapters may — `src/platform/node.ts`, `src/runtime/node.ts`
 * (reached through `#platform` / `#runtime`) and files named `*-node.ts` — and no other file
 * of those folders imports an adapter directly. (The bundle itself fails to build if anything
 * Node-only is reached from the page: test/browser/site.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const PLATFORM_NEUTRAL = ['core', 'onnx', 'ir', 'ops', 'autodiff', 'export', 'runtime', 'engine', 'checkpoint', 'nn', 'config', 'models',
  'tokenizer', 'schedulers', 'image', 'pipelines', 'platform', 'prompts', 'browser'];
const ADAPTERS = new Set(['src/platform/node.ts', 'src/runtime/node.ts']);
const NODE_ONLY = /^(node:|sharp$|onnxruntime-node$)/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3]);
}

test('platform-neutral folders import nothing Node-only outside the adapters and *-node.ts files', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const folder of PLATFORM_NEUTRAL) {
    for (const f of files(join('src', folder))) {
      checked++;
      const adapter = ADAPTERS.has(f) || f.endsWith('-node.ts');
      for (const spec of imports(f)) {
        if (!adapter && NODE_ONLY.test(spec)) problems.push(`${f} imports ${spec}`);
        if (!adapter && /(^|\/)[^/]*-node\.ts$/.test(spec)) problems.push(`${f} imports the Node-only ${spec}`);
        if (/(platform|runtime)\/node\.ts$/.test(spec)) problems.push(`${f} imports ${spec} directly (use #platform / #runtime)`);
      }
    }
  }
  assert.ok(checked > 100, `checked ${checked} files`);
  assert.deepEqual(problems, []);
});

test('the import scanner sees static, re-export and dynamic imports (it would catch a violation)', () => {
  const sample = join('test', 'platform', 'imports.test.ts');
  assert.ok(imports(sample).includes('node:fs'));
});
