// Trace view: waterfall of segments and subsegments, detail panel, raw JSON, copy id.
import { h, clear, copyText, announce } from './dom.js';
import { batchGetTraces } from './api.js';
import { fmtDateTime, fmtDur, statusOf, STATUS_LABEL } from './format.js';

/** Build the display tree from BatchGetTraces segments. Pure; exported for reuse. */
export function buildTree(trace) {
  const nodes = new Map(); // id -> node
  const segments = [];
  const exceptions = new Map(); // exception id -> {exc, node}
  let seq = 0;

  function visit(doc, kind, segment, parent) {
    const node = { key: `n${seq++}`, doc, kind, segment, parent, children: [] };
    if (doc.id && !nodes.has(doc.id)) nodes.set(doc.id, node);
    const cause = doc.cause;
    if (cause && typeof cause === 'object' && Array.isArray(cause.exceptions)) {
      for (const e of cause.exceptions) if (e && e.id) exceptions.set(e.id, { exc: e, node });
    }
    for (const sub of Array.isArray(doc.subsegments) ? doc.subsegments : []) {
      if (sub && typeof sub === 'object') node.children.push(visit(sub, 'subsegment', segment || node, node));
    }
    return node;
  }

  for (const seg of trace.Segments || []) {
    let doc;
    try { doc = JSON.parse(seg.Document); } catch (e) { doc = { id: seg.Id, name: '(unreadable document)', error: true }; }
    if (!doc || typeof doc !== 'object') continue;
    const node = visit(doc, 'segment', null, null);
    node.segment = node;
    segments.push(node);
  }
  const roots = [];
  for (const seg of segments) {
    const p = seg.doc.parent_id && nodes.get(seg.doc.parent_id);
    if (p && p !== seg && !isAncestor(seg, p)) { p.children.push(seg); seg.parent = p; } else roots.push(seg);
  }
  const byStart = (a, b) => (a.doc.start_time || 0) - (b.doc.start_time || 0) || String(a.doc.name).localeCompare(String(b.doc.name));
  const sortRec = (list) => { list.sort(byStart); for (const n of list) sortRec(n.children); };
  sortRec(roots);

  let t0 = Infinity;
  let t1 = -Infinity;
  for (const n of allNodes(roots)) {
    const st = n.doc.start_time;
    const et = n.doc.end_time;
    if (typeof st === 'number') { t0 = Math.min(t0, st); t1 = Math.max(t1, st); }
    if (typeof et === 'number') t1 = Math.max(t1, et);
  }
  if (!isFinite(t0)) { t0 = 0; t1 = 0; }
  return { roots, t0, t1, exceptions, count: nodes.size, segments: segments.length };
}

function isAncestor(a, b) {
  for (let n = b; n; n = n.parent) if (n === a) return true;
  return false;
}

function* allNodes(list) {
  for (const n of list) { yield n; yield* allNodes(n.children); }
}

function nodeStatus(doc) {
  return doc.in_progress && typeof doc.end_time !== 'number' ? 'pending' : statusOf(doc);
}

function kindLabel(node) {
  const d = node.doc;
  if (node.kind === 'segment') return d.inferred ? 'inferred' : (d.origin || 'segment');
  return d.namespace || 'local';
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v) : String(v)]);
  }
  return out;
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]));
}

function section(title, ...body) {
  return h('section', { class: 'detail-section' }, h('h3', { text: title }), ...body);
}

function exceptionView(e, linked) {
  const head = [e.type, e.message].filter(Boolean).join(': ') || e.id || 'exception';
  const flags = [];
  if (e.remote) flags.push('remote');
  if (e.truncated) flags.push(`${e.truncated} frames truncated`);
  if (e.skipped) flags.push(`${e.skipped} exceptions skipped`);
  if (e.cause) flags.push(`caused by ${e.cause}`);
  const stack = Array.isArray(e.stack) ? e.stack : [];
  return h('div', { class: 'exception' },
    h('p', { class: 'exc-head' }, h('strong', { text: head })),
    flags.length ? h('p', { class: 'muted', text: flags.join(' · ') }) : null,
    linked ? h('p', { class: 'muted', text: `recorded in ${linked}` }) : null,
    stack.length ? h('ol', { class: 'stack mono' }, stack.map((f) => h('li', null,
      h('span', { class: 'frame-label', text: f.label || '?' }), ' ',
      h('span', { class: 'muted', text: `${f.path || '?'}${f.line !== undefined ? ':' + f.line : ''}` })))) : null);
}

