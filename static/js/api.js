// JSON GETs against the page's own base URL (relative paths only, so the
// page works under a path prefix).

export class HttpError extends Error {
  constructor(path, status) {
    super(`${path}: HTTP ${status}`);
    this.name = 'HttpError';
    this.status = status;
  }
}

/**
 * GET `path` and parse JSON. Statuses in `accept` (besides 2xx) count as data,
 * e.g. the health endpoint answers 503 with the same body when unhealthy.
 * A `token` goes along as `Authorization: Bearer <token>`.
 */
export async function getJSON(path, { fetch: fetchImpl = (...args) => globalThis.fetch(...args), accept = [], token = null } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetchImpl(path, { headers, cache: 'no-store' });
  if (!response.ok && !accept.includes(response.status)) throw new HttpError(path, response.status);
  return response.json();
}
