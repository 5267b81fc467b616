// The page wiring: start() on a fake document with the server's config.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { pageChannels, start } from '../../static/js/main.js';
import { FakeWebSocket, FakeWindow } from './fakes.mjs';
import { installDom } from './fake-dom.mjs';
import { PAGE_CONFIG } from './page-config.mjs';

const BODIES = {
  'api/monitoring/health': { status: 'healthy', checks: {}, timestamp: '2026-03-01T12:00:00Z' },
  'api/monitoring/metrics': { cpu_percent: 1, memory_percent: 2, disk_percent: 85, queued_frames: 4, timestamp: '2026-03-01T12:00:00Z' },
  'api/monitoring/alerts?limit=50&state=resolved': { alerts: [], active: [], silences: [] },
  'api/monitoring/metrics/history?seconds=900': { interval_seconds: 2, samples: [] },
  'api/monitoring/nodes': { nodes: [] },
};
const WIDGET_URLS = Object.keys(BODIES);

/** A channel's history: `count` task events ending at seq `top`, one second apart. */
function historyBody(channel, top, count, epoch = `ep-${channel}`) {
  const events = [];
  for (let seq = top - count + 1; seq <= top; seq += 1) {
    events.push({ channel, seq, event: 'task.completed', data: { title: `${channel} #${seq}` }, timestamp: new Date(Date.parse('2026-03-01T11:00:00Z') + seq * 1000).toISOString() });
  }
  return { channel, seq: top, epoch, complete: true, events };
}
BODIES['api/channels/global/history?limit=50'] = historyBody('global', 3, 3);
BODIES['api/channels/user%3Au1/history?limit=50'] = historyBody('user:u1', 60, 50);

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
  const headers = {};
  const warned = [];
  const warn = console.warn;
  console.warn = (...args) => warned.push(args);
  const win = new FakeWindow();
  const define = (k, value) => Object.defineProperty(globalThis, k, { value, configurable: true, writable: true });
  define('location', { href: page.href, pathname: page.pathname, protocol: page.protocol, search: page.search });
  define('WebSocket', FakeWebSocket);
  define('navigator', { onLine: true });
  define('window', win);
  define('fetch', async (path, init = {}) => {
    fetched.push(path);
    headers[path] = init.headers;
    if (!BODIES[path]) return { ok: false, status: 404, json: async () => ({}) };
    return { ok: true, status: 200, json: async () => structuredClone(BODIES[path]) };
  });
  FakeWebSocket.reset();

  const template = readFileSync(new URL('../../templates/dashboard.html', import.meta.url), 'utf8');
  for (const id of ['alerts', 'system-status', 'feed', 'charts', 'alerts-panel', 'cpu-cores', 'top-processes', 'cluster']) {
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
  return { doc, win, app, fetched, headers, warned };
}

const settle = (ms = 10) => new Promise((r) => setTimeout(r, ms));

/** The server's first frame on `ws`. */
function greet(ws, channels = ['global']) {
  ws.receive({ type: 'connected', connection_id: 'c', node: 'n', epoch: 'boot', channels, auto_subscribed: false, timestamp: 't' });
}

const keysIn = (doc) => doc.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key'));

