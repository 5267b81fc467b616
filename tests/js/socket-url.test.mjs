import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FORWARDED_PARAMS, RECOVERY_PARAMS, SOCKET_PATH, pageLocation, pageParam, socketUrl } from '../../static/js/socket/url.js';

describe('socketUrl', () => {
  test('resolves against the base URI under a path prefix, ws: for http', () => {
    assert.equal(SOCKET_PATH, 'api/monitoring/ws');
    assert.equal(
      socketUrl({ baseURI: 'http://host.test:8080/prefix/', protocol: 'http:', search: '' }),
      'ws://host.test:8080/prefix/api/monitoring/ws',
    );
  });

  test('uses wss: under https and forwards only the auth parameters', () => {
    assert.deepEqual(FORWARDED_PARAMS, ['token', 'user_id', 'business_id']);
    const url = new URL(
      socketUrl({
        baseURI: 'https://host.test/a/b/index.html?x=1#frag',
        protocol: 'https:',
        search: '?token=t0k&user_id=42&business_id=7&other=no',
      }),
    );
    assert.equal(url.protocol, 'wss:');
    assert.equal(url.pathname, '/a/b/api/monitoring/ws');
    assert.equal(url.searchParams.get('token'), 't0k');
    assert.equal(url.searchParams.get('user_id'), '42');
    assert.equal(url.searchParams.get('business_id'), '7');
    assert.equal(url.searchParams.has('other'), false);
    assert.equal(url.searchParams.has('x'), false);
    assert.equal(url.hash, '');
  });

  test('empty parameters are not forwarded; values are encoded', () => {
    const url = new URL(socketUrl({ baseURI: 'http://h.test/', protocol: 'http:', search: '?token=&user_id=a%20b%26c' }));
    assert.equal(url.searchParams.has('token'), false);
    assert.equal(url.searchParams.get('user_id'), 'a b&c');
  });

  test('falls back to href without a base URI; a custom path and list', () => {
    assert.equal(
      socketUrl({ href: 'http://h.test/x/page', protocol: 'http:', search: '?a=1&b=2' }, 'ws2', ['b']),
      'ws://h.test/x/ws2?b=2',
    );
  });

  test('fixed parameters are set after the forwarded ones; LiveSocket turns auto-subscriptions off', () => {
    assert.deepEqual({ ...RECOVERY_PARAMS }, { auto_subscribe: 'false' });
    assert.ok(Object.isFrozen(RECOVERY_PARAMS));
    assert.equal(
      socketUrl({ baseURI: 'http://h.test/', protocol: 'http:', search: '?business_id=acme&auto_subscribe=true' }, SOCKET_PATH, FORWARDED_PARAMS, RECOVERY_PARAMS),
      'ws://h.test/api/monitoring/ws?business_id=acme&auto_subscribe=false',
    );
  });

  test('without any base it is a clear error', () => {
    assert.throws(() => socketUrl({ protocol: 'http:', search: '' }), /options\.url or options\.location/);
  });
});

describe('pageParam', () => {
  test('the value of a query parameter, null when absent or empty', () => {
    assert.equal(pageParam('?token=abc&x=1', 'token'), 'abc');
    assert.equal(pageParam('token=abc', 'token'), 'abc');
    assert.equal(pageParam('?token=', 'token'), null);
    assert.equal(pageParam('?other=1', 'token'), null);
    assert.equal(pageParam('', 'token'), null);
    assert.equal(pageParam(undefined, 'token'), null);
  });
});

describe('pageLocation', () => {
  test('outside a browser every field but search is undefined', () => {
    assert.deepEqual(pageLocation(), { baseURI: undefined, href: undefined, pathname: undefined, protocol: undefined, search: '' });
  });

  test('reads document.baseURI and location', (t) => {
    const saved = { location: Object.getOwnPropertyDescriptor(globalThis, 'location'), document: Object.getOwnPropertyDescriptor(globalThis, 'document') };
    t.after(() => {
      for (const [k, d] of Object.entries(saved)) {
        if (d) Object.defineProperty(globalThis, k, d);
        else delete globalThis[k];
      }
    });
    Object.defineProperty(globalThis, 'location', {
      value: { href: 'https://h.test/p/?token=1', pathname: '/p/', protocol: 'https:', search: '?token=1' },
      configurable: true,
    });
    Object.defineProperty(globalThis, 'document', { value: { baseURI: 'https://h.test/base/' }, configurable: true });
    assert.deepEqual(pageLocation(), {
      baseURI: 'https://h.test/base/',
      href: 'https://h.test/p/?token=1',
      pathname: '/p/',
      protocol: 'https:',
      search: '?token=1',
    });
  });
});
