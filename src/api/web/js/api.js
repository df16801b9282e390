// The console's one door to the HTTP API: the session token, JSON in and out, and API errors as exceptions
// that carry the field the server named (forms show the message next to that field).
const sessionKey = 'hibiki.session';

/** The logged-in session ({token, username, role, extension}) or null. */
export function session() {
  const raw = sessionStorage.getItem(sessionKey);
  return raw ? JSON.parse(raw) : null;
}

export function setSession(s) {
  if (s) sessionStorage.setItem(sessionKey, JSON.stringify(s));
  else sessionStorage.removeItem(sessionKey);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.field = body?.field;
    this.details = body?.details;
  }
}

/** Called when the server says the session is gone (expired, logged out elsewhere). */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * One API request. `body` is sent as JSON unless `contentType` says otherwise (CSV import sends text);
 * `as: 'blob'` returns the body as a Blob (voicemail audio), `as: 'response'` the fetch Response (downloads).
 */
export async function api(method, path, body, opts = {}) {
  const headers = {};
  const s = session();
  if (s) headers.authorization = `Bearer ${s.token}`;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    payload = opts.contentType ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (!res.ok) {
    const text = await res.text();
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text || res.statusText };
    }
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new ApiError(res.status, parsed);
  }
  if (opts.as === 'blob') return res.blob();
  if (opts.as === 'response') return res;
  if (res.status === 204) return undefined;
  const type = res.headers.get('content-type') ?? '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path, body) => api('DELETE', path, body);

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Saves a file the API answered with (the token cannot ride on a plain link); returns the response. */
export async function download(path, fallbackName) {
  const res = await api('GET', path, undefined, { as: 'response' });
  const blob = await res.blob();
  const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return res;
}
