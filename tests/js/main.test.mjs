// The page wiring: start() on a fake document with the server's config.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { start } from '../../static/js/main.js';
import { FakeWebSocket, FakeWindow } from './fakes.mjs';
import { installDom } from './fake-dom.mjs';
import { PAGE_CONFIG } from './page-config.mjs';

const BODIES = {
  'api/monitoring/health': { status: 'healthy', checks: {}, timestamp: '2026-03-01T12:00:00Z' },
  'api/monitoring/metrics': { cpu_percent: 1, memory_percent: 2, disk_percent: 85, queued_frames: 4, timestamp: '2026-03-01T12:00:00Z' },
  'api/monitoring/alerts?limit=50': { alerts: [], active: [] },
  'api/monitoring/metrics/history?seconds=900': { interval_seconds: 2, samples: [] },
};

const GLOBALS = ['location', 'WebSocket', 'fetch', 'navigator', 'window'];

let cleanup = () => {};
afterEach(() => {
  cleanup();
  cleanup = () => {};
});

/**
 * Start the page at `url` on a fake document with the mount points of
 * templates/dashboard.html and `configText` in #livewatch-config (no such
 * element if null). Returns {doc, win, app, fetched, warned}.
 */
function openPage({ url = 'https://host.test/prefix/', configText = JSON.stringify(PAGE_CONFIG) } = {}) {
  const { doc, restore } = installDom();
  const page = new URL(url);
  doc.baseURI = page.href;
  const saved = {};
  for (const k of GLOBALS) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
  const fetched = [];
  const warned = [];
  const warn = console.warn;
  console.warn = (...args) => warned.push(args);
  const win = new FakeWindow();
  const define = (k, value) => Object.defineProperty(globalThis, k, { value, configurable: true, writable: true });
  define('location', { href: page.href, pathname: page.pathname, protocol: page.protocol, search: page.search });
  define('WebSocket', FakeWebSocket);
  define('navigator', { onLine: true });
  define('window', win);
  define('fetch', async (path) => {
    fetched.push(path);
    return { ok: true, status: 200, json: async () => structuredClone(BODIES[path]) };
  });
  FakeWebSocket.reset();

  const template = readFileSync(new URL('../../templates/dashboard.html', import.meta.url), 'utf8');
  for (const id of ['alerts', 'system-status', 'feed', 'charts']) {
    assert.match(template, new RegExp(`<section id="${id}"`));
    const el = doc.createElement('section');
    el.setAttribute('id', id);
    doc.body.append(el);
  }
  if (configText !== null) {
    const config = doc.createElement('script');
    config.setAttribute('id', 'livewatch-config');
    config.textContent = configText;
    doc.body.append(config);
  }

  const app = start(doc, win);
  cleanup = () => {
    for (const w of app.widgets) w.destroy();
    app.socket.close();
    console.warn = warn;
    restore();
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(globalThis, k, d);
      else delete globalThis[k];
    }
  };
  return { doc, win, app, fetched, warned };
}