function detailFor(node, tree) {
  const d = node.doc;
  const st = nodeStatus(d);
  const dur = typeof d.end_time === 'number' ? d.end_time - d.start_time : undefined;
  const out = [
    h('div', { class: 'detail-head' },
      h('h2', { id: 'detail-title', text: d.name || '(unnamed)' }),
      h('span', { class: 'badge ' + st, text: STATUS_LABEL[st] })),
    section('Overview', kv([
      ['Kind', node.kind + (d.inferred ? ' (inferred)' : '')],
      ['ID', d.id], ['Parent ID', d.parent_id], ['Origin', d.origin], ['Namespace', d.namespace],
      ['Start', fmtDateTime(d.start_time)],
      ['End', typeof d.end_time === 'number' ? fmtDateTime(d.end_time) : (d.in_progress ? 'in progress' : undefined)],
      ['Duration', dur !== undefined ? fmtDur(dur) : undefined],
      ['Offset from trace start', typeof d.start_time === 'number' ? fmtDur(d.start_time - tree.t0) : undefined],
      ['User', d.user], ['Resource ARN', d.resource_arn],
      ['Service version', d.service && d.service.version],
      ['Flags', ['error', 'fault', 'throttle'].filter((f) => d[f] === true).join(', ')],
    ])),
  ];
  if (d.http && typeof d.http === 'object') out.push(section('HTTP', kv(flatten(d.http, '', []))));
  if (d.aws && typeof d.aws === 'object') out.push(section('AWS', kv(flatten(d.aws, '', []))));
  if (d.sql && typeof d.sql === 'object') out.push(section('SQL', kv(flatten(d.sql, '', []))));
  if (d.annotations && typeof d.annotations === 'object' && Object.keys(d.annotations).length) {
    out.push(section('Annotations', h('table', { class: 'annotations' },
      h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Value' }), h('th', { scope: 'col', text: 'Type' }))),
      h('tbody', null, Object.entries(d.annotations).map(([k, v]) => h('tr', null,
        h('td', { class: 'mono', text: k }), h('td', { class: 'mono', text: String(v) }), h('td', { class: 'muted', text: typeof v })))))));
  }
  if (d.metadata && typeof d.metadata === 'object' && Object.keys(d.metadata).length) {
    out.push(section('Metadata', h('pre', { class: 'json', text: JSON.stringify(d.metadata, null, 2) })));
  }
  if (d.cause) {
    if (typeof d.cause === 'string') {
      const ref = tree.exceptions.get(d.cause);
      out.push(section('Exceptions', ref ? exceptionView(ref.exc, ref.node.doc.name) : h('p', { text: `Caused by exception ${d.cause}` })));
    } else if (typeof d.cause === 'object') {
      const c = d.cause;
      out.push(section('Exceptions',
        c.working_directory ? kv([['Working directory', c.working_directory]]) : null,
        Array.isArray(c.paths) && c.paths.length ? kv([['Paths', c.paths.join(', ')]]) : null,
        (Array.isArray(c.exceptions) ? c.exceptions : []).map((e) => exceptionView(e))));
    }
  }
  const raw = Object.assign({}, d);
  if (Array.isArray(raw.subsegments)) raw.subsegments = `[${raw.subsegments.length} subsegments]`;
  out.push(h('details', { class: 'detail-section' }, h('summary', { text: 'Raw document' }),
    h('pre', { class: 'json', text: JSON.stringify(raw, null, 2) })));
  return out;
}

