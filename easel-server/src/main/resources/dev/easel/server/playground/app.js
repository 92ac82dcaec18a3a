// The Easel playground: a page over the public API (the same endpoints, key and streaming as any client).
import { Api, ApiError, MAX_PARTIAL_IMAGES, previewSteps, tierRank } from './api.js';
import { MaskPainter } from './mask.js';
import { LANGUAGES } from './snippets.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
const MAX_SEED = Number.MAX_SAFE_INTEGER;

const state = {
  api: null,
  models: [],
  usage: null,
  mode: 'generate',
  source: null,          // { blob, name, width, height, url }
  running: null,         // the AbortController of the request in flight
  last: null,            // { params } of the last finished run
  codeFrom: null,        // a history entry's params shown in "copy as code", or null for the form
  codeLang: 'curl',
  resultUrls: [],
  historyUrls: [],
};

const mask = new MaskPainter($('mask-canvas'));

// ---------------------------------------------------------------- errors, in words, near their control

/** Which message slot an API error belongs to, from its param and status. */
const PARAM_SLOT = {
  model: 'model', prompt: 'prompt', negative_prompt: 'negative_prompt', size: 'size', width: 'size', height: 'size',
  steps: 'steps', num_inference_steps: 'steps', guidance_scale: 'guidance_scale', cfg_scale: 'guidance_scale',
  sampler: 'sampler', scheduler: 'sampler', n: 'n', seed: 'seed', strength: 'strength', image: 'image',
  'image[]': 'image', images: 'image', mask: 'mask',
};
const SLOT_CONTROL = {
  key: 'key-input', model: 'model', prompt: 'prompt', negative_prompt: 'negative', size: 'width', steps: 'steps',
  guidance_scale: 'guidance', sampler: 'sampler', n: 'n', seed: 'seed', strength: 'strength', image: 'source-file',
  admin: 'admin-name',
};

function slotElement(slot) {
  const el = document.querySelector(`[data-error-for="${slot}"]`);
  return el && !el.closest('[hidden]') ? el : null;
}

function describe(e) {
  if (!(e instanceof ApiError)) return `Something went wrong: ${e.message || e}`;
  const wait = e.retryAfter != null ? ` Try again in ${duration(e.retryAfter)}.` : '';
  switch (e.status) {
    case 0: return e.message;
    case 401: return `Your key was refused (401): ${e.message}`;
    case 403: return `Not allowed with this key (403): ${e.message}`;
    case 404: return `Not found (404): ${e.message}`;
    case 413: return `Too large (413): ${e.message}`;
    case 422: return `This model cannot run (422): ${e.message}`;
    case 429: return `Limit reached (429): ${e.message}${wait}`;
    case 503: return `The server is busy (503): ${e.message}${wait}`;
    case 504: return `Timed out (504): ${e.message}`;
    default: return e.status >= 500 ? `Server error (${e.status}): ${e.message}` : `${e.message} (${e.status})`;
  }
}