const settle = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('start()', () => {
  test('wires one socket to every widget, subscribes to system and exposes the test hooks', async () => {
    const { doc, win, app, fetched, warned } = openPage({
      url: 'https://host.test/prefix/?token=abc',
      configText: JSON.stringify({ ...PAGE_CONFIG, auth: 'token' }),
    });
    await settle();

    assert.equal(win.livewatch, app);
    assert.equal(app.tokenMissing, false);
    assert.deepEqual(warned, []);
    assert.equal(FakeWebSocket.instances.length, 1, 'one socket for the page');
    const ws = FakeWebSocket.last;
    assert.equal(ws.url, 'wss://host.test/prefix/api/monitoring/ws?token=abc');
    ws.open();
    assert.deepEqual(ws.messages, [{ type: 'subscribe', channel: 'system' }]);
    assert.deepEqual(fetched.sort(), Object.keys(BODIES).sort());

    for (const sel of ['#connection-state', '#overall-status', '[data-gauge=cpu]', '[data-gauge=memory]', '[data-gauge=disk]', '#live-feed', '#alerts', '#chart-cpu', '#chart-memory', '#chart-disk', '#last-sample', '#queued-frames']) {
      assert.ok(doc.querySelector(sel), sel);
    }
    assert.equal(doc.querySelector('#connection-state').textContent, 'Live');
    assert.equal(doc.querySelector('#overall-status').textContent, 'Healthy');
    assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-value'), '85');
    assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-level'), 'warning', 'thresholds from the config');
    assert.equal(doc.querySelector('#queued-frames').textContent, '4');

    // The feed's icons come from the config's event catalogue.
    ws.receive({ type: 'event', channel: 'global', seq: 1, event: 'task.failed', data: {}, timestamp: '2026-03-01T12:00:01Z' });
    const icon = doc.querySelector('[data-key="global:1"] .feed-icon');
    assert.equal(icon.textContent, PAGE_CONFIG.events['task.failed'].glyph);
    assert.equal(icon.getAttribute('class'), 'feed-icon tone-danger');
    assert.equal(icon.getAttribute('title'), 'Task failed');

    // After a reconnect every widget reloads what it shows.
    fetched.length = 0;
    ws.drop();
    await settle(600); // real timers here: the first retry is within 500 ms
    assert.equal(FakeWebSocket.instances.length, 2);
    FakeWebSocket.last.open();
    await settle();
    assert.deepEqual(fetched.sort(), Object.keys(BODIES).sort());
  });

  test('token mode without ?token=: says how to open the page and opens no socket', async () => {
    const { doc, app, fetched } = openPage({
      url: 'https://host.test/prefix/?user_id=4',
      configText: JSON.stringify({ ...PAGE_CONFIG, auth: 'token' }),
    });
    await settle();
    assert.equal(app.tokenMissing, true);
    const conn = doc.querySelector('#connection-state');
    assert.equal(conn.textContent, 'This page needs a token: open it as /prefix/?token=\u2026');
    assert.equal(conn.getAttribute('data-state'), 'blocked');
    assert.match(doc.querySelector('[role=status]').textContent, /needs a token/, 'announced');
    await settle(600); // past the first retry time and a tick of the indicator
    assert.equal(FakeWebSocket.instances.length, 0, 'no socket, so no retries');
    assert.equal(conn.textContent, 'This page needs a token: open it as /prefix/?token=\u2026');
    assert.equal(app.socket.state.state, 'idle');
    assert.deepEqual(fetched.sort(), Object.keys(BODIES).sort(), 'what HTTP serves still loads');
  });

  test('open mode connects without a token', async () => {
    const { app } = openPage({ url: 'https://host.test/' });
    await settle();
    assert.equal(app.tokenMissing, false);
    assert.equal(FakeWebSocket.last.url, 'wss://host.test/api/monitoring/ws');
  });

  for (const [what, configText] of [
    ['missing', null],
    ['unparseable', '{"thresholds": '],
  ]) {
    test(`a ${what} config: the page still loads, warns, and shows no thresholds`, async () => {
      const { doc, app, warned } = openPage({ configText });
      await settle();
      assert.equal(warned.length, 1);
      assert.match(String(warned[0][0]), /page config/);
      assert.deepEqual(app.config.thresholds, {});
      assert.equal(FakeWebSocket.instances.length, 1, 'the socket still connects');
      FakeWebSocket.last.open();
      assert.equal(doc.querySelector('#connection-state').textContent, 'Live');
      assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-value'), '85');
      assert.equal(doc.querySelector('#chart-cpu [data-threshold]'), null, 'no threshold lines');
      assert.equal(doc.querySelectorAll('.threshold-label').length, 0, 'no threshold labels');
      FakeWebSocket.last.receive({ type: 'event', channel: 'global', seq: 1, event: 'task.failed', data: {}, timestamp: '2026-03-01T12:00:01Z' });
      assert.equal(doc.querySelector('[data-key="global:1"] .feed-icon').textContent, '\u2022', 'the default icon');
    });
  }
});
