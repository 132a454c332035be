// Trace list: filter expression, latency histogram, sortable table, paging, live updates.
import { h, s, clear, announce } from './dom.js';
import { getTraceSummaries, ApiError } from './api.js';
import { fmtTime, fmtDur, summaryStatus, STATUS_LABEL } from './format.js';

const POLL_MS = 5000;
const MAX_EMPTY_PAGES = 10;

const EXAMPLES = [
  ['fault', 'root returned a 5xx'],
  ['responsetime > 1', 'slower than one second'],
  ['http.status = 404', 'root status 404'],
  ['http.url CONTAINS "/api/"', 'URL contains text'],
  ['service("api") { fault }', 'a fault on service api'],
  ['edge("api", "db") { error }', 'an error on that call'],
  ['annotation.tenant = "acme"', 'annotation equals'],
  ['user = "alice"', 'a segment has user alice'],
];

const COLUMNS = [
  { key: 'time', label: 'Time', cls: 'col-time', get: (t) => t.StartTime || 0 },
  { key: 'id', label: 'Trace ID', cls: 'col-id', get: (t) => t.Id },
  { key: 'method', label: 'Method', cls: 'col-method', get: (t) => (t.Http && t.Http.HttpMethod) || '' },
  { key: 'url', label: 'URL', cls: 'col-url', get: (t) => (t.Http && t.Http.HttpURL) || '' },
  { key: 'status', label: 'Status', cls: 'col-status', get: (t) => (t.Http && t.Http.HttpStatus) || 0 },
  { key: 'response', label: 'Response', cls: 'col-num', get: (t) => t.ResponseTime ?? -1 },
  { key: 'duration', label: 'Duration', cls: 'col-num col-duration', get: (t) => t.Duration ?? -1 },
  { key: 'services', label: 'Services', cls: 'col-services', get: (t) => serviceNames(t).join(',') },
  { key: 'flags', label: 'Flags', cls: 'col-flags', get: (t) => rank(t) },
];

function rank(t) {
  return (t.HasFault ? 8 : 0) + (t.HasError ? 4 : 0) + (t.HasThrottle ? 2 : 0) + (t.IsPartial ? 1 : 0);
}

function serviceNames(t) {
  const out = [];
  for (const sid of t.ServiceIds || []) {
    if (sid && sid.Name && !out.includes(sid.Name)) out.push(sid.Name);
  }
  return out;
}

function badges(t) {
  const b = [];
  if (t.HasFault) b.push(h('span', { class: 'badge fault', text: 'Fault' }));
  if (t.HasError) b.push(h('span', { class: 'badge error', text: 'Error' }));
  if (t.HasThrottle) b.push(h('span', { class: 'badge throttle', text: 'Throttle' }));
  if (t.IsPartial) b.push(h('span', { class: 'badge pending', text: 'Partial' }));
  return b;
}

/** Bins of equal width with a "nice" step covering [0, max]. */
export function histogramBins(values, target = 24) {
  const max = values.reduce((m, v) => Math.max(m, v), 0);
  if (!values.length) return { step: 0, bins: [] };
  const raw = Math.max(max, 0.001) / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
  const n = Math.max(1, Math.floor(max / step) + 1);
  const bins = Array.from({ length: n }, (_, i) => ({ lo: i * step, hi: (i + 1) * step, ok: 0, error: 0, fault: 0, throttle: 0, total: 0 }));
  return { step, bins };
}

function roundNum(x) {
  return String(Math.round(x * 1e6) / 1e6);
}