function duration(seconds) {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} minutes`;
  return `about ${Math.round(seconds / 3600)} hours`;
}

function showError(e, fallback) {
  let slot = fallback;
  if (e instanceof ApiError) {
    if (e.status === 401) slot = 'key';
    else if (e.param && PARAM_SLOT[e.param] && slotElement(PARAM_SLOT[e.param])) slot = PARAM_SLOT[e.param];
    else if (e.status === 403 && fallback === 'run') slot = 'model';
    else if (e.status === 413 && state.mode === 'edit' && fallback === 'run') slot = 'image';
  }
  say(slot, describe(e));
  if (slot !== fallback && fallback === 'run') say('run', 'The request failed: see the message above.');
}

function say(slot, text) {
  const el = slotElement(slot) || slotElement('run') || $('page-error');
  el.textContent = text;
  el.hidden = false;
  const control = $(SLOT_CONTROL[slot]);
  if (control) control.setAttribute('aria-invalid', 'true');
}

function clearErrors(scope = document) {
  for (const el of scope.querySelectorAll('[data-error-for]')) el.textContent = '';
  for (const el of scope.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  $('page-error').hidden = true;
}

// nothing may fail silently into the console
window.addEventListener('error', (e) => pageError(e.message));
window.addEventListener('unhandledrejection', (e) => pageError(e.reason && e.reason.message ? e.reason.message : String(e.reason)));
function pageError(message) {
  $('page-error').textContent = `Something went wrong in the page: ${message}`;
  $('page-error').hidden = false;
}

// ---------------------------------------------------------------- key and account

async function useKey(key) {
  clearErrors($('key-form'));
  key = key.trim();
  if (!key) return say('key', 'Enter an API key.');
  const api = new Api(key);
  let models;
  try {
    models = await api.models();
  } catch (e) {
    state.api = null;
    $('account').hidden = true;
    $('tab-admin').hidden = true;
    return showError(e, 'key');
  }
  store.saveKey(key);
  $('key-input').value = key;
  state.api = api;
  state.models = models.data;
  await refreshAccount();
  fillModels();
  await checkAdmin();
}

async function refreshAccount() {
  if (!state.api) return;
  try {
    const u = await state.api.usage();
    state.usage = u;
    $('account-name').textContent = u.key.name ? `${u.key.name} (${u.key.id})` : u.key.id;
    $('account-tier').textContent = u.key.tier;
    $('account-usage').textContent = `Today: ${u.today.images} of ${u.limits.images_per_day} images, `
      + `${u.today.compute_seconds.toFixed(1)} s of compute (UTC day)`;
    $('account-limits').textContent = `Limits: ${u.limits.requests_per_minute} requests/min, `
      + `${u.limits.concurrent_jobs} at once, up to ${u.limits.max_n} images per request`;
    $('n').max = u.limits.max_n;
    $('account').hidden = false;
  } catch (e) {
    showError(e, 'key');
  }
}

async function checkAdmin() {
  try {
    await state.api.listKeys();
    $('tab-admin').hidden = false;
    await refreshAdmin();
  } catch {
    $('tab-admin').hidden = true; // 403: not an admin key; the tab stays away
    if (!$('admin').hidden) selectTab($('tab-generate'));
  }
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  useKey($('key-input').value);
});
$('key-forget').addEventListener('click', () => {
  store.forgetKey();
  state.api = null;
  $('key-input').value = '';
  $('account').hidden = true;
  $('tab-admin').hidden = true;
  $('model').replaceChildren();
  $('model-info').textContent = '';
  $('key-input').focus();
});

// ---------------------------------------------------------------- models and sizes

const myTier = () => (state.usage ? state.usage.key.tier : 'free');
const currentModel = () => state.models.find((m) => m.id === $('model').value);
const aboveTier = (m) => tierRank(m.tier) > tierRank(myTier());

function fillModels() {
  const select = $('model');
  const previous = select.value || localStorage.getItem('easel.model');
  select.replaceChildren();
  for (const m of state.models) {
    const notes = [];
    if (aboveTier(m)) notes.push(`needs ${m.tier} tier`);
    if (!m.installed) notes.push('not installed');
    else if (!m.available) notes.push('cannot run');
    const option = new Option(`${m.id} · ${m.family} · ${m.tier}${notes.length ? ` (${notes.join(', ')})` : ''}`, m.id);
    select.add(option);
  }
  const usable = state.models.find((m) => m.available && !aboveTier(m));
  const pick = state.models.some((m) => m.id === previous) ? previous : usable ? usable.id : state.models[0]?.id;
  if (pick) select.value = pick;
  modelChanged();
}

function modelChanged() {
  const m = currentModel();
  if (!m) return;
  localStorage.setItem('easel.model', m.id);
  $('model-error').textContent = '';
  $('model').removeAttribute('aria-invalid');
  const parts = [`Tier ${m.tier}`, `family ${m.family}`, m.installed ? 'installed' : 'not installed',
    m.loaded ? 'loaded' : 'not loaded', `default size ${m.default_size}`,
    `sizes ${m.min_size}–${m.max_size} px, multiples of ${m.size_multiple}`];
  const info = $('model-info');
  info.replaceChildren();
  const line = document.createElement('p');
  line.textContent = parts.join(' · ');
  info.append(line);
  if (aboveTier(m)) {
    const p = document.createElement('p');
    p.className = 'tier-note';
    p.textContent = `Needs a ${m.tier} tier key; this key is ${myTier()} tier.`;
    info.append(p);
  }
  if (m.unavailable_reason) {
    const p = document.createElement('p');
    p.textContent = `Cannot run: ${m.unavailable_reason}`;
    info.append(p);
  }
  if (m.description) {
    const p = document.createElement('p');
    p.textContent = m.description;
    info.append(p);
  }
  for (const id of ['width', 'height']) {
    $(id).min = m.min_size;
    $(id).max = m.max_size;
    $(id).step = m.size_multiple;
  }
  $('size-help').textContent = `Each side ${m.min_size}–${m.max_size} px, a multiple of ${m.size_multiple}.`;
  fillSizes(m);
  $('steps').value = m.default_steps ?? '';
  $('guidance').value = m.default_guidance_scale ?? '';
  $('sampler').value = m.default_sampler ?? '';
  renderCode();
}

function fillSizes(m) {
  const [dw, dh] = m.default_size.split('x').map(Number);
  const k = m.size_multiple;
  const ok = ([w, h]) => w >= m.min_size && h >= m.min_size && w <= m.max_size && h <= m.max_size && w % k === 0 && h % k === 0;
  const list = [[dw, dh]];
  for (const s of [64, 128, 256, 384, 512, 640, 768, 1024, 1280, 1536]) list.push([s, s]);
  list.push([Math.round(dw * 1.5 / k) * k, dh], [dw, Math.round(dh * 1.5 / k) * k]);
  const seen = new Set();
  const select = $('size-preset');
  select.replaceChildren();
  if (state.mode === 'edit') select.add(new Option('auto: the source image size', 'auto'));
  for (const size of list) {
    const text = `${size[0]}x${size[1]}`;
    if (!ok(size) || seen.has(text)) continue;
    seen.add(text);
    select.add(new Option(size[0] === dw && size[1] === dh ? `${text} (default)` : text, text));
  }
  select.add(new Option('custom', 'custom'));
  select.value = state.mode === 'edit' ? 'auto' : `${dw}x${dh}`;
  $('width').value = dw;
  $('height').value = dh;
  sizePresetChanged();
}

function sizePresetChanged() {
  const v = $('size-preset').value;
  const auto = v === 'auto';
  $('width').disabled = auto;
  $('height').disabled = auto;
  if (/^\d+x\d+$/.test(v)) [$('width').value, $('height').value] = v.split('x');
  renderCode();
}

function sizeTyped() {
  const text = `${$('width').value}x${$('height').value}`;
  const match = [...$('size-preset').options].find((o) => o.value === text);
  $('size-preset').value = match ? text : 'custom';
  renderCode();
}

$('model').addEventListener('change', modelChanged);
$('size-preset').addEventListener('change', sizePresetChanged);
$('width').addEventListener('input', sizeTyped);
$('height').addEventListener('input', sizeTyped);

// ---------------------------------------------------------------- settings

for (const r of document.querySelectorAll('input[name="seed-mode"]')) {
  r.addEventListener('change', () => {
    $('seed').disabled = !$('seed-fixed').checked;
    if ($('seed-fixed').checked && $('seed').value === '') {
      $('seed').value = state.last?.params.seed ?? Math.floor(Math.random() * 2 ** 32);
    }
    renderCode();
  });
}
$('strength').addEventListener('input', () => {
  $('strength-value').textContent = Number($('strength').value).toFixed(2);
  renderCode();
});
$('settings').addEventListener('input', () => renderCode());

/** The form as request fields; local mistakes are reported at their control and answer null. */
function readSettings(report = true) {
  const problems = [];
  const number = (id, slot, integer) => {
    const raw = $(id).value.trim();
    if (raw === '') return undefined;
    const v = Number(raw);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) problems.push([slot, `Enter ${integer ? 'a whole number' : 'a number'}.`]);
    return v;
  };
  const s = {
    mode: state.mode,
    model: $('model').value,
    prompt: $('prompt').value,
    negative_prompt: $('negative').value.trim() || undefined,
    n: number('n', 'n', true) ?? 1,
    steps: number('steps', 'steps', true),
    guidance_scale: number('guidance', 'guidance_scale', false),
    sampler: $('sampler').value || undefined,
  };
  if (!(state.mode === 'edit' && $('size-preset').value === 'auto')) {
    const w = number('width', 'size', true);
    const h = number('height', 'size', true);
    if (w !== undefined && h !== undefined) s.size = `${w}x${h}`;
  }
  if (state.mode === 'edit') {
    s.strength = Number($('strength').value);
    s.hasMask = mask.painted;
  }
  if ($('seed-fixed').checked) {
    const seed = number('seed', 'seed', true);
    if (seed === undefined || seed < 0 || seed > MAX_SEED) problems.push(['seed', `Enter a seed from 0 to ${MAX_SEED}, or choose Random.`]);
    s.seed = seed;
  }
  if (report) for (const [slot, text] of problems) say(slot, text);
  return problems.length ? null : s;
}

function applySettings(p) {
  selectTab($(p.mode === 'edit' ? 'tab-edit' : 'tab-generate'));
  if (state.models.some((m) => m.id === p.model)) {
    $('model').value = p.model;
    modelChanged();
  }
  $('prompt').value = p.prompt ?? '';
  $('negative').value = p.negative_prompt ?? '';
  if (p.size) {
    [$('width').value, $('height').value] = p.size.split('x');
    sizeTyped();
  }
  $('steps').value = p.steps ?? '';
  $('guidance').value = p.guidance_scale ?? '';
  $('sampler').value = p.sampler ?? '';
  $('n').value = p.n ?? 1;
  if (p.strength != null) {
    $('strength').value = p.strength;
    $('strength-value').textContent = Number(p.strength).toFixed(2);
  }
  $('seed-fixed').checked = p.seed != null;
  $('seed-random').checked = p.seed == null;
  $('seed').disabled = p.seed == null;
  $('seed').value = p.seed ?? '';
  renderCode();
}

// ---------------------------------------------------------------- generate and edit, streamed

function slot(index) {
  let figure = $('results').querySelector(`figure[data-index="${index}"]`);
  if (!figure) {
    figure = document.createElement('figure');
    figure.dataset.index = index;
    figure.dataset.state = 'waiting';
    figure.dataset.previews = '0';
    const img = document.createElement('img');
    img.alt = `Image ${index + 1}: waiting`;
    const caption = document.createElement('figcaption');
    caption.textContent = 'Waiting…';
    figure.append(img, caption);
    $('results').append(figure);
  }
  return figure;
}

function objectUrl(blob, list) {
  const url = URL.createObjectURL(blob);
  list.push(url);
  return url;
}

function b64ToBlob(b64, type = 'image/png') {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

function progress(text) {
  $('progress').textContent = text;
}

/** The number of denoising steps a run makes, as the server counts them (edits run part of the schedule). */
function stepsToRun(s, m) {
  const steps = s.steps ?? m?.default_steps;
  if (!steps) return null;
  if (s.mode !== 'edit') return steps;
  const run = m?.family === 'flux' ? steps - Math.floor(Math.max(steps - Math.min(steps * s.strength, steps), 0))
    : Math.min(Math.floor(steps * s.strength), steps);
  return Math.max(1, run);
}

async function run() {
  if (state.running) return;
  clearErrors($('workspace'));
  if (!state.api) {
    say('key', 'Enter an API key first.');
    $('key-input').focus();
    return;
  }
  const s = readSettings();
  if (!s) return;
  if (!s.prompt.trim()) {
    say('prompt', 'Write a prompt first.');
    $('prompt').focus();
    return;
  }
  if (s.mode === 'edit' && !state.source) {
    say('image', 'Choose or drop a source image first.');
    $('source-file').focus();
    return;
  }
  const model = currentModel();
  const total = stepsToRun(s, model);
  const wanted = total ? Math.min(MAX_PARTIAL_IMAGES, Math.max(0, total - 1)) : 3;
  const at = total ? previewSteps(wanted, total) : [];
  const fields = { model: s.model, prompt: s.prompt, n: s.n, stream: true, partial_images: wanted, response_format: 'b64_json', output_format: 'png' };
  for (const k of ['negative_prompt', 'size', 'steps', 'guidance_scale', 'sampler', 'seed', 'strength']) if (s[k] !== undefined) fields[k] = s[k];

  let body;
  let maskBlob = null;
  if (s.mode === 'edit') {
    body = new FormData();
    body.append('image', state.source.blob, state.source.name);
    if (mask.painted) {
      maskBlob = await mask.toMaskPng();
      body.append('mask', maskBlob, 'mask.png');
    }
    for (const [k, v] of Object.entries(fields)) body.append(k, String(v));
  } else {
    body = fields;
  }

  for (const url of state.resultUrls) URL.revokeObjectURL(url);
  state.resultUrls = [];
  $('results').replaceChildren();
  for (let i = 0; i < s.n; i++) slot(i);
  const controller = new AbortController();
  state.running = controller;
  $('run').disabled = true;
  $('cancel').disabled = false;
  $('results').setAttribute('aria-busy', 'true');
  progress('Sent; waiting for the server (the model may be loading)…');

  const started = performance.now();
  let lastStep = 0;
  let lastTime = started;
  const done = [];
  try {
    await state.api.stream(s.mode === 'edit' ? '/images/edits' : '/images/generations', body, (name, data) => {
      const figure = slot(data.image_index ?? 0);
      const img = figure.querySelector('img');
      if (name.endsWith('.partial_image')) {
        img.src = objectUrl(b64ToBlob(data.b64_json), state.resultUrls);
        img.className = 'preview';
        figure.dataset.state = 'preview';
        figure.dataset.previews = String(Number(figure.dataset.previews) + 1);
        const step = at[data.partial_image_index];
        if ((data.image_index ?? 0) === 0 && step) {
          const now = performance.now();
          const perStep = (now - lastTime) / (step - lastStep);
          lastStep = step;
          lastTime = now;
          const eta = Math.max(0, Math.round(perStep * (total - step) / 100) / 10);
          progress(`Step ${step}/${total} · about ${eta} s left`);
        }
        img.alt = `Image ${figure.dataset.index * 1 + 1}: preview${step ? ` at step ${step} of ${total}` : ''}`;
        figure.querySelector('figcaption').textContent = step ? `Preview · step ${step}/${total}` : 'Preview';
      } else if (name.endsWith('.completed')) {
        const blob = b64ToBlob(data.b64_json);
        const url = objectUrl(blob, state.resultUrls);
        img.src = url;
        img.className = 'final';
        img.alt = `Image ${Number(figure.dataset.index) + 1}: ${s.prompt}`;
        figure.dataset.state = 'final';
        figure.dataset.seed = data.seed;
        const caption = figure.querySelector('figcaption');
        caption.replaceChildren(`${data.width}x${data.height} · seed ${data.seed} · `);
        const link = document.createElement('a');
        link.href = url;
        link.download = `easel-${data.seed}-${data.image_index ?? 0}.png`;
        link.textContent = 'Download PNG';
        caption.append(link);
        done.push({ blob, data });
      }
    }, controller.signal);
    if (done.length === 0) throw new ApiError(500, 'The server ended the answer without an image.');
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const seed = done[0].data.seed;
    progress(`Done: ${done.length} image${done.length === 1 ? '' : 's'} in ${seconds} s · seed ${seed}`);
    const params = { ...s, seed, size: `${done[0].data.width}x${done[0].data.height}` };
    delete params.hasMask;
    state.last = { params: { ...params, hasMask: !!maskBlob } };
    for (const { blob, data } of done) {
      await store.addResult({
        created: Date.now(), mode: s.mode, model: s.model, index: data.image_index ?? 0, params, image: blob,
        source: s.mode === 'edit' ? state.source.blob : null, sourceName: s.mode === 'edit' ? state.source.name : null,
        mask: maskBlob,
      });
    }
    renderHistory();
  } catch (e) {
    if (e.name === 'AbortError') {
      progress('Cancelled: the request was dropped and the server stops the job at its next step.');
      for (const f of $('results').querySelectorAll('figure')) {
        if (f.dataset.state !== 'final') {
          f.dataset.state = 'cancelled';
          f.querySelector('figcaption').textContent = 'Cancelled';
        }
      }
    } else {
      progress('Failed.');
      for (const f of $('results').querySelectorAll('figure:not([data-state="final"])')) f.remove();
      showError(e, 'run');
    }
  } finally {
    state.running = null;
    $('run').disabled = false;
    $('cancel').disabled = true;
    $('results').removeAttribute('aria-busy');
    renderCode();
    refreshAccount();
  }
}

$('settings').addEventListener('submit', (e) => {
  e.preventDefault();
  run();
});
$('cancel').addEventListener('click', () => state.running && state.running.abort());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !$('workspace').hidden) {
    e.preventDefault();
    run();
  }
});

// ---------------------------------------------------------------- the edit's source image and mask

async function setSource(file) {
  clearErrors($('source-area'));
  if (!file) return;
  if (!/^image\//.test(file.type) && file.type !== '') return say('image', `${file.name} is not an image.`);
  const url = URL.createObjectURL(file);
  const img = new Image();
  try {
    img.src = url;
    await img.decode();
  } catch {
    URL.revokeObjectURL(url);
    return say('image', `${file.name} could not be read as an image.`);
  }
  if (state.source) URL.revokeObjectURL(state.source.url);
  state.source = { blob: file, name: file.name || 'source.png', width: img.naturalWidth, height: img.naturalHeight, url };
  $('source-img').src = url;
  mask.reset(img.naturalWidth, img.naturalHeight);
  $('brush-size').max = Math.max(4, Math.round(Math.max(img.naturalWidth, img.naturalHeight) / 2));
  $('brush-size').value = mask.radius;
  $('source-figure').hidden = false;
  $('mask-tools').hidden = false;
  $('source-figure').querySelector('figcaption').textContent =
    `Source ${img.naturalWidth}x${img.naturalHeight} (${file.name || 'image'}); painted area = mask`;
}

$('source-file').addEventListener('change', () => setSource($('source-file').files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  setSource(e.dataTransfer.files[0]);
});
for (const r of document.querySelectorAll('input[name="tool"]')) r.addEventListener('change', () => { mask.tool = r.value; });
$('brush-size').addEventListener('input', () => { mask.radius = Number($('brush-size').value); });
$('mask-fill').addEventListener('click', () => mask.fill());
$('mask-clear').addEventListener('click', () => mask.clear());
$('mask-canvas').addEventListener('maskchange', () => {
  $('mask-status').textContent = mask.painted
    ? 'Mask painted: only the painted area is repainted.' : 'No mask: the whole image is repainted at the chosen strength.';
  renderCode();
});

// ---------------------------------------------------------------- copy as code

function renderCode() {
  if (!$('code').open) return;
  let s = state.codeFrom;
  const note = [];
  if (s) {
    note.push('The settings of a history entry.');
  } else {
    s = readSettings(false) || {};
    s = { ...s };
    if (s.seed == null && state.last) {
      s.seed = state.last.params.seed;
      note.push(`Seed ${s.seed} is the last image's (the form is set to random).`);
    } else if (s.seed == null) {
      note.push('The seed is random: the answer names the seed it used.');
    }
  }
  if (s.mode === 'edit') note.push(`Save the source image as source.png${s.hasMask ? ' and the mask as mask.png' : ''}.`);
  note.push('Set EASEL_API_KEY to your key.');
  const base = `${location.origin}/v1`;
  $('code-note').textContent = note.join(' ');
  $('code-text').value = s.model ? LANGUAGES[state.codeLang](s, base) : '';
}

