// `npm run build:web [-- OUT]`: the static site that runs PASD in the browser (default dist/web/).
// Bundles src/browser/page.ts and worker.ts with esbuild for the browser: package.json's
// `imports` give `#platform` and `#runtime` their web adapters under the `browser` condition,
// so a `node:` module or sharp reached from the page fails the build. Copies onnxruntime-web's
// WebGPU+WebAssembly runtime files (ort/) and the bundled mini model with a manifest of its files.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist', 'web'));

function walk(dir) {
  return readdirSync(dir).sort().flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { page: 'src/browser/page.ts', worker: 'src/browser/worker.ts' },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  // onnxruntime-web without its wasm glue inlined: it loads ort/*.mjs + .wasm from `wasmPaths`.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  // The checkpoint readers use Node's Buffer for byte views; the page gets the `buffer` package's.
  inject: [join(root, 'scripts', 'web-buffer.mjs')],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
copy(join(root, 'web', 'local', 'index.html'), join(out, 'index.html'));
copy(join(root, 'web', 'style.css'), join(out, 'style.css'));
const ort = join(root, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm']) copy(join(ort, f), join(out, 'ort', f));
const mini = join(root, 'models', 'pasd-mini');
const files = walk(mini).filter((f) => !relative(mini, f).startsWith('samples/') && !f.endsWith('.md'));
for (const f of files) copy(f, join(out, 'models', 'pasd-mini', relative(mini, f)));
writeFileSync(join(out, 'models', 'pasd-mini', 'manifest.json'), JSON.stringify({ files: files.map((f) => ({ path: relative(mini, f), size: statSync(f).size })) }, null, 1));
const size = walk(out).reduce((n, f) => n + statSync(f).size, 0);
process.stdout.write(`build:web: ${relative(process.cwd(), out) || '.'} (${(size / 2 ** 20).toFixed(1)} MiB)\n`);
