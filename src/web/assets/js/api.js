// The fetch wrapper: bearer token from localStorage, JSON in and out, the error envelope
// `{"error":{"code","message"}}` turned into an ApiError, and a 401 sending the user to sign in.

const TOKEN_KEY = 'xpert.token';

/** An HTTP error answer: `status`, `code` and `message` from the envelope, and the whole `body`. */
export class ApiError extends Error {
  constructor(status, body) {
    const envelope = body && typeof body === 'object' ? body.error : null;
    super((envelope && envelope.message) || (typeof body === 'string' && body.trim()) || `HTTP ${status}`);
    this.status = status;
    this.code = (envelope && envelope.code) || '';
    /** `{en_US, zh_Hans}`: the server's words for people. */
    this.localized = (envelope && envelope.localized) || null;
    /** `[{key, message:{en_US, zh_Hans}}]`: the inputs that were wrong. */
    this.fields = (envelope && Array.isArray(envelope.fields)) ? envelope.fields : [];
    this.body = body;
  }
}

/** The stored admin token ('' when signed out). */
export const token = () => localStorage.getItem(TOKEN_KEY) || '';

/** Stores (or with '' forgets) the admin token. */
export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = () => {};

/** Sets what happens on a 401 (the app shows the sign-in form). */
export function whenUnauthorized(handler) { onUnauthorized = handler; }

/** Calls the API; resolves with the JSON answer (null for 204), rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'NETWORK', message: `${method} ${path}: ${e.message}` } });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (resp.status === 401) {
    const err = new ApiError(401, data);
    onUnauthorized(err);
    throw err;
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/**
 * POSTs and reads an answer of one JSON object per line as it arrives, calling `onLine` with
 * each; rejects with an ApiError for an error answer.
 */
export async function postStream(path, body, onLine, signal) {
  let resp;
  try {
    resp = await fetch(path, {
      method: 'POST', signal,
      headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'NETWORK', message: `POST ${path}: ${e.message}` } });
  }
  if (!resp.ok) {
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    const err = new ApiError(resp.status, data);
    if (resp.status === 401) onUnauthorized(err);
    throw err;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffered += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
    }
    if (done) break;
  }
}

/** GET shorthand. */
export const get = (path) => api('GET', path);
/** POST shorthand. */
export const post = (path, body) => api('POST', path, body ?? {});
/** PUT shorthand. */
export const put = (path, body) => api('PUT', path, body);
/** DELETE shorthand. */
export const del = (path) => api('DELETE', path);