$('code').addEventListener('toggle', () => {
  if (!$('code').open) state.codeFrom = null;
  renderCode();
});
for (const b of document.querySelectorAll('#code [data-lang]')) {
  b.addEventListener('click', () => {
    state.codeLang = b.dataset.lang;
    for (const o of document.querySelectorAll('#code [data-lang]')) o.setAttribute('aria-pressed', String(o === b));
    renderCode();
  });
}
$('code-copy').addEventListener('click', () => copy($('code-text').value, $('code-copy')));

async function copy(text, button) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy it (Ctrl+C)';
  }
  setTimeout(() => { button.textContent = label; }, 1500);
}

// ---------------------------------------------------------------- history

async function renderHistory() {
  let entries;
  try {
    entries = await store.allResults();
  } catch (e) {
    return pageError(`the history cannot be read (${e.message})`);
  }
  for (const url of state.historyUrls) URL.revokeObjectURL(url);
  state.historyUrls = [];
  const list = $('history-list');
  list.replaceChildren();
  for (const entry of entries) {
    const li = document.createElement('li');
    li.dataset.id = entry.id;
    const img = document.createElement('img');
    img.src = objectUrl(entry.image, state.historyUrls);
    img.alt = `${entry.mode === 'edit' ? 'Edit' : 'Image'}: ${entry.params.prompt}`;
    const dl = document.createElement('dl');
    const p = entry.params;
    const rows = [['When', new Date(entry.created).toLocaleString()], ['Kind', entry.mode === 'edit' ? 'edit' : 'generation'],
      ['Model', p.model], ['Prompt', p.prompt], ['Negative', p.negative_prompt], ['Size', p.size], ['Steps', p.steps],
      ['Guidance', p.guidance_scale], ['Sampler', p.sampler || 'model default'], ['Seed', p.seed],
      ['Image', `${entry.index + 1} of ${p.n}`], ['Strength', entry.mode === 'edit' ? p.strength : undefined],
      ['Mask', entry.mode === 'edit' ? (entry.mask ? 'painted' : 'none') : undefined]];
    for (const [k, v] of rows) {
      if (v === undefined || v === null || v === '') continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    const actions = document.createElement('div');
    actions.className = 'row';
    const reuse = button('Reuse settings', () => reuseEntry(entry));
    const download = document.createElement('a');
    download.href = objectUrl(entry.image, state.historyUrls);
    download.download = `easel-${p.seed}-${entry.index}.png`;
    download.textContent = 'Download PNG';
    const code = button('Copy as code', () => {
      state.codeFrom = { ...p, hasMask: !!entry.mask };
      applySettings(p);
      $('code').open = true;
      state.codeFrom = { ...p, hasMask: !!entry.mask };
      renderCode();
      $('code').querySelector('summary').focus();
    });
    const remove = button('Delete', async () => {
      await store.deleteResult(entry.id);
      renderHistory();
    });
    actions.append(reuse, download, code, remove);
    li.append(img, dl, actions);
    list.append(li);
  }
  if (!entries.length) {
    const li = document.createElement('li');
    li.textContent = 'Nothing yet: every image you make is kept here.';
    list.append(li);
  }
}

function button(text, onClick, cls = 'secondary') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

async function reuseEntry(entry) {
  applySettings(entry.params);
  if (entry.mode === 'edit' && entry.source) {
    await setSource(new File([entry.source], entry.sourceName || 'source.png', { type: entry.source.type }));
  }
  $('prompt').focus();
}

$('history-clear').addEventListener('click', async () => {
  await store.clearResults();
  renderHistory();
});

// ---------------------------------------------------------------- admin

async function refreshAdmin() {
  let keys;
  try {
    keys = (await state.api.listKeys()).data;
  } catch (e) {
    return showError(e, 'admin');
  }
  const usage = await Promise.all(keys.map((k) => state.api.keyUsage(k.id).catch(() => null)));
  const body = $('admin-keys').querySelector('tbody');
  body.replaceChildren();
  keys.forEach((k, i) => {
    const tr = document.createElement('tr');
    tr.dataset.id = k.id;
    const u = usage[i];
    const cells = [k.id, k.admin ? `${k.name} (admin)` : k.name, k.tier, u ? u.today.images : '?', u ? u.total.images : '?',
      k.revoked_at ? 'revoked' : 'active'];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = String(c);
      tr.append(td);
    }
    const td = document.createElement('td');
    if (state.usage && k.id === state.usage.key.id) {
      td.textContent = 'this key';
    } else if (!k.revoked_at) {
      const revoke = button('Revoke', async () => {
        if (revoke.dataset.confirm !== 'yes') {
          revoke.dataset.confirm = 'yes';
          revoke.textContent = `Confirm: revoke ${k.id}`;
          return;
        }
        try {
          await state.api.revokeKey(k.id);
          refreshAdmin();
        } catch (e) {
          showError(e, 'admin');
        }
      });
      revoke.setAttribute('aria-label', `Revoke ${k.name} (${k.id})`);
      td.append(revoke);
    }
    tr.append(td);
    body.append(tr);
  });
}

