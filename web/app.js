// The pasd page: pick or drop an image, POST it with the options to /v1/jobs, follow the job
// over Server-Sent Events, then show the result against the input with a comparison slider.
// Plain browser JavaScript, no dependencies: the server sends only the files of web/.

const $ = (id) => document.getElementById(id);
const form = $('job-form');
const fileInput = $('file');
const drop = $('drop');
const startButton = $('start');
const cancelButton = $('cancel');
const bar = $('bar');
const message = $('message');
const compareSection = $('compare-section');

// A server started with --token is opened as /?token=…: the server answers with a session
// cookie that every later request of this page (fetch, EventSource) carries by itself.

let file = null;
let inputUrl = null;
let resultUrl = null;
let current = null; // { id, events }

function say(text, isError = false) {
  message.textContent = text;
  message.classList.toggle('error', isError);
}

async function api(path, init = {}) {
  const r = await fetch(path, init);
  if (!r.ok) {
    const body = await r.json().catch(() => null);
    throw new Error(body?.error?.message ?? `${r.status} ${r.statusText}`);
  }
  return r;
}

async function loadModels() {
  try {
    const { models } = await (await api('/v1/models')).json();
    const select = $('model');
    for (const m of models) {
      const o = document.createElement('option');
      o.value = m.name;
      o.textContent = m.default ? `${m.name} (default)` : m.name;
      select.append(o);
    }
    select.addEventListener('change', () => showDefaults(models.find((m) => m.name === select.value)));
    showDefaults(models[0]);
  } catch (e) {
    say(`Cannot reach the server: ${e.message}`, true);
  }
}

// Placeholders show what an empty field means for the chosen model. The option fields are made
// by the server from its option table; each names its option in data-option.
function showDefaults(model) {
  for (const el of form.querySelectorAll('input[data-option][placeholder]')) {
    if (el.dataset.placeholder === undefined) el.dataset.placeholder = el.placeholder;
    el.placeholder = model?.defaults?.[el.dataset.option] ?? el.dataset.placeholder;
  }
}

function pick(f) {
  if (!f) return;
  file = f;
  if (inputUrl) URL.revokeObjectURL(inputUrl);
  inputUrl = URL.createObjectURL(f);
  $('drop-text').textContent = `${f.name} (${(f.size / 1024).toFixed(1)} KiB)`;
  startButton.disabled = false;
}

fileInput.addEventListener('change', () => pick(fileInput.files[0]));
for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); pick(e.dataTransfer.files[0]); });

function options() {
  const o = {};
  const model = form.elements.namedItem('model').value;
  if (model !== '') o.model = model;
  for (const el of form.querySelectorAll('[data-option]')) {
    if (el.type === 'checkbox') {
      if (el.checked) o[el.name] = true;
    } else if (el.value !== '') o[el.name] = el.type === 'number' ? Number(el.value) : el.value;
  }
  return o;
}

function describe(job) {
  const p = job.progress;
  if (job.state === 'queued') return `Queued (${job.position} ahead)`;
  if (!p) return 'Starting…';
  const what = p.phase === 'denoise' ? `Step ${p.step}/${p.steps}${p.tiles > 1 ? `, tile ${p.tile}/${p.tiles}` : ''}` : { encode: 'Encoding', decode: 'Decoding', done: 'Finishing' }[p.phase];
  return `${what} — ${Math.round(p.fraction * 100)} %${job.etaSeconds !== undefined ? `, about ${Math.ceil(job.etaSeconds)} s left` : ''}`;
}

function busy(on) {
  startButton.disabled = on || !file;
  cancelButton.hidden = !on;
  bar.hidden = !on;
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!file) return;
  const body = new FormData();
  body.append('image', file, file.name);
  body.append('options', JSON.stringify(options()));
  busy(true);
  bar.value = 0;
  say('Uploading…');
  try {
    const job = await (await api('/v1/jobs', { method: 'POST', body })).json();
    follow(job.id);
  } catch (err) {
    busy(false);
    say(err.message, true);
  }
});

cancelButton.addEventListener('click', async () => {
  if (!current) return;
  try {
    await api(`/v1/jobs/${current.id}`, { method: 'DELETE' });
    say('Canceling…');
  } catch (err) {
    say(err.message, true);
  }
});

function follow(id) {
  const events = new EventSource(`/v1/jobs/${id}/events`);
  current = { id, events };
  events.onmessage = (e) => {
    const job = JSON.parse(e.data);
    bar.value = job.progress?.fraction ?? 0;
    if (job.state === 'done') {
      events.close();
      showResult(job);
    } else if (job.state === 'failed' || job.state === 'canceled') {
      events.close();
      busy(false);
      say(job.state === 'failed' ? `Failed: ${job.error}` : 'Canceled.', job.state === 'failed');
    } else say(describe(job));
  };
  // EventSource reconnects by itself; a job that expired or a server that went away ends here.
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      busy(false);
      say('Lost the connection to the server.', true);
    }
  };
}

async function showResult(job) {
  try {
    const blob = await (await api(`/v1/jobs/${job.id}/result`)).blob();
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(blob);
    $('after').src = resultUrl;
    $('before').src = inputUrl;
    $('download').href = resultUrl;
    compareSection.hidden = false;
    say(`Done: ${job.input.width}×${job.input.height} → ${job.output.width}×${job.output.height} in ${job.elapsedSeconds} s.`);
  } catch (err) {
    say(err.message, true);
  } finally {
    busy(false);
    current = null;
  }
}

$('slider').addEventListener('input', (e) => {
  const v = Number(e.target.value);
  $('before').style.setProperty('clip-path', `inset(0 ${100 - v}% 0 0)`);
  $('compare').style.setProperty('--split', `${v}%`);
});

loadModels();
