// The admin API client. The session is an HttpOnly, SameSite=Strict cookie the browser sends by
// itself; the CSRF token lives only in this module's memory and goes in a header on every
// request that changes something. Nothing secret is ever put in a URL or in web storage.

let csrf = null;
let unauthorizedHandler = null;

/** An admin API error: `code` is the stable `error` member, `description` the text to show. */
export class ApiError extends Error {
  constructor(status, code, description) {
    super(description);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.description = description;
  }
}

export function setCsrf(token) {
  csrf = token || null;
}

/** Called with the error when an authenticated request answers 401 (the session ended). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/**
 * One request. `body` (if any) is sent as JSON. Resolves to the parsed JSON, or with
 * `{text: true}` to `{data, text}` (the exact bytes, for documents handed to the verifier).
 */
export async function api(method, path, body, { text: wantText = false, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf ?? '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (err) {
    throw new ApiError(0, 'network_error', `Cannot reach the issuer (${err.message}).`);
  }
  const raw = await response.text();
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = (data && typeof data.error === 'string' && data.error) || `http_${response.status}`;
    const description =
      (data && typeof data.error_description === 'string' && data.error_description) ||
      (response.status === 404 ? 'This endpoint does not exist on this issuer.' : response.statusText || 'Request failed.');
    const err = new ApiError(response.status, code, description);
    if (response.status === 401 && !quiet401 && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  if (raw && data === null) {
    throw new ApiError(response.status, 'bad_response', 'The issuer answered with something that is not JSON.');
  }
  return wantText ? { data, text: raw } : data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body = {}, opts) => api('POST', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

/** Path segment encoding for ids in URLs (client ids are not secret). */
export const seg = (value) => encodeURIComponent(value);