$('admin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors($('admin'));
  const name = $('admin-name').value.trim();
  if (!name) return say('admin', 'Give the key a name.');
  try {
    const created = await state.api.createKey(name, $('admin-tier').value);
    $('admin-new-key').textContent = created.key;
    $('admin-new').hidden = false;
    $('admin-new').dataset.id = created.id;
    $('admin-name').value = '';
    $('admin-new-copy').focus();
    refreshAdmin();
  } catch (err) {
    showError(err, 'admin');
  }
});
$('admin-new-copy').addEventListener('click', () => copy($('admin-new-key').textContent, $('admin-new-copy')));
$('admin-new-use').addEventListener('click', async () => {
  const key = $('admin-new-key').textContent;
  $('admin-new').hidden = true;
  $('admin-new-key').textContent = '';
  await useKey(key);
  selectTab($('tab-generate'));
});

// ---------------------------------------------------------------- tabs

const tabs = [...document.querySelectorAll('[role="tab"]')];

function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  const workspace = Boolean(tab.dataset.mode);
  $('workspace').hidden = !workspace;
  $('history').hidden = tab.id !== 'tab-history';
  $('admin').hidden = tab.id !== 'tab-admin';
  if (workspace) {
    setMode(tab.dataset.mode);
    $('workspace').setAttribute('aria-labelledby', tab.id);
  }
  if (tab.id === 'tab-history') renderHistory();
  if (tab.id === 'tab-admin') refreshAdmin();
}

