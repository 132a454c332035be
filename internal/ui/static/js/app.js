// Entry point: hash router, shared time range and live toggle, view lifecycle.
import { clear } from './dom.js';
import { mountList } from './list.js';
import { mountTrace } from './trace.js';
import { mountMap } from './map.js';

const RANGES = { '5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };
const DEFAULT_RANGE = '1h';

const main = document.getElementById('main');
const rangeSel = document.getElementById('range');
const customBox = document.getElementById('custom-range');
const startInput = document.getElementById('range-start');
const endInput = document.getElementById('range-end');
const liveBox = document.getElementById('live');
const picker = document.getElementById('range-picker');

let current = null; // {unmount()}
let route = null;
let lastListHash = '#/traces';
let sharedParams = new URLSearchParams(); // range of the last list or map view

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/traces';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'trace' && parts[1]) return { view: 'trace', id: decodeURIComponent(parts[1]), params };
  if (parts[0] === 'map') return { view: 'map', params };
  return { view: 'traces', params };
}

function rangeOf(params) {
  const r = params.get('range') || DEFAULT_RANGE;
  if (r === 'custom') {
    const start = Number(params.get('start'));
    const end = Number(params.get('end'));
    if (isFinite(start) && isFinite(end) && start < end) return { key: 'custom', start, end };
    return { key: DEFAULT_RANGE };
  }
  return { key: RANGES[r] ? r : DEFAULT_RANGE };
}

/** The current time window in epoch seconds; relative ranges end now. */
function timeWindow(params) {
  const r = rangeOf(params);
  if (r.key === 'custom') return { start: r.start, end: r.end, relative: false, key: r.key };
  const end = Math.round(Date.now()) / 1000;
  return { start: Math.round((end - RANGES[r.key]) * 1000) / 1000, end, relative: true, key: r.key };
}

function toLocalInput(sec) {
  const d = new Date(sec * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Build a hash for a view keeping the shared range parameters. */
function hrefFor(view, extra, base) {
  const src = base || sharedParams;
  const p = new URLSearchParams();
  for (const k of ['range', 'start', 'end']) if (src.get(k)) p.set(k, src.get(k));
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === undefined || v === null || v === '') p.delete(k); else p.set(k, v);
  }
  const qs = p.toString();
  return `#/${view}${qs ? '?' + qs : ''}`;
}

function syncChrome() {
  const r = rangeOf(route.params);
  rangeSel.value = r.key;
  customBox.hidden = r.key !== 'custom';
  if (r.key === 'custom') {
    startInput.value = toLocalInput(r.start);
    endInput.value = toLocalInput(r.end);
  }
  liveBox.disabled = r.key === 'custom';
  picker.classList.toggle('is-hidden', route.view === 'trace');
  for (const [id, view] of [['nav-traces', 'traces'], ['nav-map', 'map']]) {
    const a = document.getElementById(id);
    a.href = hrefFor(view);
    if (route.view === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function render() {
  const next = parseHash();
  if (current) current.unmount();
  current = null;
  route = next;
  if (route.view !== 'trace') sharedParams = route.params;
  syncChrome();
  clear(main);
  const ctx = {
    params: route.params,
    window: () => timeWindow(route.params),
    isLive: () => liveBox.checked && !liveBox.disabled && !document.hidden,
    hrefFor,
    lastListHash: () => lastListHash,
  };
  if (route.view === 'trace') {
    document.title = `Trace ${route.id} — xrayd`;
    current = mountTrace(main, ctx, route.id);
  } else if (route.view === 'map') {
    document.title = 'Service map — xrayd';
    current = mountMap(main, ctx);
  } else {
    lastListHash = location.hash || '#/traces';
    document.title = 'Traces — xrayd';
    current = mountList(main, ctx);
  }
}

rangeSel.addEventListener('change', () => {
  if (rangeSel.value === 'custom') {
    const w = timeWindow(route.params);
    startInput.value = toLocalInput(w.start);
    endInput.value = toLocalInput(w.end);
    customBox.hidden = false;
    startInput.focus();
    return;
  }
  location.hash = hrefFor(route.view === 'trace' ? 'traces' : route.view,
    { range: rangeSel.value, start: '', end: '', filter: route.params.get('filter') });
});

document.getElementById('range-apply').addEventListener('click', () => {
  const start = new Date(startInput.value).getTime() / 1000;
  const end = new Date(endInput.value).getTime() / 1000;
  if (!isFinite(start) || !isFinite(end) || start >= end) {
    startInput.setCustomValidity('The start must be before the end');
    startInput.reportValidity();
    return;
  }
  startInput.setCustomValidity('');
  location.hash = hrefFor(route.view === 'trace' ? 'traces' : route.view,
    { range: 'custom', start: String(start), end: String(end), filter: route.params.get('filter') });
});

window.addEventListener('hashchange', render);
render();
