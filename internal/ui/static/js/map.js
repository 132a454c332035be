// Service map: deterministic layered layout in SVG; nodes and edges open their traces.
import { h, s, clear, announce } from './dom.js';
import { getServiceGraph, getTraceSummaries, quote } from './api.js';
import { fmtDur, fmtTime, fmtPct, fmtCount, summaryStatus, STATUS_LABEL } from './format.js';

const POLL_MS = 10000;
const COL_W = 240;
const ROW_H = 140;
const R = 30;

function stats(st) {
  st = st || {};
  const total = st.TotalCount || 0;
  const err = (st.ErrorStatistics && st.ErrorStatistics.TotalCount) || 0;
  const throttle = (st.ErrorStatistics && st.ErrorStatistics.ThrottleCount) || 0;
  const fault = (st.FaultStatistics && st.FaultStatistics.TotalCount) || 0;
  const ok = st.OkCount ?? Math.max(0, total - err - fault);
  return { total, ok, error: err - throttle, throttle, fault, avg: total ? (st.TotalResponseTime || 0) / total : undefined };
}

function healthOf(x) {
  if (x.fault > 0) return 'fault';
  if (x.error > 0 || x.throttle > 0) return 'error';
  return 'ok';
}

/** Layered layout: longest path from the sources, back edges ignored, barycentre ordering. */
export function layout(services) {
  const byRef = new Map(services.map((n) => [n.ReferenceId, n]));
  const nameKey = (n) => `${n.Type === 'client' ? 0 : 1}|${n.Name || ''}|${n.Type || ''}|${n.ReferenceId}`;
  const order = [...services].sort((a, b) => nameKey(a).localeCompare(nameKey(b)));
  const out = new Map(order.map((n) => [n.ReferenceId, []]));
  const edges = [];
  for (const n of order) {
    for (const e of n.Edges || []) {
      if (!byRef.has(e.ReferenceId)) continue;
      const edge = { from: n.ReferenceId, to: e.ReferenceId, data: e, back: false };
      edges.push(edge);
      out.get(n.ReferenceId).push(edge);
    }
  }
  // Depth-first search in name order marks back edges so that cycles do not loop.
  const state = new Map();
  const topo = [];
  const dfs = (ref) => {
    state.set(ref, 1);
    for (const e of out.get(ref)) {
      const st = state.get(e.to);
      if (st === 1) e.back = true;
      else if (!st) dfs(e.to);
    }
    state.set(ref, 2);
    topo.push(ref);
  };
  const hasIncoming = new Set(edges.filter((e) => e.from !== e.to).map((e) => e.to));
  for (const n of order) if (!hasIncoming.has(n.ReferenceId) && !state.get(n.ReferenceId)) dfs(n.ReferenceId);
  for (const n of order) if (!state.get(n.ReferenceId)) dfs(n.ReferenceId);
  topo.reverse();
  const layer = new Map(order.map((n) => [n.ReferenceId, 0]));
  for (const ref of topo) {
    for (const e of out.get(ref)) if (!e.back && e.from !== e.to) layer.set(e.to, Math.max(layer.get(e.to), layer.get(ref) + 1));
  }
  const layers = [];
  for (const n of order) {
    const l = layer.get(n.ReferenceId);
    (layers[l] = layers[l] || []).push(n.ReferenceId);
  }
  const pos = new Map();
  layers.forEach((refs, l) => {
    if (l > 0) {
      const bary = (ref) => {
        const preds = edges.filter((e) => e.to === ref && !e.back && pos.has(e.from)).map((e) => pos.get(e.from).idx);
        return preds.length ? preds.reduce((a, b) => a + b, 0) / preds.length : Infinity;
      };
      const withB = refs.map((r, i) => [r, bary(r), i]);
      withB.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
      refs.splice(0, refs.length, ...withB.map((x) => x[0]));
    }
    refs.forEach((ref, idx) => pos.set(ref, { layer: l, idx }));
  });
  const maxRows = Math.max(1, ...layers.map((x) => (x ? x.length : 0)));
  const height = maxRows * ROW_H + 40;
  const width = Math.max(1, layers.length) * COL_W + 40;
  for (const [ref, p] of pos) {
    const count = layers[p.layer].length;
    p.x = 40 + COL_W / 2 + p.layer * COL_W - 40;
    p.y = (height - count * ROW_H) / 2 + ROW_H / 2 + p.idx * ROW_H - 10;
    p.node = byRef.get(ref);
  }
  return { pos, edges, width, height };
}

