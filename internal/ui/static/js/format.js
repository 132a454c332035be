// Formatting helpers shared by the views.

const pad = (n, w = 2) => String(n).padStart(w, '0');

export function fmtTime(sec, withMillis = false) {
  if (typeof sec !== 'number' || !isFinite(sec)) return '—';
  const d = new Date(sec * 1000);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  let t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (withMillis) t += '.' + pad(d.getMilliseconds(), 3);
  return sameDay ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

export function fmtDateTime(sec) {
  if (typeof sec !== 'number' || !isFinite(sec)) return '—';
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Seconds to a short human duration: 850 µs, 12.3 ms, 1.25 s, 2m 5s. */
export function fmtDur(sec) {
  if (typeof sec !== 'number' || !isFinite(sec)) return '—';
  if (sec < 0) sec = 0;
  if (sec < 0.001) return `${Math.round(sec * 1e6)} µs`;
  if (sec < 0.01) return `${(sec * 1000).toFixed(2)} ms`;
  if (sec < 1) return `${(sec * 1000).toFixed(sec < 0.1 ? 1 : 0)} ms`;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 2 : 1)} s`;
  const m = Math.floor(sec / 60);
  return `${m}m ${Math.round(sec - m * 60)}s`;
}

export function fmtCount(n) {
  if (typeof n !== 'number') return '0';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return String(n);
}

export function fmtPct(x) {
  if (!isFinite(x) || x <= 0) return '0%';
  if (x < 0.001) return '<0.1%';
  return (x * 100).toFixed(x < 0.1 ? 1 : 0) + '%';
}

/** Status class of a document or summary per segment.md §9: fault > error > throttle > ok. */
export function statusOf(d) {
  if (!d) return 'ok';
  const st = d.http && d.http.response && d.http.response.status;
  const fault = d.fault === true || (st >= 500 && st <= 599);
  const throttle = d.throttle === true || st === 429;
  const error = d.error === true || throttle || (st >= 400 && st <= 499);
  if (fault) return 'fault';
  if (throttle) return 'throttle';
  if (error) return 'error';
  return 'ok';
}

export function summaryStatus(t) {
  if (t.HasFault) return 'fault';
  if (t.HasThrottle) return 'throttle';
  if (t.HasError) return 'error';
  return 'ok';
}

export const STATUS_LABEL = { ok: 'OK', error: 'Error', fault: 'Fault', throttle: 'Throttle', pending: 'In progress' };
