import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { needsToken, parseConfig, readConfig, tokenMessage } from '../../static/js/config.js';
import { fakeLogger } from './fakes.mjs';
import { PAGE_CONFIG } from './page-config.mjs';

const EMPTY = { version: '', auth: 'open', history_seconds: null, collector_interval: null, thresholds: {}, events: {} };

describe('parseConfig', () => {
  test('takes the server config as it is', () => {
    const logger = fakeLogger();
    const cfg = parseConfig(JSON.stringify(PAGE_CONFIG), logger);
    assert.deepEqual(cfg, PAGE_CONFIG);
    assert.equal(logger.log.warn.length, 0);
  });

  test('invents no thresholds: a metric the server left out has none', () => {
    const cfg = parseConfig(JSON.stringify({ thresholds: { cpu: { warning: 50, critical: 60 } } }), fakeLogger());
    assert.deepEqual(cfg.thresholds, { cpu: { warning: 50, critical: 60 } });
  });

  test('a missing, empty or unparseable config warns and gives the empty config', () => {
    for (const text of [undefined, null, '', '   ', '{nope', 'null', '[1]', '42']) {
      const logger = fakeLogger();
      assert.deepEqual(parseConfig(text, logger), EMPTY, String(text));
      assert.equal(logger.log.warn.length, 1, String(text));
    }
  });

  test('odd values are dropped, not trusted', () => {
    const cfg = parseConfig(
      JSON.stringify({
        version: 3,
        auth: 'maybe',
        history_seconds: -5,
        collector_interval: 'fast',
        thresholds: { cpu: { warning: '75', critical: 90 }, memory: 'high', disk: null },
        events: ['task.started'],
      }),
      fakeLogger(),
    );
    assert.deepEqual(cfg, { ...EMPTY, thresholds: { cpu: { critical: 90 } } });
  });

  test('auth is "token" only when the server says so', () => {
    assert.equal(parseConfig('{"auth": "token"}', fakeLogger()).auth, 'token');
    assert.equal(parseConfig('{"auth": "open"}', fakeLogger()).auth, 'open');
    assert.equal(parseConfig('{}', fakeLogger()).auth, 'open');
  });

  test('warns on the console by default', (t) => {
    const warn = t.mock.method(console, 'warn', () => {});
    parseConfig('{nope');
    assert.equal(warn.mock.callCount(), 1);
  });
});

describe('readConfig', () => {
  const docWith = (el) => ({ getElementById: (id) => (id === 'livewatch-config' ? el : null) });

  test('reads the #livewatch-config element', () => {
    const cfg = readConfig(docWith({ textContent: JSON.stringify(PAGE_CONFIG) }), fakeLogger());
    assert.deepEqual(cfg, PAGE_CONFIG);
  });

  test('without the element the page still gets a config, and a warning', () => {
    const logger = fakeLogger();
    assert.deepEqual(readConfig(docWith(null), logger), EMPTY);
    assert.deepEqual(readConfig(undefined, logger), EMPTY);
    assert.equal(logger.log.warn.length, 2);
  });
});

describe('needsToken', () => {
  const token = { ...PAGE_CONFIG, auth: 'token' };

  test('only when the server wants a token and the page URL has none', () => {
    assert.equal(needsToken(token, ''), true);
    assert.equal(needsToken(token, '?user_id=3'), true);
    assert.equal(needsToken(token, '?token='), true, 'an empty token is no token');
    assert.equal(needsToken(token, '?token=abc'), false);
    assert.equal(needsToken(PAGE_CONFIG, ''), false);
    assert.equal(needsToken(parseConfig('{nope', fakeLogger()), ''), false, 'without a config the socket just tries');
  });

  test('the message says how to open the page', () => {
    assert.equal(tokenMessage('/'), 'This page needs a token: open it as /?token=\u2026');
    assert.equal(tokenMessage('/watch/'), 'This page needs a token: open it as /watch/?token=\u2026');
    assert.equal(tokenMessage(undefined), 'This page needs a token: open it as ?token=\u2026');
  });
});