describe('start()', () => {
  test('wires one socket to every widget, subscribes its channels after connected and exposes the test hooks', async () => {
    const { doc, win, app, fetched, headers, warned } = openPage({
      url: 'https://host.test/prefix/?token=abc',
      configText: JSON.stringify({ ...PAGE_CONFIG, auth: 'token' }),
    });
    await settle();

    assert.equal(win.livewatch, app);
    assert.equal(app.tokenMissing, false);
    assert.deepEqual(warned, []);
    assert.equal(FakeWebSocket.instances.length, 1, 'one socket for the page');
    const ws = FakeWebSocket.last;
    assert.equal(ws.url, 'wss://host.test/prefix/api/monitoring/ws?token=abc&auto_subscribe=false');
    ws.open();
    assert.deepEqual(ws.messages, [], 'nothing before connected');
    // Token mode: the token's own channels come from connected.
    greet(ws, ['user:u1', 'global']);
    await settle();
    // global's history came during the handshake; user:u1 is known from connected only.
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'global', since: { seq: 3, epoch: 'ep-global' } },
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'user:u1', since: { seq: 60, epoch: 'ep-user:u1' } },
    ]);
    assert.deepEqual(fetched.sort(), Object.keys(BODIES).sort());
    assert.equal(headers['api/channels/global/history?limit=50'].Authorization, 'Bearer abc', 'the token goes along');
    for (const path of fetched) assert.equal(headers[path].Authorization, 'Bearer abc', `${path} carries the token`);

    for (const sel of ['#connection-state', '#overall-status', '[data-gauge=cpu]', '[data-gauge=memory]', '[data-gauge=disk]', '#live-feed', '#alerts', '#chart-cpu', '#chart-memory', '#chart-disk', '#last-sample', '#queued-frames']) {
      assert.ok(doc.querySelector(sel), sel);
    }
    assert.equal(doc.querySelector('#connection-state').textContent, 'Live');
    assert.equal(doc.querySelector('#overall-status').textContent, 'Healthy');
    assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-value'), '85');
    assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-level'), 'warning', 'thresholds from the config');
    assert.equal(doc.querySelector('#queued-frames').textContent, '4');

    // The feed opened on the latest 50 of both histories, newest first.
    const opened = keysIn(doc);
    assert.equal(opened.length, 50);
    assert.equal(opened[0], 'user:u1:60');
    assert.equal(opened[49], 'user:u1:11');
    assert.ok(!opened.includes('global:3'), 'older than the latest 50');

    // The feed's icons come from the config's event catalogue.
    ws.receive({ type: 'event', channel: 'global', seq: 4, event: 'task.failed', data: {}, timestamp: '2026-03-01T12:00:01Z' });
    const icon = doc.querySelector('[data-key="global:4"] .feed-icon');
    assert.equal(icon.textContent, PAGE_CONFIG.events['task.failed'].glyph);
    assert.equal(icon.getAttribute('class'), 'feed-icon tone-danger');
    assert.equal(icon.getAttribute('title'), 'Task failed');
  });

  test('a reconnect recovers with since: recovered shows nothing twice and loads nothing', async () => {
    const { doc, fetched } = openPage({ url: 'https://host.test/' });
    await settle();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws);
    await settle();
    ws.receive({ type: 'subscribed', channel: 'system', seq: 9, epoch: 'es' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 3, epoch: 'ep-global', recovered: true });
    ws.receive({ type: 'event', channel: 'global', seq: 4, event: 'task.started', data: {}, timestamp: '2026-03-01T12:00:04Z' });
    assert.deepEqual(keysIn(doc), ['global:4', 'global:3', 'global:2', 'global:1']);

    fetched.length = 0;
    ws.drop();
    await settle(600); // real timers here: the first retry is within 500 ms
    assert.equal(FakeWebSocket.instances.length, 2);
    ws = FakeWebSocket.last;
    ws.open();
    greet(ws);
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'global', since: { seq: 4, epoch: 'ep-global' } },
      { type: 'subscribe', channel: 'system', since: { seq: 9, epoch: 'es' } },
    ]);
    // The server replays what was missed (and, racing a publish, one already seen), then says recovered.
    for (const seq of [4, 5, 6]) ws.receive({ type: 'event', channel: 'global', seq, event: 'task.started', data: {}, timestamp: `2026-03-01T12:00:0${seq}Z` });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 6, epoch: 'ep-global', recovered: true });
    ws.receive({ type: 'subscribed', channel: 'system', seq: 9, epoch: 'es', recovered: true });
    await settle();
    assert.deepEqual(keysIn(doc), ['global:6', 'global:5', 'global:4', 'global:3', 'global:2', 'global:1']);
    assert.equal(doc.querySelector('#live-feed [data-marker]'), null, 'no marker');
    assert.deepEqual(fetched, ['api/monitoring/nodes'], 'nothing to load again but the cluster view, which a reconnect polls');
  });

  test('recovered: false reloads what the channel feeds and marks the gap in the feed', async () => {
    const { doc, fetched } = openPage({ url: 'https://host.test/?business_id=acme' });
    await settle();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['business:acme', 'global']);
    await settle();
    assert.deepEqual(ws.messages.map((m) => m.channel), ['global', 'system', 'business:acme'], 'each channel once');
    ws.receive({ type: 'subscribed', channel: 'system', seq: 9, epoch: 'es' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 3, epoch: 'ep-global', recovered: true });
    fetched.length = 0;
    ws.drop();
    await settle(600);
    ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['business:acme', 'global']);
    // The server restarted: every stream has a new epoch.
    BODIES['api/channels/global/history?limit=50'] = historyBody('global', 1, 1, 'ep-global-2');
    try {
      ws.receive({ type: 'subscribed', channel: 'global', seq: 1, epoch: 'ep-global-2', recovered: false, reason: 'epoch_changed' });
      ws.receive({ type: 'subscribed', channel: 'system', seq: 0, epoch: 'es2', recovered: false, reason: 'epoch_changed' });
      await settle();
    } finally {
      BODIES['api/channels/global/history?limit=50'] = historyBody('global', 3, 3);
    }
    assert.deepEqual(
      fetched.sort(),
      [...WIDGET_URLS, 'api/channels/global/history?limit=50'].sort(),
      'alerts (global), status and charts (system) and the feed history of global; not business:acme',
    );
    const marker = doc.querySelector('#live-feed [data-marker]');
    assert.ok(marker, 'a marker');
    assert.equal(marker.getAttribute('data-channel'), 'global');
    assert.equal(marker.getAttribute('data-reason'), 'epoch_changed');
    assert.match(marker.textContent, /Missed events, refreshed/);
    assert.match(marker.getAttribute('title'), /epoch_changed/);
    assert.equal(doc.querySelectorAll('#live-feed [data-marker]').length, 1, 'system carries no feed events: no marker for it');
    const keys = keysIn(doc);
    assert.equal(keys[0], marker.getAttribute('data-key'), 'the marker is on top');
    assert.ok(keys.includes('global:1'), 'the new stream\u2019s event is in');
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(keys.filter((k) => k.startsWith('global:1')).length, 2, 'the old global:1 stays under another key');
    // Live events go on after the marker.
    ws.receive({ type: 'event', channel: 'global', seq: 2, event: 'task.started', data: {}, timestamp: '2099-01-01T00:00:00Z' });
    assert.equal(keysIn(doc)[0], 'global:2');
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
    assert.deepEqual(fetched.sort(), WIDGET_URLS.slice().sort(), 'what HTTP serves still loads; no channel history without the token');
  });

  test('open mode connects without a token and opens the feed on the history of its channels', async () => {
    const { app, fetched, headers } = openPage({ url: 'https://host.test/?user_id=u1' });
    await settle();
    assert.equal(app.tokenMissing, false);
    assert.equal(FakeWebSocket.last.url, 'wss://host.test/api/monitoring/ws?user_id=u1&auto_subscribe=false');
    assert.deepEqual(
      fetched.filter((u) => u.startsWith('api/channels/')).sort(),
      ['api/channels/global/history?limit=50', 'api/channels/user%3Au1/history?limit=50'],
      'fetched while the socket connects',
    );
    assert.equal(headers['api/channels/global/history?limit=50'].Authorization, undefined, 'no token, no header');
    const ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['user:u1', 'global']);
    await settle();
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'global', since: { seq: 3, epoch: 'ep-global' } },
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'user:u1', since: { seq: 60, epoch: 'ep-user:u1' } },
    ]);
  });

  test('pageChannels: global and system, plus the query ids in open mode only', () => {
    assert.deepEqual(pageChannels({ auth: 'open' }, ''), ['global', 'system']);
    assert.deepEqual(pageChannels({ auth: 'open' }, '?user_id=7&business_id=acme&x=1'), ['global', 'system', 'user:7', 'business:acme']);
    assert.deepEqual(pageChannels({ auth: 'token' }, '?token=t&user_id=7'), ['global', 'system']);
    assert.deepEqual(pageChannels(null, '?business_id='), ['global', 'system']);
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
      greet(FakeWebSocket.last);
      assert.equal(doc.querySelector('#connection-state').textContent, 'Live');
      assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-value'), '85');
      assert.equal(doc.querySelector('#chart-cpu [data-threshold]'), null, 'no threshold lines');
      assert.equal(doc.querySelectorAll('.threshold-label').length, 0, 'no threshold labels');
      FakeWebSocket.last.receive({ type: 'event', channel: 'global', seq: 4, event: 'task.failed', data: {}, timestamp: '2026-03-01T12:00:01Z' });
      assert.equal(doc.querySelector('[data-key="global:4"] .feed-icon').textContent, '\u2022', 'the default icon');
    });
  }
});