export function mountTrace(main, ctx, traceId) {
  const abort = new AbortController();
  const collapsed = new Set();
  let tree = null;
  let selected = null;
  let data = null;

  const copyStatus = h('span', { class: 'muted copy-status', role: 'status' });
  const copyBtn = h('button', {
    type: 'button', id: 'copy-id', text: 'Copy trace ID',
    onclick: async () => {
      const ok = await copyText(traceId);
      copyStatus.textContent = ok ? 'Copied' : 'Copy failed: select the ID and copy it';
      setTimeout(() => { copyStatus.textContent = ''; }, 2500);
    },
  });
  const summary = h('div', { class: 'trace-summary' });
  const wf = h('div', { class: 'waterfall', id: 'waterfall', role: 'tree', 'aria-label': 'Segments and subsegments' });
  const axis = h('div', { class: 'wf-axis', 'aria-hidden': 'true' });
  const detail = h('aside', { class: 'detail card', id: 'detail', 'aria-labelledby': 'detail-title' },
    h('p', { class: 'muted', text: 'Select a segment to see its details.' }));
  const rawPre = h('pre', { class: 'json raw', id: 'raw-json', tabindex: '0' });
  const status = h('p', { class: 'muted', role: 'status', text: 'Loading trace…' });

  const tabTimeline = h('button', { type: 'button', role: 'tab', id: 'tab-timeline', 'aria-controls': 'panel-timeline', 'aria-selected': 'true', text: 'Timeline' });
  const tabRaw = h('button', { type: 'button', role: 'tab', id: 'tab-raw', 'aria-controls': 'panel-raw', 'aria-selected': 'false', tabindex: '-1', text: 'Raw JSON' });
  const panelTimeline = h('div', { role: 'tabpanel', id: 'panel-timeline', 'aria-labelledby': 'tab-timeline', class: 'trace-body' },
    h('div', { class: 'wf-card card' }, h('div', { class: 'wf-header', 'aria-hidden': 'true' },
      h('span', { text: 'Name' }), h('span', { text: 'Status' }), h('span', { class: 'num', text: 'Duration' }), axis), wf),
    detail);
  const panelRaw = h('div', { role: 'tabpanel', id: 'panel-raw', 'aria-labelledby': 'tab-raw', hidden: true },
    h('div', { class: 'raw-actions' }, h('button', { type: 'button', id: 'copy-json', text: 'Copy JSON', onclick: async () => {
      const ok = await copyText(rawPre.textContent); announce(ok ? 'JSON copied' : 'Copy failed');
    } })), rawPre);
  function selectTab(which) {
    const raw = which === 'raw';
    tabTimeline.setAttribute('aria-selected', String(!raw));
    tabRaw.setAttribute('aria-selected', String(raw));
    tabTimeline.tabIndex = raw ? -1 : 0;
    tabRaw.tabIndex = raw ? 0 : -1;
    panelTimeline.hidden = raw;
    panelRaw.hidden = !raw;
  }
  for (const [tab, which] of [[tabTimeline, 'timeline'], [tabRaw, 'raw']]) {
    tab.addEventListener('click', () => selectTab(which));
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const other = tab === tabTimeline ? tabRaw : tabTimeline;
        selectTab(other === tabRaw ? 'raw' : 'timeline');
        other.focus();
      }
    });
  }

  const view = h('section', { class: 'view view-trace', 'aria-labelledby': 'trace-title' },
    h('nav', { class: 'crumbs' }, h('a', { href: ctx.lastListHash(), id: 'back', text: '← Traces' })),
    h('div', { class: 'trace-title' },
      h('h1', { id: 'trace-title' }, 'Trace ', h('code', { id: 'trace-id', class: 'mono', text: traceId })),
      copyBtn, copyStatus),
    status, summary,
    h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Trace views' }, tabTimeline, tabRaw),
    panelTimeline, panelRaw);
  main.appendChild(view);

  function visibleRows() {
    const out = [];
    const walk = (list, depth) => {
      for (const n of list) {
        out.push([n, depth]);
        if (!collapsed.has(n.key)) walk(n.children, depth + 1);
      }
    };
    walk(tree.roots, 0);
    return out;
  }

  function renderAxis() {
    clear(axis);
    const total = tree.t1 - tree.t0;
    for (let i = 0; i <= 4; i++) {
      const tick = h('span', { class: 'tick', text: fmtDur((total * i) / 4) });
      tick.style.left = `${i * 25}%`;
      axis.appendChild(tick);
    }
  }

  function renderRows(focusKey) {
    clear(wf);
    const total = Math.max(tree.t1 - tree.t0, 1e-6);
    for (const [n, depth] of visibleRows()) {
      const d = n.doc;
      const st = nodeStatus(d);
      const hasKids = n.children.length > 0;
      const start = typeof d.start_time === 'number' ? d.start_time : tree.t0;
      const end = typeof d.end_time === 'number' ? d.end_time : tree.t1;
      const bar = h('span', { class: ['bar', 'st-' + st, d.inferred && 'inferred'] });
      bar.style.left = `${((start - tree.t0) / total) * 100}%`;
      bar.style.width = `${Math.max(((end - start) / total) * 100, 0.3)}%`;
      const httpStatus = d.http && d.http.response && d.http.response.status;
      const name = h('span', { class: 'wf-name' },
        h('span', { class: ['twisty', !hasKids && 'leaf'], 'aria-hidden': 'true', text: hasKids ? (collapsed.has(n.key) ? '▸' : '▾') : '' }),
        h('span', { class: ['name', n.kind === 'segment' && 'is-segment'], text: d.name || '(unnamed)' }),
        h('span', { class: 'kind muted', text: kindLabel(n) }));
      name.style.paddingLeft = `${depth * 16}px`;
      const row = h('div', {
        class: ['wf-row', 'st-' + st, n.kind === 'segment' && 'seg-row', selected === n && 'is-selected'],
        role: 'treeitem', tabindex: focusKey === n.key || (!focusKey && n === tree.roots[0]) ? '0' : '-1',
        'aria-level': String(depth + 1), 'aria-selected': String(selected === n),
        'aria-expanded': hasKids ? String(!collapsed.has(n.key)) : undefined,
        dataset: { key: n.key, name: d.name || '' },
        'aria-label': `${d.name || 'unnamed'}, ${n.kind}, ${STATUS_LABEL[st]}, ${typeof d.end_time === 'number' ? fmtDur(d.end_time - start) : 'in progress'}`,
      },
      name,
      h('span', { class: 'wf-status' }, httpStatus ? h('span', { class: 'code st-' + st, text: String(httpStatus) }) : h('span', { class: 'dot st-' + st, title: STATUS_LABEL[st] })),
      h('span', { class: 'wf-dur num mono', text: typeof d.end_time === 'number' ? fmtDur(d.end_time - start) : '…' }),
      h('span', { class: 'wf-track' }, bar));
      row.addEventListener('click', (e) => {
        if (e.target.classList.contains('twisty') && hasKids) toggle(n); else select(n);
      });
      row.addEventListener('keydown', (e) => onKey(e, n));
      wf.appendChild(row);
    }
    if (focusKey) {
      const el = wf.querySelector(`[data-key="${focusKey}"]`);
      if (el) el.focus();
    }
  }

  function toggle(n) {
    if (collapsed.has(n.key)) collapsed.delete(n.key); else collapsed.add(n.key);
    renderRows(n.key);
  }

  function select(n) {
    selected = n;
    clear(detail).append(...detailFor(n, tree).filter(Boolean));
    renderRows(n.key);
    if (window.matchMedia('(max-width: 900px)').matches) detail.scrollIntoView({ block: 'nearest' });
  }

  function onKey(e, n) {
    const rowsEls = [...wf.querySelectorAll('.wf-row')];
    const i = rowsEls.indexOf(e.currentTarget);
    const focusAt = (j) => { if (rowsEls[j]) { rowsEls.forEach((r) => { r.tabIndex = -1; }); rowsEls[j].tabIndex = 0; rowsEls[j].focus(); } };
    switch (e.key) {
      case 'Enter': case ' ': e.preventDefault(); select(n); break;
      case 'ArrowDown': e.preventDefault(); focusAt(i + 1); break;
      case 'ArrowUp': e.preventDefault(); focusAt(i - 1); break;
      case 'Home': e.preventDefault(); focusAt(0); break;
      case 'End': e.preventDefault(); focusAt(rowsEls.length - 1); break;
      case 'ArrowRight': if (n.children.length && collapsed.has(n.key)) { e.preventDefault(); toggle(n); } break;
      case 'ArrowLeft':
        if (n.children.length && !collapsed.has(n.key)) { e.preventDefault(); toggle(n); }
        else if (n.parent) { e.preventDefault(); renderRows(n.parent.key); }
        break;
      default:
    }
  }

  function renderSummary(t) {
    const root = tree.roots[0] && tree.roots[0].doc;
    const req = (root && root.http && root.http.request) || {};
    const resp = (root && root.http && root.http.response) || {};
    const names = [];
    for (const n of allNodes(tree.roots)) if (n.kind === 'segment' && !names.includes(n.doc.name)) names.push(n.doc.name);
    const st = root ? nodeStatus(root) : 'ok';
    clear(summary).append(kv([
      ['Started', fmtDateTime(tree.t0)],
      ['Duration', fmtDur(typeof t.Duration === 'number' ? t.Duration : tree.t1 - tree.t0)],
      ['Request', [req.method, req.url].filter(Boolean).join(' ') || undefined],
      ['Status', resp.status !== undefined ? `${resp.status} (${STATUS_LABEL[st]})` : STATUS_LABEL[st]],
      ['Segments', `${tree.segments} segments, ${tree.count} entities`],
      ['Services', names.join(', ')],
      ['Note', t.LimitExceeded ? 'The trace exceeded the size limit; some segments are missing.' : undefined],
    ]));
  }

  (async () => {
    try {
      const { traces } = await batchGetTraces([traceId], abort.signal);
      data = traces.find((t) => t.Id === traceId) || traces[0];
      if (!data) {
        status.textContent = 'Trace not found. It may have expired or not been received yet.';
        status.classList.add('error-text');
        return;
      }
      tree = buildTree(data);
      status.remove();
      renderSummary(data);
      renderAxis();
      renderRows(null);
      if (tree.roots[0]) { selected = tree.roots[0]; clear(detail).append(...detailFor(selected, tree).filter(Boolean)); renderRows(null); }
      const pretty = Object.assign({}, data, {
        Segments: (data.Segments || []).map((sg) => {
          let doc = sg.Document;
          try { doc = JSON.parse(sg.Document); } catch (e) { /* keep the string */ }
          return { Id: sg.Id, Document: doc };
        }),
      });
      rawPre.textContent = JSON.stringify(pretty, null, 2);
    } catch (err) {
      if (err.name === 'AbortError') return;
      status.textContent = `Could not load the trace: ${err.type ? err.type + ': ' : ''}${err.message}`;
      status.classList.add('error-text');
    }
  })();

  return { unmount() { abort.abort(); } };
}
