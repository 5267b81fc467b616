// The page wiring: config parsing and start() on a fake document.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { DEFAULT_CONFIG, parseConfig, start } from '../../static/js/main.js';
import { FakeWebSocket, FakeWindow } from './fakes.mjs';
import { installDom } from './fake-dom.mjs';

describe('parseConfig', () => {
  test('the server config wins over the defaults, thresholds per metric', () => {
    const cfg = parseConfig(JSON.stringify({ history_seconds: 300, version: '9.9', thresholds: { cpu: { warning: 50, critical: 60 } } }));
    assert.equal(cfg.history_seconds, 300);
    assert.equal(cfg.version, '9.9');
    assert.deepEqual(cfg.thresholds.cpu, { warning: 50, critical: 60 });
    assert.deepEqual(cfg.thresholds.disk, DEFAULT_CONFIG.thresholds.disk);
  });

  test('bad JSON falls back to the defaults with a warning', () => {
    const warn = console.warn;
    const warned = [];
    console.warn = (...a) => warned.push(a);
    try {
      assert.deepEqual(parseConfig('{nope'), { ...DEFAULT_CONFIG, thresholds: { ...DEFAULT_CONFIG.thresholds } });
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1);
  });
});

describe('start()', () => {
  const saved = {};
  let cleanup = () => {};

  afterEach(() => cleanup());

  test('wires one socket to every widget, subscribes to system and exposes the test hooks', async () => {
    const { doc, restore } = installDom();
    doc.baseURI = 'https://host.test/prefix/';
    const fetched = [];
    const bodies = {
      'api/monitoring/health': { status: 'healthy', checks: {}, timestamp: '2026-03-01T12:00:00Z' },
      'api/monitoring/metrics': { cpu_percent: 1, memory_percent: 2, disk_percent: 3, timestamp: '2026-03-01T12:00:00Z' },
      'api/monitoring/alerts?limit=50': { alerts: [], active: [] },
      'api/monitoring/metrics/history?seconds=900': { interval_seconds: 2, samples: [] },
    };
    for (const k of ['location', 'WebSocket', 'fetch', 'navigator', 'window']) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
    const win = new FakeWindow();
    Object.defineProperty(globalThis, 'location', { value: { href: 'https://host.test/prefix/?token=abc', protocol: 'https:', search: '?token=abc' }, configurable: true, writable: true });
    Object.defineProperty(globalThis, 'WebSocket', { value: FakeWebSocket, configurable: true, writable: true });
    Object.defineProperty(globalThis, 'navigator', { value: { onLine: true }, configurable: true, writable: true });
    Object.defineProperty(globalThis, 'window', { value: win, configurable: true, writable: true });
    Object.defineProperty(globalThis, 'fetch', {
      value: async (url) => {
        fetched.push(url);
        return { ok: true, status: 200, json: async () => structuredClone(bodies[url]) };
      },
      configurable: true,
      writable: true,
    });
    FakeWebSocket.reset();

    // The mount points of templates/dashboard.html.
    const template = readFileSync(new URL('../../templates/dashboard.html', import.meta.url), 'utf8');
    for (const id of ['alerts', 'system-status', 'feed', 'charts']) {
      assert.match(template, new RegExp(`<section id="${id}"`));
      const el = doc.createElement('section');
      el.setAttribute('id', id);
      doc.body.append(el);
    }
    const config = doc.createElement('script');
    config.setAttribute('id', 'livewatch-config');
    config.textContent = JSON.stringify({ history_seconds: 900 });
    doc.body.append(config);

    const app = start(doc, win);
    cleanup = () => {
      for (const w of app.widgets) w.destroy();
      app.socket.close();
      restore();
      for (const [k, d] of Object.entries(saved)) {
        if (d) Object.defineProperty(globalThis, k, d);
        else delete globalThis[k];
      }
    };
    await new Promise((r) => setTimeout(r, 10));

    assert.equal(win.livewatch, app);
    assert.equal(FakeWebSocket.instances.length, 1, 'one socket for the page');
    const ws = FakeWebSocket.last;
    assert.equal(ws.url, 'wss://host.test/prefix/api/monitoring/ws?token=abc');
    ws.open();
    assert.deepEqual(ws.messages, [{ type: 'subscribe', channel: 'system' }]);
    assert.deepEqual(fetched.sort(), Object.keys(bodies).sort());

    for (const sel of ['#connection-state', '#overall-status', '[data-gauge=cpu]', '[data-gauge=memory]', '[data-gauge=disk]', '#live-feed', '#alerts', '#chart-cpu', '#chart-memory', '#chart-disk', '#last-sample']) {
      assert.ok(doc.querySelector(sel), sel);
    }
    assert.equal(doc.querySelector('#connection-state').textContent, 'Live');
    assert.equal(doc.querySelector('#overall-status').textContent, 'Healthy');
    assert.equal(doc.querySelector('[data-gauge=disk]').getAttribute('data-value'), '3');

    // After a reconnect every widget reloads what it shows.
    fetched.length = 0;
    ws.drop();
    await new Promise((r) => setTimeout(r, 600)); // real timers here: the first retry is within 500 ms
    assert.equal(FakeWebSocket.instances.length, 2);
    FakeWebSocket.last.open();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(fetched.sort(), Object.keys(bodies).sort());
  });
});
