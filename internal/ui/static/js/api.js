// Client of the X-Ray API served by the local backend: the same operations and JSON shapes
// as AWS (rest-json, POST, timestamps in epoch seconds).

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message || type || `HTTP ${status}`);
    this.status = status;
    this.type = type || '';
  }
}

function errorType(res, body) {
  const hdr = res.headers.get('x-amzn-ErrorType');
  if (hdr) return hdr.split(':')[0];
  const t = body && (body.__type || body.code || body.Code);
  if (typeof t === 'string') return t.includes('#') ? t.slice(t.indexOf('#') + 1) : t;
  return '';
}

export async function call(op, input, signal) {
  let res;
  try {
    res = await fetch('/' + op, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(input || {}),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NetworkError', 'Cannot reach the xrayd API: ' + e.message);
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : {}; } catch (e) { body = null; }
  if (!res.ok) {
    const msg = body && (body.message || body.Message);
    throw new ApiError(res.status, errorType(res, body), msg || text.slice(0, 300) || res.statusText);
  }
  if (body === null) throw new ApiError(res.status, 'SerializationException', 'The API answered with invalid JSON');
  return body;
}

export function getTraceSummaries({ start, end, filter, nextToken }, signal) {
  const input = { StartTime: start, EndTime: end, TimeRangeType: 'TraceId' };
  if (filter) input.FilterExpression = filter;
  if (nextToken) input.NextToken = nextToken;
  return call('TraceSummaries', input, signal);
}

/** BatchGetTraces for any number of ids: 5 per call, following NextToken. */
export async function batchGetTraces(ids, signal) {
  const traces = [];
  const unprocessed = [];
  for (let i = 0; i < ids.length; i += 5) {
    let token;
    do {
      const input = { TraceIds: ids.slice(i, i + 5) };
      if (token) input.NextToken = token;
      const out = await call('Traces', input, signal);
      traces.push(...(out.Traces || []));
      unprocessed.push(...(out.UnprocessedTraceIds || []));
      token = out.NextToken;
    } while (token);
  }
  return { traces, unprocessed };
}

async function allServices(op, input, signal) {
  const services = [];
  let token;
  let out;
  let pages = 0;
  do {
    const req = Object.assign({}, input);
    if (token) req.NextToken = token;
    out = await call(op, req, signal);
    services.push(...(out.Services || []));
    token = out.NextToken;
  } while (token && ++pages < 50);
  return Object.assign({}, out, { Services: services });
}

export function getServiceGraph({ start, end }, signal) {
  return allServices('ServiceGraph', { StartTime: start, EndTime: end }, signal);
}

export function getTraceGraph(ids, signal) {
  return allServices('TraceGraph', { TraceIds: ids }, signal);
}

/** Quote a name for a filter expression string literal. */
export function quote(name) {
  return '"' + String(name).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}
