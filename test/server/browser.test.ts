/**
 * The page in a real browser: `pasd serve` started as a user would (the CLI, a token, port 0),
 * headless Debian Chromium driven by playwright-core picks an image, sets options, starts
 * the job, sees the step-by-step progress, gets the result into the comparison slider,
 * cancels a second job, and the server then shuts down cleanly on SIGTERM. A screenshot goes to the test artifact folder
 * (TEST_ARTIFACTS_DIR, default scratch/test-artifacts). Without /usr/bin/chromium (installed
 * by .ci/run) the test is skipped, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { defaultModelOptions } from '../../src/pipelines/load.ts';
import { png, tinyModelFolders } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(process.env.TEST_ARTIFACTS_DIR ?? 'scratch/test-artifacts', 'server');
const TOKEN = 'browser-test-token';
// As the machine notes prescribe: no background connections (the network is closed), a fresh profile.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Starts `pasd serve` and resolves with its URL once it listens. */
function serve(model: string, base: string): Promise<{ proc: ChildProcess; url: string; stderr: () => string }> {
  const proc = spawn(process.execPath, ['bin/pasd.js', 'serve', '--model', model, '--base', base, '--port', '0', '--threads', '1'], {
    env: { ...process.env, PASD_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolvePromise, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+?)\/? \(token required\)/.exec(out);
      if (m) resolvePromise({ proc, url: m[1], stderr: () => err });
    });
    proc.on('exit', (code) => reject(new Error(`pasd serve exited with ${code}: ${err}`)));
  });
}

test('browser: pick an image, see the progress, get the result in the comparison slider, cancel a job; SIGTERM stops the server', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (Debian package chromium; .ci/run installs it)` }, async () => {
  const folders = tinyModelFolders();
  const profile = mkdtempSync(join(tmpdir(), 'pasd-chromium-'));
  const { proc, url, stderr } = await serve(folders.model, folders.base);
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));

    await page.goto(`${url}/?token=${TOKEN}`);
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    assert.equal(await page.locator('#model').inputValue(), 'tiny');
    // The bundled mini model is the second choice, its defaults shown as placeholders when picked.
    assert.deepEqual(await page.locator('#model option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['tiny', 'pasd-mini']);
    await page.selectOption('#model', 'pasd-mini');
    assert.equal(await page.locator('input[name=processSize]').getAttribute('placeholder'), String(defaultModelOptions().processSize));
    await page.selectOption('#model', 'tiny');
    // Every text the status line shows, recorded in the page so no quick step is missed.
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { seen: string[] }).seen = []);
      const el = document.getElementById('message')!;
      new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
    });

    await page.setInputFiles('#file', { name: 'photo.png', mimeType: 'image/png', buffer: await png(24, 16, [40, 120, 200]) });
    await page.fill('input[name=scale]', '2');
    await page.fill('input[name=steps]', '6');
    await page.click('details summary');
    await page.fill('input[name=processSize]', '32');
    await page.click('#start');

    await page.locator('#compare-section').waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForFunction(() => (document.getElementById('after') as HTMLImageElement).naturalWidth > 0);
    const sizes = await page.evaluate(() => ['after', 'before'].map((id) => (document.getElementById(id) as HTMLImageElement).naturalWidth));
    assert.deepEqual(sizes, [48, 24], 'result at 2× the input, input shown for comparison');
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const steps = seen.map((s) => /^Step (\d+)\/6/.exec(s)?.[1]).filter(Boolean);
    assert.ok(steps.length >= 1, `no step progress shown; the status line showed: ${JSON.stringify(seen)}`);
    assert.match(seen.at(-1)!, /^Done: 24×16 → 48×32/);

    await page.locator('#slider').fill('20');
    assert.equal(await page.locator('#before').evaluate((el) => getComputedStyle(el).clipPath), 'inset(0px 80% 0px 0px)');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser.png'), fullPage: true });

    // A long job canceled from the page.
    await page.fill('input[name=steps]', '100');
    await page.fill('input[name=processSize]', '64');
    await page.click('#start');
    await page.locator('#message', { hasText: /^Step \d+\/100/ }).waitFor({ timeout: 30_000 });
    await page.click('#cancel');
    await page.locator('#message', { hasText: 'Canceled.' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#cancel').isHidden(), true);
    assert.deepEqual(problems, [], 'no page errors (CSP included)');
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    folders.cleanup();
  }
  const code = await new Promise<number | null>((r) => {
    proc.removeAllListeners('exit');
    proc.on('exit', r);
    proc.kill('SIGTERM');
  });
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGTERM: shutting down[\s\S]*stopped/);
});
