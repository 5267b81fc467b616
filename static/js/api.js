// JSON requests against the page's own base URL (relative paths only, so the
// page works under a path prefix). A `token` goes along as
// `Authorization: Bearer <token>`.

export class HttpError extends Error {
  /** `body` is the server's JSON error ({error, field?}) when it sent one. */
  constructor(path, status, body = null) {
    super(`${path}: HTTP ${status}`);
    this.name = 'HttpError';
    this.status = status;
    this.detail = body && typeof body.error === 'string' ? body.error : null;
    this.field = body && typeof body.field === 'string' ? body.field : null;
  }
}

const defaultFetch = (...args) => globalThis.fetch(...args);

/**
 * GET `path` and parse JSON. Statuses in `accept` (besides 2xx) count as data,
 * e.g. the health endpoint answers 503 with the same body when unhealthy.
 */
export async function getJSON(path, { fetch: fetchImpl = defaultFetch, accept = [], token = null } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetchImpl(path, { headers, cache: 'no-store' });
  if (!response.ok && !accept.includes(response.status)) throw new HttpError(path, response.status);
  return response.json();
}

/**
 * `method` `path` with `body` (if given) as JSON; the parsed answer, or an
 * HttpError that carries the server's message and the field it names.
 */
export async function sendJSON(method, path, body, { fetch: fetchImpl = defaultFetch, token = null } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetchImpl(path, init);
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) throw new HttpError(path, response.status, answer);
  return answer;
}

/** POST `body` as JSON to `path`. */
export function postJSON(path, body, options) {
  return sendJSON('POST', path, body, options);
}