export function mountList(main, ctx) {
  const params = ctx.params;
  let filter = params.get('filter') || '';
  let rows = new Map(); // id -> summary, insertion order irrelevant
  let nextToken = null;
  let processed = 0;
  let sortKey = params.get('sort') || 'time';
  let sortDir = params.get('dir') === 'asc' ? 1 : -1;
  let loading = false;
  let abort = new AbortController();
  let newIds = new Set();
  let lastWindow = null;
  let timer = null;
  let disposed = false;

  const input = h('input', {
    id: 'filter', type: 'search', class: 'mono', value: filter, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Filter expression, e.g. service("api") { fault } AND responsetime > 1',
    'aria-describedby': 'filter-error filter-help-summary',
  });
  const errorBox = h('div', { id: 'filter-error', class: 'error-box', role: 'alert', hidden: true });
  const form = h('form', { class: 'filterbar', role: 'search', onsubmit: (e) => { e.preventDefault(); applyFilter(input.value.trim()); } },
    h('label', { for: 'filter', class: 'sr-only', text: 'Filter expression' }),
    input,
    h('button', { type: 'submit', class: 'primary', id: 'filter-apply', text: 'Apply' }),
    h('button', { type: 'button', id: 'filter-clear', text: 'Clear', onclick: () => { input.value = ''; applyFilter(''); } }),
  );
  const help = h('details', { class: 'filter-help' },
    h('summary', { id: 'filter-help-summary', text: 'Filter expression examples' }),
    h('ul', null, EXAMPLES.map(([ex, what]) => h('li', null,
      h('button', { type: 'button', class: 'linkish mono', text: ex, onclick: () => { input.value = ex; input.focus(); } }),
      ' — ', what))));

  const histSvg = s('svg', { class: 'histogram', viewBox: '0 0 640 150', role: 'group', 'aria-label': 'Response time histogram' });
  const histCaption = h('figcaption', { class: 'muted' });
  const hist = h('figure', { class: 'hist-card card' },
    h('h2', { text: 'Response time distribution' }), histSvg, histCaption);

  const meta = h('p', { class: 'list-meta muted', role: 'status' });
  const headRow = h('tr');
  const tbody = h('tbody');
  const table = h('table', { id: 'trace-table', class: 'traces' },
    h('caption', { class: 'sr-only', text: 'Traces. Press Enter on a row to open the trace.' }),
    h('thead', null, headRow), tbody);
  const more = h('button', { type: 'button', id: 'load-more', hidden: true, text: 'Load more traces', onclick: () => load(false) });
  const empty = h('div', { class: 'empty', hidden: true });

  const view = h('section', { class: 'view view-list', 'aria-labelledby': 'list-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'list-title', text: 'Traces' }), meta),
    form, errorBox, help, hist,
    h('div', { class: 'table-wrap card' }, table, empty),
    h('div', { class: 'pager' }, more));
  main.appendChild(view);

  function renderHead() {
    clear(headRow);
    for (const c of COLUMNS) {
      const active = c.key === sortKey;
      const th = h('th', { scope: 'col', class: c.cls, 'aria-sort': active ? (sortDir > 0 ? 'ascending' : 'descending') : 'none' },
        h('button', { type: 'button', class: 'sort', dataset: { sort: c.key }, onclick: () => sortBy(c.key) },
          c.label, h('span', { class: 'sort-ind', 'aria-hidden': 'true', text: active ? (sortDir > 0 ? '▲' : '▼') : '' })));
      headRow.appendChild(th);
    }
  }

  function sortBy(key) {
    if (key === sortKey) sortDir = -sortDir;
    else { sortKey = key; sortDir = key === 'time' || key === 'response' || key === 'duration' ? -1 : 1; }
    renderHead();
    renderRows();
    headRow.querySelector(`[data-sort="${key}"]`).focus();
  }

  function sorted() {
    const col = COLUMNS.find((c) => c.key === sortKey) || COLUMNS[0];
    return [...rows.values()].sort((a, b) => {
      const x = col.get(a);
      const y = col.get(b);
      const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return r !== 0 ? r * sortDir : (b.StartTime || 0) - (a.StartTime || 0);
    });
  }

  function open(id) {
    location.hash = '#/trace/' + encodeURIComponent(id);
  }

  function rowKey(e) {
    const tr = e.currentTarget;
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(tr.dataset.id); }
    else if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    else if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  }

  function renderRow(t) {
    const st = summaryStatus(t);
    const http = t.Http || {};
    const names = serviceNames(t);
    const status = http.HttpStatus;
    return h('tr', {
      tabindex: '0', class: ['trace-row', 'st-' + st, newIds.has(t.Id) && 'is-new'], dataset: { id: t.Id },
      'aria-label': `${STATUS_LABEL[st]} trace ${t.Id} ${http.HttpMethod || ''} ${http.HttpURL || ''}`.trim(),
      onclick: (e) => { if (!e.target.closest('a')) open(t.Id); }, onkeydown: rowKey,
    },
    h('td', { class: 'col-time mono', text: fmtTime(t.StartTime, true), title: new Date((t.StartTime || 0) * 1000).toISOString() }),
    h('td', { class: 'col-id mono' }, h('a', { href: '#/trace/' + encodeURIComponent(t.Id), tabindex: '-1', text: t.Id })),
    h('td', { class: 'col-method', text: http.HttpMethod || '' }),
    h('td', { class: 'col-url', title: http.HttpURL || '' }, h('span', { class: 'trunc', text: http.HttpURL || '—' })),
    h('td', { class: 'col-status' }, status ? h('span', { class: 'code st-' + st, text: String(status) }) : '—'),
    h('td', { class: 'col-num', text: fmtDur(t.ResponseTime) }),
    h('td', { class: 'col-num col-duration', text: fmtDur(t.Duration) }),
    h('td', { class: 'col-services' }, names.slice(0, 3).map((n) => h('span', { class: 'chip', text: n })),
      names.length > 3 ? h('span', { class: 'chip more', text: `+${names.length - 3}`, title: names.slice(3).join(', ') }) : null),
    h('td', { class: 'col-flags' }, badges(t)));
  }

  function renderRows() {
    const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    clear(tbody);
    const list = sorted();
    const frag = document.createDocumentFragment();
    for (const t of list) frag.appendChild(renderRow(t));
    tbody.appendChild(frag);
    if (focusedId) {
      const tr = tbody.querySelector(`tr[data-id="${CSS.escape(focusedId)}"]`);
      if (tr) tr.focus();
    }
    empty.hidden = list.length > 0;
    if (!list.length && !loading) {
      clear(empty).append(h('p', { text: filter ? 'No traces match this filter in the selected time range.' : 'No traces in the selected time range.' }),
        h('p', { class: 'muted', text: 'Send segments to the daemon (UDP 2000) or call PutTraceSegments; new traces appear here while Live is on.' }));
    }
    more.hidden = !nextToken;
    const w = lastWindow;
    meta.textContent = `${list.length} trace${list.length === 1 ? '' : 's'} shown` +
      (processed ? ` · ${processed} scanned` : '') +
      (w ? ` · ${fmtTime(w.start)} – ${fmtTime(w.end)}` : '') + (nextToken ? ' · more available' : '');
    lastList = list;
    renderHistogram(list);
  }

  function renderHistogram(list) {
    clear(histSvg);
    // Match the drawing width to the element so that bars use the whole card without
    // stretching the text.
    const W = Math.max(320, Math.round(histSvg.getBoundingClientRect().width) || 640);
    histSvg.setAttribute('viewBox', `0 0 ${W} 150`);
    const vals = list.filter((t) => typeof t.ResponseTime === 'number');
    const { step, bins } = histogramBins(vals.map((t) => t.ResponseTime));
    if (!bins.length) {
      histSvg.appendChild(s('text', { x: W / 2, y: 80, 'text-anchor': 'middle', class: 'axis', text: 'No response times to show' }));
      histCaption.textContent = '';
      return;
    }
    for (const t of vals) {
      const b = bins[Math.min(bins.length - 1, Math.floor(t.ResponseTime / step))];
      b[summaryStatus(t)]++;
      b.total++;
    }
    const maxCount = Math.max(...bins.map((b) => b.total));
    const left = 36, right = W - 8, top = 10, bottom = 124;
    const bw = (right - left) / bins.length;
    histSvg.appendChild(s('line', { x1: left, y1: bottom, x2: right, y2: bottom, class: 'axis-line' }));
    histSvg.appendChild(s('text', { x: left - 6, y: top + 8, 'text-anchor': 'end', class: 'axis', text: String(maxCount) }));
    histSvg.appendChild(s('text', { x: left - 6, y: bottom, 'text-anchor': 'end', class: 'axis', text: '0' }));
    const labelEvery = Math.ceil(bins.length / Math.max(2, Math.floor((right - left) / 80)));
    bins.forEach((b, i) => {
      const x = left + i * bw;
      const g = s('g', {
        class: 'bar', tabindex: b.total ? '0' : '-1', role: 'button',
        'aria-label': `${b.total} traces with response time ${fmtDur(b.lo)} to ${fmtDur(b.hi)}; activate to filter`,
      });
      g.appendChild(s('title', { text: `${fmtDur(b.lo)} – ${fmtDur(b.hi)}: ${b.total} traces` }));
      g.appendChild(s('rect', { x, y: top, width: bw, height: bottom - top, class: 'bar-hit' }));
      let y = bottom;
      for (const st of ['ok', 'error', 'throttle', 'fault']) {
        if (!b[st]) continue;
        const hgt = Math.max(1, (b[st] / maxCount) * (bottom - top));
        y -= hgt;
        g.appendChild(s('rect', { x: x + 1, y, width: Math.max(1, bw - 2), height: hgt, class: 'bar-' + st }));
      }
      const act = () => {
        const clause = `responsetime >= ${roundNum(b.lo)} AND responsetime < ${roundNum(b.hi)}`;
        applyFilter(filter ? `(${filter}) AND ${clause}` : clause);
      };
      g.addEventListener('click', act);
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); act(); } });
      histSvg.appendChild(g);
      if (i % labelEvery === 0 && x < right - 60) {
        histSvg.appendChild(s('text', { x, y: bottom + 16, 'text-anchor': 'start', class: 'axis', text: fmtDur(b.lo) }));
      }
    });
    histSvg.appendChild(s('text', { x: right, y: bottom + 16, 'text-anchor': 'end', class: 'axis', text: fmtDur(bins[bins.length - 1].hi) }));
    histCaption.textContent = `Response time of the ${vals.length} loaded trace${vals.length === 1 ? '' : 's'}. Select a bar to filter to that range.`;
  }

  function applyFilter(expr) {
    const extra = { filter: expr };
    if (sortKey !== 'time' || sortDir !== -1) { extra.sort = sortKey; extra.dir = sortDir > 0 ? 'asc' : 'desc'; }
    const next = ctx.hrefFor('traces', extra, params);
    if (next === location.hash) { reset(); load(true); } else location.hash = next;
  }

  function showError(err) {
    if (!err) {
      errorBox.hidden = true;
      input.removeAttribute('aria-invalid');
      return;
    }
    clear(errorBox).append(
      h('strong', { text: err.type || 'Error' }),
      err.status ? ` (HTTP ${err.status}): ` : ': ',
      h('span', { class: 'error-message', text: err.message }));
    errorBox.hidden = false;
    if (err.status === 400) input.setAttribute('aria-invalid', 'true');
  }

  function reset() {
    rows = new Map();
    nextToken = null;
    processed = 0;
    newIds = new Set();
  }

  async function load(first) {
    if (loading) return;
    loading = true;
    more.disabled = true;
    view.classList.add('is-loading');
    const w = first || !lastWindow ? ctx.window() : lastWindow;
    lastWindow = w;
    try {
      let token = first ? null : nextToken;
      let pages = 0;
      let added = 0;
      do {
        const out = await getTraceSummaries({ start: w.start, end: w.end, filter, nextToken: token }, abort.signal);
        for (const t of out.TraceSummaries || []) { if (!rows.has(t.Id)) added++; rows.set(t.Id, t); }
        processed += out.TracesProcessedCount || 0;
        token = out.NextToken || null;
        pages++;
      } while (token && added === 0 && pages < MAX_EMPTY_PAGES);
      nextToken = token;
      showError(null);
    } catch (err) {
      if (err.name === 'AbortError') return;
      showError(err);
      if (first) reset();
    } finally {
      loading = false;
      more.disabled = false;
      view.classList.remove('is-loading');
    }
    if (!disposed) renderRows();
  }

  async function poll() {
    if (disposed || loading || !ctx.isLive()) return;
    const w = ctx.window();
    if (!w.relative) return;
    try {
      const out = await getTraceSummaries({ start: w.start, end: w.end, filter }, abort.signal);
      let changed = 0;
      const fresh = [];
      for (const t of out.TraceSummaries || []) {
        const old = rows.get(t.Id);
        if (!old) { fresh.push(t.Id); changed++; } else if (old.Revision !== t.Revision || old.ResponseTime !== t.ResponseTime || old.IsPartial !== t.IsPartial) changed++;
        rows.set(t.Id, t);
      }
      for (const [id, t] of rows) {
        if ((t.StartTime || 0) < w.start) { rows.delete(id); changed++; }
      }
      if (lastWindow) lastWindow = { ...lastWindow, end: w.end, start: w.start };
      if (changed && !disposed) {
        newIds = new Set(fresh);
        renderRows();
        if (fresh.length) announce(`${fresh.length} new trace${fresh.length === 1 ? '' : 's'}`);
      }
      showError(null);
    } catch (err) {
      if (err.name !== 'AbortError') showError(err);
    }
  }

  let lastList = [];
  const onResize = () => { clearTimeout(onResize.t); onResize.t = setTimeout(() => renderHistogram(lastList), 150); };
  window.addEventListener('resize', onResize);

  renderHead();
  load(true);
  timer = setInterval(poll, POLL_MS);

  return {
    unmount() {
      disposed = true;
      clearInterval(timer);
      window.removeEventListener('resize', onResize);
      abort.abort();
    },
  };
}
