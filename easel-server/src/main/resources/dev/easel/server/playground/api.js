// The public Easel API as the playground calls it: the same endpoints and key as any client.

/** An API failure: the status, OpenAI's error fields, and Retry-After when the server sent one. */
export class ApiError extends Error {
  constructor(status, message, { param = null, code = null, type = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

/** Reads an error response into an ApiError (OpenAI's body, or the status alone when there is none). */
async function failure(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // a proxy's HTML page or an empty body: the status is all there is
  }
  const e = body && body.error ? body.error : {};
  const retry = res.headers.get('Retry-After');
  const message = e.message || `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.';
  return new ApiError(res.status, message, {
    param: e.param ?? null, code: e.code ?? null, type: e.type ?? null,
    retryAfter: retry != null && retry !== '' ? Number(retry) : null,
  });
}

export class Api {
  constructor(key, base = '/v1') {
    this.key = key;
    this.base = base;
  }

  async request(method, path, body, signal) {
    const headers = { Authorization: `Bearer ${this.key}` };
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.base + path, { method, headers, body: payload, signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'The server could not be reached: ' + e.message);
    }
    if (!res.ok) throw await failure(res);
    return res;
  }

  async json(method, path, body) {
    return (await this.request(method, path, body)).json();
  }

  models() { return this.json('GET', '/models'); }
  usage() { return this.json('GET', '/usage'); }
  listKeys() { return this.json('GET', '/admin/keys'); }
  createKey(name, tier) { return this.json('POST', '/admin/keys', { name, tier }); }
  revokeKey(id) { return this.json('DELETE', `/admin/keys/${encodeURIComponent(id)}`); }
  keyUsage(id) { return this.json('GET', `/admin/keys/${encodeURIComponent(id)}/usage?days=1`); }

  /**
   * POSTs an image request with stream=true and calls onEvent(name, data) for each server-sent event.
   * Aborting the signal drops the connection; the server then cancels the job at its next step.
   */
  async stream(path, body, onEvent, signal) {
    const res = await this.request('POST', path, body, signal);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block, onEvent);
      }
    }
    if (buffer.trim()) dispatch(buffer, onEvent);
  }
}

function dispatch(block, onEvent) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // comments: the opening mark and keep-alives
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (data.length === 0) return;
  const parsed = JSON.parse(data.join('\n'));
  if (name === 'error' || parsed.type === 'error') {
    const e = parsed.error || {};
    throw new ApiError(statusOf(e.code), e.message || 'The generation failed.', { param: e.param, code: e.code, type: e.type });
  }
  onEvent(name, parsed);
}

/** An error event carries no HTTP status; this gives the one its code has on an ordinary answer. */
function statusOf(code) {
  switch (code) {
    case 'server_busy': case 'shutting_down': case 'queue_timeout': return 503;
    case 'generation_timeout': return 504;
    case 'cancelled': return 499;
    case 'model_not_available': return 422;
    default: return code && /^(invalid|missing|integer|string)/.test(code) ? 400 : 500;
  }
}

/** The steps at which the server sends previews: up to `wanted`, spread evenly over 1..total-1 (DeviceWorker.previewSteps). */
export function previewSteps(wanted, total) {
  const count = Math.min(wanted, total - 1);
  const steps = [];
  for (let i = 0; i < count; i++) {
    let s = Math.max(1, Math.round((i + 1) * total / (count + 1)));
    if (i > 0 && s <= steps[i - 1]) s = steps[i - 1] + 1;
    steps.push(s);
  }
  return steps;
}

export const MAX_PARTIAL_IMAGES = 8;
export const TIERS = ['free', 'pro', 'premium'];
export const tierRank = (t) => TIERS.indexOf(t);
