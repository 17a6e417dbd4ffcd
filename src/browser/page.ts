/**
 * The static site's page (web/local/index.html): picks an image and a model, fetches the
 * bundled mini model once (kept in Cache Storage, with a progress bar) or mounts the folders the
 * user picked, and drives the Worker (worker.ts) with progress and cancel. WebGPU is used where
 * `navigator.gpu` gives an adapter, else WebAssembly.
 */
import type { FromWorker, ModelChoice, ToWorker } from './protocol.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** Everything mounted so far: a fresh Worker (after a cancel) gets it again. */
const mounted: { path: string; data: Blob }[] = [];
let worker = startWorker();
const send = (m: ToWorker) => worker.postMessage(m);
const CACHE = 'pasd-models-v1';
let nextId = 1;
let current: number | null = null;
let miniMounted = false;
let foldersMounted = false;

function say(text: string): void {
  $('message').textContent = text;
}

function bar(value: number | null): void {
  const b = $<HTMLProgressElement>('bar');
  b.hidden = value === null;
  if (value !== null) b.value = value;
}

/** The mini model's files (manifest written by the build), from Cache Storage or the site, with byte progress. */
async function mountMini(): Promise<void> {
  if (miniMounted) return;
  const base = new URL('models/pasd-mini/', location.href);
  const manifest = (await (await fetch(new URL('manifest.json', base))).json()) as { files: { path: string; size: number }[] };
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  const cache = 'caches' in globalThis ? await caches.open(CACHE) : null;
  let done = 0;
  const files: { path: string; data: Blob }[] = [];
  for (const f of manifest.files) {
    const url = new URL(f.path, base).href;
    let res = await cache?.match(url);
    if (!res) {
      say(`Fetching the model (${(done / 2 ** 20).toFixed(1)} of ${(total / 2 ** 20).toFixed(1)} MB)…`);
      res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      await cache?.put(url, res.clone());
    }
    files.push({ path: `/package/models/pasd-mini/${f.path}`, data: await res.blob() });
    done += f.size;
    bar(done / total);
  }
  mount(files);
  miniMounted = true;
}

/** The picked folders' files under /picked/model and /picked/base (the top folder's name dropped). */
function mountFolders(): ModelChoice {
  const pick = (id: string, at: string) => {
    const list = [...($<HTMLInputElement>(id).files ?? [])];
    if (!list.length) throw new Error(`pick the ${at === '/picked/model' ? 'PASD checkpoint' : 'SD1.5 base'} folder first`);
    return list.map((f) => ({ path: `${at}/${f.webkitRelativePath.split('/').slice(1).join('/')}`, data: f as Blob }));
  };
  if (!foldersMounted) {
    mount([...pick('model-dir', '/picked/model'), ...pick('base-dir', '/picked/base')]);
    foldersMounted = true;
  }
  return { kind: 'folders', model: '/picked/model', base: '/picked/base' };
}

async function provider(): Promise<'cpu' | 'webgpu'> {
  const choice = $<HTMLSelectElement>('provider').value;
  if (choice !== 'auto') return choice as 'cpu' | 'webgpu';
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  return gpu && (await gpu.requestAdapter().catch(() => null)) ? 'webgpu' : 'cpu';
}

function numberField(id: string): number | undefined {
  const v = $<HTMLInputElement>(id).value;
  return v === '' ? undefined : Number(v);
}

async function start(ev: Event): Promise<void> {
  ev.preventDefault();
  const file = $<HTMLInputElement>('file').files?.[0];
  if (!file) return;
  $<HTMLButtonElement>('start').disabled = true;
  $('cancel').hidden = false;
  $('result-section').hidden = true;
  delete $('timings').dataset.result;
  try {
    const kind = $<HTMLSelectElement>('model').value;
    let model: ModelChoice = { kind: 'mini' };
    if (kind === 'mini') await mountMini();
    else model = mountFolders();
    const options = Object.fromEntries(Object.entries({ upscale: numberField('scale'), steps: numberField('steps'), seed: numberField('seed'), processSize: numberField('processSize'), samples: numberField('samples') }).filter(([, v]) => v !== undefined));
    const id = (current = nextId++);
    const p = await provider();
    const precision = $<HTMLSelectElement>('precision').value as 'fp32' | 'fp16';
    if (precision === 'fp16' && p !== 'webgpu') throw new Error('float16 runs on WebGPU only (WebAssembly computes in float32): choose float32 or WebGPU');
    say(`Starting on ${p === 'webgpu' ? 'WebGPU' : 'WebAssembly'}…`);
    bar(0);
    send({ type: 'run', id, image: new Uint8Array(await file.arrayBuffer()), name: file.name, model, provider: p, precision, options });
  } catch (e) {
    finish(`Error: ${(e as Error).message}`);
  }
}

function finish(text: string): void {
  current = null;
  say(text);
  bar(null);
  $('cancel').hidden = true;
  $<HTMLButtonElement>('start').disabled = !$<HTMLInputElement>('file').files?.length;
}

function mount(files: { path: string; data: Blob }[]): void {
  mounted.push(...files);
  send({ type: 'mount', files });
}

function startWorker(): Worker {
  const w = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
  w.onmessage = onMessage;
  w.onerror = (e) => finish(`Error: the worker failed (${e.message})`);
  if (mounted.length) w.postMessage({ type: 'mount', files: mounted } satisfies ToWorker);
  return w;
}

/** Cancel: the Worker is stopped where it is and replaced (its loaded model goes with it). */
function cancel(): void {
  if (current === null) return;
  worker.terminate();
  worker = startWorker();
  finish('Cancelled');
}

function onMessage(e: MessageEvent<FromWorker>): void {
  const m = e.data;
  if (m.id !== current) return;
  if (m.type === 'progress') {
    const p = m.progress;
    bar(p.steps ? p.step / p.steps : 0);
    say(p.phase === 'denoise' ? `Step ${p.step} of ${p.steps}${p.tiles > 1 ? ` (tile ${p.tile} of ${p.tiles})` : ''}` : p.phase === 'encode' ? 'Encoding the image…' : p.phase === 'decode' ? 'Decoding the result…' : 'Writing the image…');
  } else if (m.type === 'done') {
    const url = URL.createObjectURL(new Blob([m.png as BlobPart], { type: 'image/png' }));
    $<HTMLImageElement>('result').src = url;
    $<HTMLAnchorElement>('download').href = url;
    $('timings').textContent = `${m.width}×${m.height} on ${m.provider === 'webgpu' ? 'WebGPU' : 'WebAssembly'}: load ${m.timings.load.toFixed(1)} s, upscale ${m.timings.upscale.toFixed(1)} s${m.attentionError === undefined ? '' : ` (fused attention ${m.attentionError > 1e-5 ? 'wrong here, chunked used' : 'right here'}: ${m.attentionError.toExponential(1)})`}`;
    $('timings').dataset.result = JSON.stringify({ timings: m.timings, attentionError: m.attentionError ?? null });
    $('result-section').hidden = false;
    finish('Done');
  } else finish(`Error: ${m.message}`);
}

$('job-form').addEventListener('submit', (ev) => void start(ev));
$('cancel').addEventListener('click', cancel);
$('file').addEventListener('change', () => ($<HTMLButtonElement>('start').disabled = current !== null || !$<HTMLInputElement>('file').files?.length));
$('model').addEventListener('change', () => ($('folders').hidden = $<HTMLSelectElement>('model').value !== 'folders'));
for (const id of ['model-dir', 'base-dir']) $(id).addEventListener('change', () => (foldersMounted = false));
