/**
 * For the browser tests and bench: the built site (scripts/build-web.mjs) served as plain
 * static files on loopback (no pasd code runs on the server), with the cross-origin isolation
 * headers that let onnxruntime-web use threads, and headless Chromium (Debian's, driven by
 * playwright-core) with WebGPU on SwiftShader.
 */
import { type Server, createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.map': 'application/json',
};

/** Builds the site into a fresh temporary folder and returns it. */
export function buildSite(): string {
  const out = mkdtempSync(join(tmpdir(), 'pasd-web-'));
  const r = spawnSync(process.execPath, ['scripts/build-web.mjs', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build:web failed: ${r.stderr}${r.stdout}`);
  return out;
}

/** Serves `dir` on 127.0.0.1; `requests` lists every path asked for. */
export async function serveStatic(dir: string, isolated = true): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = resolve(dir, `.${normalize(path.endsWith('/') ? `${path}index.html` : path)}`);
    if (!file.startsWith(resolve(dir)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, server, requests };
}

/** Headless Chromium with WebGPU exposed on SwiftShader (../shared/research/webgpu-on-software-vulkan.md). */
export async function launchChromium(): Promise<{ context: BrowserContext; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'pasd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-unsafe-webgpu', '--enable-features=Vulkan'],
  });
  return { context, profile };
}

/** Fills the site page's fields (library option names → its inputs) and picks the image. */
export async function fillSitePage(page: Page, provider: 'cpu' | 'webgpu', run: Record<string, number>, image: Buffer): Promise<void> {
  await page.selectOption('#provider', provider);
  const fields: Record<string, string> = { upscale: '#scale', processSize: '#processSize', samples: '#samples', seed: '#seed', steps: '#steps' };
  for (const [k, v] of Object.entries(run)) await page.fill(fields[k], String(v));
  await page.setInputFiles('#file', { name: 'input.png', mimeType: 'image/png', buffer: image });
}

export interface PageRun {
  message: string;
  png: Buffer | null;
  /** What the page reports: its timings (seconds) and, on WebGPU, the fused-attention error on the adapter. */
  result: { timings: Record<string, number>; attentionError: number | null } | null;
}

/** Starts the filled page's run and waits for its result (or its error message). */
export async function runSitePage(page: Page, timeoutMs: number): Promise<PageRun> {
  await page.click('#start');
  await page.waitForFunction(() => /^Error/.test(document.getElementById('message')!.textContent ?? '') || !!document.getElementById('timings')!.dataset.result, null, { timeout: timeoutMs });
  const message = (await page.textContent('#message')) ?? '';
  if (message !== 'Done') return { message, png: null, result: null };
  const bytes = await page.evaluate(async () => [...new Uint8Array(await (await fetch((document.getElementById('download') as HTMLAnchorElement).href)).arrayBuffer())]);
  return { message, png: Buffer.from(bytes), result: JSON.parse((await page.getAttribute('#timings', 'data-result'))!) };
}