function setMode(mode) {
  if (state.mode === mode) return;
  state.mode = mode;
  const edit = mode === 'edit';
  $('edit-fields').hidden = !edit;
  $('source-area').hidden = !edit;
  $('source-figure').hidden = !edit || !state.source;
  $('run').textContent = edit ? 'Edit image' : 'Generate';
  $('results').replaceChildren();
  progress('');
  clearErrors($('workspace'));
  const m = currentModel();
  if (m) fillSizes(m);
}

for (const t of tabs) {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const visible = tabs.filter((x) => !x.hidden);
    const i = visible.indexOf(t);
    let next = null;
    if (e.key === 'ArrowRight') next = visible[(i + 1) % visible.length];
    else if (e.key === 'ArrowLeft') next = visible[(i - 1 + visible.length) % visible.length];
    else if (e.key === 'Home') next = visible[0];
    else if (e.key === 'End') next = visible[visible.length - 1];
    if (next) {
      e.preventDefault();
      selectTab(next);
      next.focus();
    }
  });
}

// ---------------------------------------------------------------- start

// The submit buttons stay disabled until now, so that Enter before the script ran does nothing.
for (const id of ['key-use', 'run', 'admin-create']) $(id).disabled = false;
document.documentElement.dataset.ready = 'true';
const saved = store.savedKey();
if (saved) {
  $('key-input').value = saved;
  useKey(saved);
} else {
  $('key-input').focus();
}
renderHistory();