function donut(cx, cy, r, st, client) {
  const g = s('g', { class: 'donut' });
  g.appendChild(s('circle', { cx, cy, r, class: client ? 'node-bg client' : 'node-bg' }));
  if (client || !st.total) {
    g.appendChild(s('circle', { cx, cy, r, class: 'ring ring-none', pathLength: 100 }));
    return g;
  }
  let offset = 0;
  for (const k of ['ok', 'error', 'throttle', 'fault']) {
    if (!st[k]) continue;
    const frac = (st[k] / st.total) * 100;
    g.appendChild(s('circle', {
      cx, cy, r, class: 'ring ring-' + k, pathLength: 100,
      'stroke-dasharray': `${frac} ${100 - frac}`, 'stroke-dashoffset': String(25 - offset),
    }));
    offset += frac;
  }
  return g;
}

function trunc(text, n) {
  text = String(text || '');
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

export function mountMap(main, ctx) {
  const abort = new AbortController();
  let signature = '';
  let selectedKey = null;
  let timer = null;
  let disposed = false;
  let graph = null;
  let sideAbort = null;

  const canvas = h('div', { class: 'map-canvas card', id: 'map-canvas' });
  const side = h('aside', { class: 'map-side card', id: 'map-side', 'aria-live': 'polite' },
    h('p', { class: 'muted', text: 'Select a node or an edge to see its statistics and traces.' }));
  const status = h('p', { class: 'muted list-meta', role: 'status' });
  const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' },
    ['ok', 'error', 'throttle', 'fault'].map((k) => h('li', null, h('span', { class: 'dot st-' + k }), STATUS_LABEL[k])));
  const view = h('section', { class: 'view view-map', 'aria-labelledby': 'map-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'map-title', text: 'Service map' }), status, legend),
    h('div', { class: 'map-layout' }, canvas, side));
  main.appendChild(view);

  function keyOf(item) {
    return item.edge ? `e:${item.edge.from}>${item.edge.to}` : `n:${item.node.ReferenceId}`;
  }

  function render() {
    clear(canvas);
    const services = graph.Services || [];
    if (!services.length) {
      canvas.append(h('div', { class: 'empty' },
        h('p', { text: 'No services in the selected time range.' }),
        h('p', { class: 'muted', text: 'The map is built from the segments received in the time range. Try a longer range.' })));
      return;
    }
    const L = layout(services);
    const svg = s('svg', { class: 'map', viewBox: `0 0 ${L.width} ${L.height}`, role: 'group', 'aria-label': 'Service map' });
    svg.style.maxWidth = `${L.width}px`;
    const defs = s('defs');
    for (const k of ['ok', 'error', 'fault']) {
      defs.appendChild(s('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-' + k })));
    }
    svg.appendChild(defs);
    const edgeLayer = s('g', { class: 'edges' });
    const nodeLayer = s('g', { class: 'nodes' });
    svg.append(edgeLayer, nodeLayer);

    for (const e of L.edges) {
      const a = L.pos.get(e.from);
      const b = L.pos.get(e.to);
      const st = stats(e.data.SummaryStatistics);
      const health = healthOf(st);
      let d;
      let mx;
      let my;
      if (e.from === e.to) {
        d = `M${a.x - 10},${a.y - R} C${a.x - 40},${a.y - R - 60} ${a.x + 40},${a.y - R - 60} ${a.x + 10},${a.y - R}`;
        mx = a.x; my = a.y - R - 48;
      } else if (b.layer > a.layer) {
        const x1 = a.x + R, x2 = b.x - R - 2;
        const c = (x2 - x1) / 2;
        d = `M${x1},${a.y} C${x1 + c},${a.y} ${x2 - c},${b.y} ${x2},${b.y}`;
        mx = (x1 + x2) / 2; my = (a.y + b.y) / 2;
      } else {
        const lift = 60 + Math.abs(a.layer - b.layer) * 20;
        const x1 = a.x, x2 = b.x;
        d = `M${x1},${a.y - R} C${x1},${a.y - R - lift} ${x2},${b.y - R - lift} ${x2},${b.y - R - 2}`;
        mx = (x1 + x2) / 2; my = Math.min(a.y, b.y) - R - lift * 0.75;
      }
      const fromName = a.node.Type === 'client' ? 'Client' : a.node.Name;
      const label = `${fmtCount(st.total)} req · ${st.avg !== undefined ? fmtDur(st.avg) : '—'}`;
      const item = { edge: e, from: a.node, to: b.node, st };
      const g = s('g', {
        class: ['edge', 'h-' + health], tabindex: '0', role: 'button', dataset: { from: a.node.Name || '', to: b.node.Name || '' },
        'aria-label': `Edge from ${fromName} to ${b.node.Name}: ${st.total} requests, average ${st.avg !== undefined ? fmtDur(st.avg) : 'unknown'}, ${fmtPct(st.error / (st.total || 1))} errors, ${fmtPct(st.fault / (st.total || 1))} faults`,
      });
      const w = Math.min(5, 1 + Math.log10(1 + st.total));
      g.appendChild(s('path', { d, class: 'edge-hit' }));
      const line = s('path', { d, class: 'edge-line', 'marker-end': `url(#arrow-${health})` });
      line.style.strokeWidth = `${w}px`;
      g.appendChild(line);
      const tw = label.length * 6.2 + 10;
      g.appendChild(s('rect', { x: mx - tw / 2, y: my - 10, width: tw, height: 18, rx: 4, class: 'edge-label-bg' }));
      g.appendChild(s('text', { x: mx, y: my + 3, 'text-anchor': 'middle', class: 'edge-label', text: label }));
      g.appendChild(s('title', { text: `${fromName} → ${b.node.Name}` }));
      wire(g, item);
      edgeLayer.appendChild(g);
    }

    for (const [, p] of L.pos) {
      const n = p.node;
      const client = n.Type === 'client';
      const st = stats(n.SummaryStatistics);
      const name = client ? 'Client' : n.Name || '(unnamed)';
      const g = s('g', {
        class: ['node', client && 'client', n.State === 'unknown' && !client && 'inferred', 'h-' + healthOf(st)], tabindex: '0', role: 'button',
        dataset: { name: n.Name || '', type: n.Type || '' },
        'aria-label': client ? `Client calling ${n.Name}` : `Service ${name}${n.Type ? ' of type ' + n.Type : ''}: ${st.total} requests, average ${st.avg !== undefined ? fmtDur(st.avg) : 'unknown'}`,
      });
      g.appendChild(donut(p.x, p.y, client ? R - 8 : R, st, client));
      if (client) {
        g.appendChild(s('circle', { cx: p.x, cy: p.y - 5, r: 5, class: 'client-icon' }));
        g.appendChild(s('path', { d: `M${p.x - 9},${p.y + 10} a9,8 0 0 1 18,0 z`, class: 'client-icon' }));
      } else {
        g.appendChild(s('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', class: 'node-center', text: st.avg !== undefined ? fmtDur(st.avg) : '' }));
      }
      g.appendChild(s('text', { x: p.x, y: p.y + R + 18, 'text-anchor': 'middle', class: 'node-name', text: trunc(name, 28) }));
      if (!client) {
        g.appendChild(s('text', { x: p.x, y: p.y + R + 33, 'text-anchor': 'middle', class: 'node-type', text: trunc(n.Type || (n.State === 'unknown' ? 'remote' : ''), 32) }));
        g.appendChild(s('text', { x: p.x, y: p.y + R + 47, 'text-anchor': 'middle', class: 'node-type', text: `${fmtCount(st.total)} req` }));
      }
      g.appendChild(s('title', { text: `${name}${n.Type ? ' (' + n.Type + ')' : ''}` }));
      wire(g, { node: n, st });
      nodeLayer.appendChild(g);
    }
    canvas.appendChild(svg);
    if (selectedKey) {
      const el = [...svg.querySelectorAll('.node, .edge')].find((x) => x.__key === selectedKey);
      if (el) el.classList.add('is-selected');
    }
  }

  function wire(g, item) {
    g.__key = keyOf(item);
    const act = () => select(item, g);
    g.addEventListener('click', act);
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); act(); } });
  }

  function filterFor(item) {
    if (item.edge) {
      if (item.from.Type === 'client') return `service(${quote(item.to.Name)})`;
      return `edge(${quote(item.from.Name)}, ${quote(item.to.Name)})`;
    }
    return `service(${quote(item.node.Name)})`;
  }

  function histogramList(hist) {
    if (!Array.isArray(hist) || !hist.length) return null;
    // Re-bin the {Value, Count} entries into equal-width buckets so the shape shows.
    const maxV = Math.max(...hist.map((x) => x.Value || 0), 0.001);
    const n = 24;
    const bins = new Array(n).fill(0);
    for (const x of hist) bins[Math.min(n - 1, Math.floor(((x.Value || 0) / maxV) * n))] += x.Count || 0;
    const max = Math.max(...bins, 1);
    return h('figure', { class: 'mini-hist-wrap' },
      h('div', { class: 'mini-hist', role: 'img', 'aria-label': `Response time histogram from 0 to ${fmtDur(maxV)}` },
        bins.map((c, i) => {
          const bar = h('span', { class: 'mini-bar', title: `${fmtDur((i * maxV) / n)} – ${fmtDur(((i + 1) * maxV) / n)}: ${c}` });
          bar.style.height = c ? `${Math.max(4, (c / max) * 100)}%` : '0';
          return bar;
        })),
      h('figcaption', { class: 'muted mini-axis' }, h('span', { text: '0' }), h('span', { text: fmtDur(maxV) })));
  }

  async function select(item, g) {
    selectedKey = keyOf(item);
    for (const el of canvas.querySelectorAll('.is-selected')) el.classList.remove('is-selected');
    if (g) g.classList.add('is-selected');
    const st = item.st;
    const filter = filterFor(item);
    const title = item.edge ? `${item.from.Type === 'client' ? 'Client' : item.from.Name} → ${item.to.Name}` : item.node.Name;
    const traceList = h('ul', { class: 'side-traces', id: 'side-traces' }, h('li', { class: 'muted', text: 'Loading traces…' }));
    const summary = item.edge ? item.edge.data : item.node;
    clear(side).append(...[
      h('h2', { id: 'side-title', text: title }),
      item.node && item.node.Type ? h('p', { class: 'muted', text: item.node.Type + (item.node.State === 'unknown' && item.node.Type !== 'client' ? ' · inferred' : '') }) : null,
      h('dl', { class: 'kv stats' },
        h('dt', { text: 'Requests' }), h('dd', { text: String(st.total) }),
        h('dt', { text: 'Average latency' }), h('dd', { text: st.avg !== undefined ? fmtDur(st.avg) : '—' }),
        h('dt', { text: 'OK' }), h('dd', { text: `${st.ok} (${fmtPct(st.ok / (st.total || 1))})` }),
        h('dt', { text: 'Errors (4xx)' }), h('dd', { class: st.error ? 'txt-error' : '', text: `${st.error} (${fmtPct(st.error / (st.total || 1))})` }),
        h('dt', { text: 'Throttled (429)' }), h('dd', { class: st.throttle ? 'txt-throttle' : '', text: `${st.throttle} (${fmtPct(st.throttle / (st.total || 1))})` }),
        h('dt', { text: 'Faults (5xx)' }), h('dd', { class: st.fault ? 'txt-fault' : '', text: `${st.fault} (${fmtPct(st.fault / (st.total || 1))})` })),
      histogramList(summary.ResponseTimeHistogram),
      h('h3', { text: 'Traces' }),
      h('p', null, h('code', { class: 'mono', text: filter })),
      traceList,
      h('p', null, h('a', { id: 'side-open-list', href: ctx.hrefFor('traces', { filter }, ctx.params), text: 'Open in trace list →' })),
    ].filter(Boolean));
    announce(`Selected ${title}`);
    if (sideAbort) sideAbort.abort();
    sideAbort = new AbortController();
    const w = ctx.window();
    try {
      const out = await getTraceSummaries({ start: w.start, end: w.end, filter }, sideAbort.signal);
      clear(traceList);
      const list = (out.TraceSummaries || []).slice(0, 25);
      if (!list.length) traceList.append(h('li', { class: 'muted', text: 'No traces on the first page.' }));
      for (const t of list) {
        const stt = summaryStatus(t);
        const http = t.Http || {};
        traceList.append(h('li', null, h('a', { href: '#/trace/' + encodeURIComponent(t.Id), class: 'side-trace' },
          h('span', { class: 'dot st-' + stt, title: STATUS_LABEL[stt] }),
          h('span', { class: 'mono', text: fmtTime(t.StartTime) }),
          h('span', { class: 'trunc', text: `${http.HttpMethod || ''} ${http.HttpURL || t.Id}`.trim() }),
          h('span', { class: 'num mono', text: fmtDur(t.ResponseTime) }))));
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      clear(traceList).append(h('li', { class: 'error-text', text: `${err.type || 'Error'}: ${err.message}` }));
    }
  }

  async function load(quiet) {
    const w = ctx.window();
    try {
      const out = await getServiceGraph(w, abort.signal);
      if (disposed) return;
      const sig = JSON.stringify((out.Services || []).map((n) => [n.ReferenceId, n.Name, n.Type, n.SummaryStatistics, (n.Edges || []).map((e) => [e.ReferenceId, e.SummaryStatistics])]));
      status.textContent = `${(out.Services || []).length} nodes · ${fmtTime(w.start)} – ${fmtTime(w.end)}`;
      if (sig === signature && quiet) return;
      signature = sig;
      graph = out;
      const focusedKey = document.activeElement && document.activeElement.__key;
      render();
      if (focusedKey) {
        const el = [...canvas.querySelectorAll('.node, .edge')].find((x) => x.__key === focusedKey);
        if (el) el.focus();
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      clear(canvas).append(h('p', { class: 'error-box', role: 'alert', text: `${err.type || 'Error'}: ${err.message}` }));
    }
  }

  load(false);
  timer = setInterval(() => { if (ctx.isLive() && ctx.window().relative) load(true); }, POLL_MS);
  return {
    unmount() {
      disposed = true;
      clearInterval(timer);
      abort.abort();
      if (sideAbort) sideAbort.abort();
    },
  };
}
