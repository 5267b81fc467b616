// The socket URL: a relative path resolved against the document's base URI
// (so the page works under a path prefix), ws: or wss: after the page's own
// protocol, and the page's auth query parameters passed on.

export const SOCKET_PATH = 'api/monitoring/ws';
export const FORWARDED_PARAMS = Object.freeze(['token', 'user_id', 'business_id']);
/**
 * What LiveSocket adds to the query: no auto-subscriptions, so that it can
 * subscribe every channel itself with `since` (docs/protocol.md, Connecting).
 */
export const RECOVERY_PARAMS = Object.freeze({ auto_subscribe: 'false' });

/** The value of query parameter `name` in `search` ('?a=1&b=2'), or null if absent or empty. */
export function pageParam(search, name) {
  const value = new URLSearchParams(search || '').get(name);
  return value === null || value === '' ? null : value;
}

/**
 * Where the page is: {baseURI, href, protocol, search}, read from the
 * browser's `document` and `location`; fields are undefined outside one.
 */
export function pageLocation() {
  const loc = globalThis.location;
  const doc = globalThis.document;
  return {
    baseURI: (doc && doc.baseURI) || (loc && loc.href) || undefined,
    href: loc && loc.href,
    pathname: loc && loc.pathname,
    protocol: loc && loc.protocol,
    search: (loc && loc.search) || '',
  };
}

/**
 * The socket URL for a page at `loc` ({baseURI or href, protocol, search}):
 * `path` resolved against the base URI, with the scheme chosen from the
 * page's protocol, the `forward` parameters of the page's query copied and
 * the `fixed` parameters ({name: value}) set.
 */
export function socketUrl(loc, path = SOCKET_PATH, forward = FORWARDED_PARAMS, fixed = {}) {
  const base = loc.baseURI || loc.href;
  if (!base) throw new TypeError('LiveSocket needs options.url or options.location outside a browser');
  const url = new URL(path, base);
  url.protocol = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  for (const name of forward) {
    const value = pageParam(loc.search, name);
    if (value !== null) url.searchParams.set(name, value);
  }
  for (const [name, value] of Object.entries(fixed)) url.searchParams.set(name, value);
  return url.toString();
}
