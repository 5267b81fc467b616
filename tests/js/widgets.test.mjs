// The widgets on a fake DOM, fed by a real LiveSocket over a fake WebSocket.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { AlertCenter } from '../../static/js/alert-center.js';
import { AlertBanner } from '../../static/js/widgets/alert-banner.js';
import { AlertDialog } from '../../static/js/widgets/alert-dialog.js';
import { AlertsPanel } from '../../static/js/widgets/alerts-panel.js';
import { HistoryCharts } from '../../static/js/widgets/charts.js';
import { LiveFeed } from '../../static/js/widgets/live-feed.js';
import { SystemStatus } from '../../static/js/widgets/system-status.js';
import { FakeClock, fakeLogger, FakeWebSocket, scriptedFetch } from './fakes.mjs';
import { flush, openSocket } from './open-socket.mjs';
import { installDom, keyEvent } from './fake-dom.mjs';
import { PAGE_CONFIG } from './page-config.mjs';

const CONFIG = PAGE_CONFIG;

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

function sample(overrides = {}, t = T0) {
  return {
    cpu_percent: 12.34,
    memory_percent: 81.5,
    memory_used_bytes: 13 * 1024 ** 3,
    memory_total_bytes: 16 * 1024 ** 3,
    disk_percent: 95,
    disk_used_bytes: 95 * 1024 ** 3,
    disk_total_bytes: 100 * 1024 ** 3,
    disk_path: '/',
    load_1: 0.25,
    load_5: 0.5,
    load_15: 0.75,
    net_bytes_sent: 1,
    net_bytes_recv: 2,
    active_connections: 7,
    queued_frames: 2,
    timestamp: iso(t),
    ...overrides,
  };
}

/** fetch() stand-in: routes by exact relative URL, records what was asked. */
function fakeFetch(routes) {
  const calls = [];
  const headers = [];
  const fn = async (url, init = {}) => {
    calls.push(url);
    headers.push(init.headers || {});
    const route = routes[url];
    if (!route) return { ok: false, status: 404, json: async () => ({}) };
    const [status, body] = route;
    return { ok: status >= 200 && status < 300, status, json: async () => structuredClone(body) };
  };
  fn.calls = calls;
  fn.headers = headers;
  return fn;
}

let dom;
let clock;
let socket;
let ws;
let seq;
let widgets;

function send(channel, event, data, timestamp = iso(clock.time)) {
  seq[channel] = (seq[channel] ?? 0) + 1;
  ws.receive({ type: 'event', channel, seq: seq[channel], event, data, timestamp });
}

function mount(id) {
  const el = dom.doc.createElement('section');
  el.setAttribute('id', id);
  dom.doc.body.append(el);
  return el;
}

/** The server says `channel` could not be recovered (docs/protocol.md, Recovery). */
function stale(channel, reason = 'epoch_changed', at = 0) {
  ws.receive({ type: 'subscribed', channel, seq: at, epoch: `new-${channel}`, recovered: false, reason });
}


async function started(widget) {
  widgets.push(widget);
  await widget.start();
  return widget;
}

beforeEach(() => {
  dom = installDom();
  clock = new FakeClock(T0);
  ({ socket, ws } = openSocket(clock, 'system'));
  seq = {};
  widgets = [];
});

afterEach(() => {
  for (const w of widgets) w.destroy();
  socket.close();
  dom.restore();
});

describe('AlertBanner', () => {
  const alertData = (id, level, message = `${id} ${level}`) => ({
    alert_id: id,
    rule: 'r',
    metric: 'cpu',
    level,
    state: 'firing',
    message,
    value: 93.25,
    threshold: 90,
    details: {},
  });

  test('loads active alerts, then creates, updates in place and removes banners', async () => {
    const fetch = fakeFetch({
      'api/monitoring/alerts?limit=50&state=resolved': [200, { alerts: [], active: [{ ...alertData('disk', 'warning', 'Disk filling'), timestamp: '2026-03-01T11:00:00Z' }] }],
    });
    const root = mount('alerts');
    await started(new AlertBanner(root, { socket, fetch }));
    assert.deepEqual(fetch.calls, ['api/monitoring/alerts?limit=50&state=resolved']);
    assert.equal(root.getAttribute('aria-live'), 'polite');
    assert.equal(root.querySelectorAll('[data-alert-id]').length, 1);

    send('global', 'system.alert', alertData('cpu', 'warning', 'CPU high'));
    const banner = root.querySelector('[data-alert-id=cpu]');
    assert.equal(banner.getAttribute('data-level'), 'warning');
    assert.match(banner.textContent, /WARNING/);
    assert.match(banner.textContent, /CPU high/);

    send('global', 'system.alert', alertData('cpu', 'critical', 'CPU very high'));
    const again = root.querySelector('[data-alert-id=cpu]');
    assert.equal(again, banner, 'the same element is updated in place');
    assert.equal(banner.getAttribute('data-level'), 'critical');
    assert.match(banner.getAttribute('class'), /alert-critical/);
    assert.doesNotMatch(banner.getAttribute('class'), /alert-warning/);
    assert.match(banner.textContent, /CRITICAL/);
    assert.doesNotMatch(banner.textContent, /WARNING/);
    assert.match(banner.textContent, /CPU very high/);
    assert.equal(root.querySelectorAll('[data-alert-id=cpu]').length, 1);
    assert.equal(root.children[0], banner, 'critical first');

    send('global', 'system.alert_resolved', { ...alertData('cpu', 'critical'), state: 'resolved' });
    assert.equal(root.querySelector('[data-alert-id=cpu]'), null);
    assert.equal(root.querySelectorAll('[data-alert-id]').length, 1);
    assert.equal(root.getAttribute('data-count'), '1');
  });

  test('message text is text, never markup', async () => {
    const root = mount('alerts');
    await started(new AlertBanner(root, { socket, fetch: fakeFetch({}) }));
    send('global', 'system.alert', alertData('x', 'critical', '<img src=x onerror=alert(1)>'));
    const banner = root.querySelector('[data-alert-id=x]');
    assert.match(banner.textContent, /<img src=x onerror=alert\(1\)>/);
    assert.equal(banner.querySelector('img'), null);
  });

  test('the dismiss button has a label and removes the banner; so does Escape', async () => {
    const root = mount('alerts');
    await started(new AlertBanner(root, { socket, fetch: fakeFetch({}) }));
    send('global', 'system.alert', alertData('a', 'warning', 'first'));
    send('global', 'system.alert', alertData('b', 'warning', 'second'));
    const button = root.querySelector('[data-alert-id=a] .alert-dismiss');
    assert.equal(button.getAttribute('type'), 'button');
    assert.match(button.getAttribute('aria-label'), /Dismiss/);
    button.click();
    assert.equal(root.querySelector('[data-alert-id=a]'), null);

    const b = root.querySelector('[data-alert-id=b]');
    assert.equal(b.getAttribute('tabindex'), '0');
    const ev = keyEvent('Escape');
    b.dispatchEvent(ev);
    assert.equal(ev.defaultPrevented, true);
    assert.equal(root.querySelector('[data-alert-id=b]'), null);

    b.dispatchEvent(keyEvent('Enter')); // other keys do nothing (and nothing throws)
  });

  test('a stale global channel loads the active alerts again; other channels do not', async () => {
    const fetch = fakeFetch({ 'api/monitoring/alerts?limit=50&state=resolved': [200, { alerts: [], active: [] }] });
    const root = mount('alerts');
    await started(new AlertBanner(root, { socket, fetch }));
    fetch.calls.length = 0;
    stale('system');
    stale('user:1', 'too_old');
    assert.deepEqual(fetch.calls, []);
    stale('global');
    await flush();
    assert.deepEqual(fetch.calls, ['api/monitoring/alerts?limit=50&state=resolved']);
  });

  test('a failed load leaves live alerts working', async () => {
    const root = mount('alerts');
    const warn = console.warn;
    console.warn = () => {};
    try {
      await started(new AlertBanner(root, { socket, fetch: fakeFetch({}) }));
    } finally {
      console.warn = warn;
    }
    send('global', 'system.alert', alertData('c', 'critical'));
    assert.equal(root.querySelectorAll('[data-alert-id]').length, 1);
  });
});

describe('LiveFeed', () => {
  test('keys items by channel:seq, newest first, skipping metric and health', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    const list = root.querySelector('#live-feed');
    assert.equal(root.querySelector('#feed-live').textContent, 'LIVE');
    send('global', 'task.started', { title: 'Sync CRM' });
    send('system', 'system.metric', sample());
    send('system', 'system.health', { status: 'healthy', checks: {} });
    send('business:4', 'business.updated', { business_id: 4, name: 'Acme' });
    const keys = list.querySelectorAll('[data-key]').map((li) => li.getAttribute('data-key'));
    assert.deepEqual(keys, ['business:4:1', 'global:1']);
    const first = list.querySelector('[data-key="business:4:1"]');
    assert.match(first.textContent, /business\.updated/);
    assert.match(first.textContent, /Acme/);
    const time = first.querySelector('time');
    assert.equal(time.getAttribute('datetime'), new Date(clock.time).toISOString());
    assert.ok(time.getAttribute('title'));
    const icon = first.querySelector('.feed-icon');
    assert.equal(icon.textContent, '\u270E');
    assert.equal(icon.getAttribute('class'), 'feed-icon tone-business');
    assert.equal(icon.getAttribute('title'), 'Business updated');
  });

  test('icons come from config.events only; without it every event gets the default icon', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, now: clock.now }));
    send('global', 'task.started', {});
    const icon = root.querySelector('[data-key="global:1"] .feed-icon');
    assert.equal(icon.textContent, '\u2022');
    assert.equal(icon.getAttribute('class'), 'feed-icon tone-neutral');
    assert.equal(icon.getAttribute('title'), 'Event');
  });

  test('duplicates from the socket do not show twice', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    const frame = { type: 'event', channel: 'global', seq: 9, event: 'task.failed', data: { task_id: 't9' }, timestamp: iso(T0) };
    ws.receive(frame);
    ws.receive(frame);
    assert.equal(root.querySelectorAll('#live-feed [data-key]').length, 1);
  });

  test('keeps at most 50 items in the DOM and refreshes relative times', async () => {
    const root = mount('feed');
    const feed = await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    for (let i = 0; i < 55; i += 1) send('global', 'task.completed', { task_id: `t${i}` });
    const items = root.querySelectorAll('#live-feed [data-key]');
    assert.equal(items.length, 50);
    assert.equal(items[0].getAttribute('data-key'), 'global:55');
    assert.equal(items[49].getAttribute('data-key'), 'global:6');
    assert.equal(items[0].querySelector('time').textContent, 'just now');
    clock.advance(12_000);
    feed.refreshTimes();
    assert.equal(items[0].querySelector('time').textContent, '12 s ago');
  });

  test('pause counts new events, resume applies them', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    send('global', 'task.started', {});
    const pause = root.querySelector('#feed-pause');
    pause.click();
    assert.equal(pause.getAttribute('aria-pressed'), 'true');
    assert.equal(pause.textContent, 'Resume');
    send('global', 'approval.required', {});
    send('global', 'approval.granted', {});
    assert.equal(root.querySelectorAll('#live-feed [data-key]').length, 1);
    assert.equal(root.querySelector('#feed-pending').textContent, '2 new');
    pause.click();
    assert.equal(pause.textContent, 'Pause');
    assert.equal(root.querySelector('#feed-pending').textContent, '');
    const keys = root.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key'));
    assert.deepEqual(keys, ['global:3', 'global:2', 'global:1']);
  });

  test('filters by type and channel from what was seen', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    send('global', 'task.started', {});
    send('business:1', 'task.failed', {});
    send('business:1', 'task.started', {});
    const typeSelect = root.querySelector('#feed-filter-event');
    const channelSelect = root.querySelector('#feed-filter-channel');
    assert.deepEqual(typeSelect.querySelectorAll('option').map((o) => o.value), ['', 'task.failed', 'task.started']);
    assert.deepEqual(channelSelect.querySelectorAll('option').map((o) => o.value), ['', 'business:1', 'global']);
    typeSelect.value = 'task.started';
    typeSelect.dispatchEvent(new Event('change'));
    assert.deepEqual(root.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key')), ['business:1:2', 'global:1']);
    channelSelect.value = 'business:1';
    channelSelect.dispatchEvent(new Event('change'));
    assert.deepEqual(root.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key')), ['business:1:2']);
    send('user:2', 'analytics.anomaly', {}); // a new type keeps the chosen filter
    assert.equal(typeSelect.value, 'task.started');
    assert.equal(root.querySelectorAll('#live-feed [data-key]').length, 1);
  });

  test('after a server restart old items stay and new ones with the same seq get in', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    ws.receive({ type: 'connected', connection_id: 'a', node: 'n', channels: ['global'], timestamp: 't' });
    send('global', 'task.started', { title: 'before' });
    ws.drop();
    clock.advance(socket.state.nextAttemptAt - clock.time);
    ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'connected', connection_id: 'b', node: 'n', channels: ['global'], timestamp: 't' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 0 });
    seq = {};
    send('global', 'task.failed', { title: 'after' });
    const keys = root.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key'));
    assert.equal(keys.length, 2);
    assert.equal(keys[0], 'global:1');
    assert.match(root.querySelector('[data-key="global:1"]').textContent, /after/);
    assert.equal(new Set(keys).size, 2);
  });

  const historyOf = (channel, top, count, epoch = 'e1', second0 = 0) => {
    const events = [];
    for (let s = top - count + 1; s <= top; s += 1) {
      events.push({ channel, seq: s, event: 'task.completed', data: { title: `${channel} ${s}` }, timestamp: iso(T0 - 3_600_000 + (second0 + s) * 1000) });
    }
    return [200, { channel, seq: top, epoch, complete: true, events }];
  };
  const listKeys = (root) => root.querySelectorAll('#live-feed [data-key]').map((li) => li.getAttribute('data-key'));

  test('loadChannel shows the latest events of a channel and answers where live events go on', async () => {
    const fetch = fakeFetch({
      'api/channels/global/history?limit=50': historyOf('global', 70, 50, 'eg'),
      'api/channels/business%3A4/history?limit=50': historyOf('business:4', 3, 3, 'eb', 100),
    });
    const root = mount('feed');
    const feed = await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now, fetch }));
    assert.equal(root.querySelector('.feed-empty').hidden, false, 'waiting before any history');
    assert.deepEqual(await feed.loadChannel('global'), { seq: 70, epoch: 'eg' });
    assert.deepEqual(await feed.loadChannel('business:4'), { seq: 3, epoch: 'eb' });
    assert.equal(feed.loadChannel('system'), null, 'system carries no feed events');
    assert.deepEqual(fetch.calls, ['api/channels/global/history?limit=50', 'api/channels/business%3A4/history?limit=50']);
    const keys = listKeys(root);
    assert.equal(keys.length, 50);
    assert.deepEqual(keys.slice(0, 4), ['business:4:3', 'business:4:2', 'business:4:1', 'global:70']);
    assert.equal(keys[49], 'global:24');
    assert.equal(root.querySelector('.feed-empty').hidden, true);
    assert.deepEqual(root.querySelector('#feed-filter-channel').querySelectorAll('option').map((o) => o.value), ['', 'business:4', 'global']);
    assert.match(root.querySelector('[data-key="global:70"]').textContent, /global 70/);
  });

  test('loadChannel: a failed history shows nothing and answers null', async () => {
    const root = mount('feed');
    const feed = await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now, fetch: fakeFetch({}) }));
    const warn = console.warn;
    const warned = [];
    console.warn = (...args) => warned.push(args);
    try {
      assert.equal(await feed.loadChannel('global'), null);
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1);
    assert.deepEqual(listKeys(root), []);
  });

  test('a stale channel is loaded again and marked, in text, with its reason; nothing shows twice', async () => {
    const fetch = fakeFetch({ 'api/channels/global/history?limit=50': historyOf('global', 2, 2) });
    const root = mount('feed');
    const feed = await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now, fetch }));
    await feed.loadChannel('global');
    send('global', 'task.started', {}, iso(T0 - 1000)); // global:1 is in the history already
    send('global', 'task.started', {}, iso(T0 - 1000));
    send('global', 'task.started', {}, iso(T0 - 1000));
    assert.deepEqual(listKeys(root), ['global:3', 'global:2', 'global:1']);
    fetch.calls.length = 0;
    stale('global', 'too_old', 3);
    await flush();
    assert.deepEqual(fetch.calls, ['api/channels/global/history?limit=50']);
    const keys = listKeys(root);
    assert.deepEqual(keys, ['missed:global:1', 'global:3', 'global:2', 'global:1']);
    const marker = root.querySelector('[data-marker]');
    assert.equal(marker.getAttribute('data-key'), 'missed:global:1');
    assert.equal(marker.getAttribute('data-channel'), 'global');
    assert.equal(marker.getAttribute('data-reason'), 'too_old');
    assert.equal(marker.getAttribute('title'), 'Reason: too_old');
    assert.match(marker.textContent, /^.*Missed events, refreshed/);
    assert.match(marker.textContent, /older than the history/);
    assert.equal(marker.querySelector('.feed-icon').getAttribute('aria-hidden'), 'true');
    assert.equal(marker.querySelector('time').getAttribute('datetime'), new Date(T0).toISOString());
    // Live events go on above it.
    send('global', 'task.failed', {});
    assert.equal(listKeys(root)[0], 'global:4');
  });

  test('a stale system channel leaves the feed alone; a failed reload says so', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now, fetch: fakeFetch({}) }));
    stale('system');
    await flush();
    assert.deepEqual(listKeys(root), []);
    const warn = console.warn;
    console.warn = () => {};
    try {
      stale('business:9', 'too_many');
      await flush();
    } finally {
      console.warn = warn;
    }
    const marker = root.querySelector('[data-marker]');
    assert.match(marker.textContent, /Missed events, could not reload/);
    assert.equal(marker.getAttribute('data-reason'), 'too_many');
  });

  test('a new epoch: old items keep their place under other keys; the marker and new events come on top', async () => {
    const routes = { 'api/channels/global/history?limit=50': historyOf('global', 2, 2, 'e1') };
    const fetch = fakeFetch(routes);
    const root = mount('feed');
    const feed = await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now, fetch }));
    ws.receive({ type: 'connected', connection_id: 'a', node: 'n', epoch: 'b1', channels: ['global'], auto_subscribed: false, timestamp: 't' });
    await feed.loadChannel('global');
    ws.receive({ type: 'subscribed', channel: 'global', seq: 2, epoch: 'e1' });
    ws.drop();
    clock.advance(socket.state.nextAttemptAt - clock.time);
    ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'connected', connection_id: 'b', node: 'n', epoch: 'b2', channels: ['global'], auto_subscribed: false, timestamp: 't' });
    assert.deepEqual(ws.messages.find((m) => m.channel === 'global').since, { seq: 2, epoch: 'e1' });
    // The server restarted: its history of global is empty, in a new epoch.
    routes['api/channels/global/history?limit=50'] = historyOf('global', 0, 0, 'e2');
    ws.receive({ type: 'subscribed', channel: 'global', seq: 0, epoch: 'e2', recovered: false, reason: 'epoch_changed' });
    await flush();
    seq = { global: 0 };
    send('global', 'task.failed', { title: 'after' });
    const keys = listKeys(root);
    assert.deepEqual(keys, ['global:1', 'missed:global:1', 'global:2~1', 'global:1~1']);
    assert.match(root.querySelector('[data-key="global:1"]').textContent, /after/);
  });

  test('shows OFFLINE when the socket is not live', async () => {
    const root = mount('feed');
    await started(new LiveFeed(root, { socket, config: CONFIG, now: clock.now }));
    ws.drop();
    assert.equal(root.querySelector('#feed-live').textContent, 'OFFLINE');
  });
});

describe('SystemStatus', () => {
  const health = (status) => ({
    status,
    checks: {
      database: { status: 'healthy', latency_ms: 1.5, message: 'SELECT 1 ok', checked_at: iso(T0) },
      redis: { status: status === 'healthy' ? 'healthy' : 'unhealthy', latency_ms: 1000, message: 'connection refused', checked_at: iso(T0) },
    },
    timestamp: iso(T0),
  });

  test('in token mode every widget sends the page token with its API requests', async () => {
    const fetch = fakeFetch({
      'api/monitoring/health': [200, health('healthy')],
      'api/monitoring/metrics': [200, sample()],
      'api/monitoring/alerts?limit=50&state=resolved': [200, { alerts: [], active: [] }],
      'api/monitoring/metrics/history?seconds=900': [200, { interval_seconds: 2, samples: [] }],
    });
    await started(new SystemStatus(mount('system-status'), { socket, config: CONFIG, fetch, token: 'T0K', now: clock.now }));
    await started(new AlertBanner(mount('alerts'), { socket, fetch, token: 'T0K' }));
    await started(new HistoryCharts(mount('charts'), { socket, config: CONFIG, fetch, token: 'T0K' }));
    assert.equal(fetch.calls.length, 4);
    for (const sent of fetch.headers) assert.equal(sent.Authorization, 'Bearer T0K');
  });

  test('renders health (503 is data), gauges by threshold and facts', async () => {
    const fetch = fakeFetch({
      'api/monitoring/health': [503, health('unhealthy')],
      'api/monitoring/metrics': [200, sample()],
    });
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: CONFIG, fetch, now: clock.now }));
    assert.deepEqual(fetch.calls.sort(), ['api/monitoring/health', 'api/monitoring/metrics']);

    const overall = root.querySelector('#overall-status');
    assert.equal(overall.textContent, 'Unhealthy');
    assert.equal(overall.getAttribute('data-status'), 'unhealthy');
    const redis = root.querySelector('[data-check=redis]');
    assert.equal(redis.getAttribute('data-status'), 'unhealthy');
    assert.equal(redis.getAttribute('title'), 'connection refused');
    assert.match(redis.textContent, /1000 ms/);

    const gauge = (k) => root.querySelector(`[data-gauge=${k}]`);
    assert.equal(gauge('cpu').getAttribute('data-value'), '12.34');
    assert.equal(gauge('cpu').getAttribute('data-level'), 'ok');
    assert.match(gauge('cpu').textContent, /12\.3%/);
    assert.equal(gauge('memory').getAttribute('data-level'), 'warning');
    assert.match(gauge('memory').textContent, /Warning/);
    assert.match(gauge('memory').textContent, /13\.0 GiB of 16\.0 GiB/);
    assert.equal(gauge('disk').getAttribute('data-level'), 'critical');
    assert.match(gauge('disk').textContent, /Critical/);
    const bar = gauge('disk').querySelector('[role=meter]');
    assert.equal(bar.getAttribute('aria-valuenow'), '95.0');
    assert.equal(bar.getAttribute('aria-valuetext'), '95.0%, critical');

    assert.equal(root.querySelector('#active-connections').textContent, '7');
    assert.equal(root.querySelector('#load-average').textContent, '0.25 / 0.50 / 0.75');
    assert.equal(root.querySelector('#queued-frames').textContent, '2');
    assert.match(root.querySelector('#queued-frames').parentNode.textContent, /^Queued frames/);
    assert.equal(root.querySelector('#last-sample').getAttribute('datetime'), new Date(T0).toISOString());
  });

  test('live system.metric and system.health events update the page; stale samples do not', async () => {
    const fetch = fakeFetch({ 'api/monitoring/health': [200, health('healthy')], 'api/monitoring/metrics': [200, sample()] });
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: CONFIG, fetch, now: clock.now }));
    send('system', 'system.metric', sample({ cpu_percent: 90, active_connections: 12 }, T0 + 2000));
    const cpu = root.querySelector('[data-gauge=cpu]');
    assert.equal(cpu.getAttribute('data-value'), '90');
    assert.equal(cpu.getAttribute('data-level'), 'critical');
    assert.equal(root.querySelector('#active-connections').textContent, '12');
    send('system', 'system.metric', sample({ cpu_percent: 1 }, T0 + 1000)); // older
    assert.equal(cpu.getAttribute('data-value'), '90');

    send('system', 'system.health', { ...health('degraded'), timestamp: iso(T0 + 5000) });
    assert.equal(root.querySelector('#overall-status').textContent, 'Degraded');
  });

  test('connection indicator: Live, Reconnecting in Ns counting down, Offline', async () => {
    const root = mount('system-status');
    const status = await started(new SystemStatus(root, { socket, config: CONFIG, fetch: fakeFetch({}), now: clock.now }));
    const conn = root.querySelector('#connection-state');
    assert.equal(conn.textContent, 'Live');
    clock.advance(20_000); // stays up: backoff resets
    ws.drop();
    // random 0.5 -> 250 ms for the first retry: make it fail a few times
    for (let i = 0; i < 4; i += 1) {
      clock.advance(socket.state.nextAttemptAt - clock.time);
      FakeWebSocket.last.drop();
    }
    const wait = socket.state.nextAttemptAt - clock.time;
    assert.equal(wait, 4000);
    assert.equal(conn.textContent, 'Reconnecting in 4s');
    clock.advance(1500);
    status.tick();
    assert.equal(conn.textContent, 'Reconnecting in 3s');
    assert.equal(conn.getAttribute('data-state'), 'reconnecting');
    socket.close();
    assert.equal(conn.textContent, 'Offline');
  });

  test('a stale system channel loads health and the current sample again; other channels do not', async () => {
    const fetch = fakeFetch({ 'api/monitoring/health': [200, health('healthy')], 'api/monitoring/metrics': [200, sample()] });
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: CONFIG, fetch, now: clock.now }));
    fetch.calls.length = 0;
    stale('global');
    assert.deepEqual(fetch.calls, []);
    stale('system');
    await flush();
    assert.deepEqual(fetch.calls.sort(), ['api/monitoring/health', 'api/monitoring/metrics']);
  });

  test('a failed fetch shows an error, not an exception', async () => {
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: CONFIG, fetch: fakeFetch({}), now: clock.now }));
    const errors = root.querySelectorAll('.error').filter((e) => !e.hidden);
    assert.equal(errors.length, 2);
    assert.match(errors[0].textContent, /HTTP 404/);
  });
});

describe('SystemStatus without thresholds or connection', () => {
  test('no thresholds in the config: values show, no warning or critical level is made up', async () => {
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: {}, fetch: fakeFetch({ 'api/monitoring/metrics': [200, sample()] }), now: clock.now }));
    for (const k of ['cpu', 'memory', 'disk']) {
      const gauge = root.querySelector(`[data-gauge=${k}]`);
      assert.ok(gauge.getAttribute('data-value'), k);
      assert.ok(!['warning', 'critical'].includes(gauge.getAttribute('data-level')), k);
    }
  });

  test('blocked: the reason replaces the connection state and stays', async () => {
    const root = mount('system-status');
    const status = await started(new SystemStatus(root, { socket, config: CONFIG, blocked: 'This page needs a token', fetch: fakeFetch({}), now: clock.now }));
    const conn = root.querySelector('#connection-state');
    assert.equal(conn.textContent, 'This page needs a token');
    assert.equal(conn.getAttribute('data-state'), 'blocked');
    assert.equal(root.querySelector('[role=status]').textContent, 'This page needs a token');
    ws.drop();
    status.tick();
    assert.equal(conn.textContent, 'This page needs a token');
  });
});

describe('HistoryCharts', () => {
  test('loads history, appends live samples and trims to the window', async () => {
    const samples = [];
    for (let i = 0; i < 100; i += 1) samples.push(sample({ cpu_percent: i }, T0 + i * 2000));
    const fetch = fakeFetch({ 'api/monitoring/metrics/history?seconds=900': [200, { interval_seconds: 2, samples }] });
    const root = mount('charts');
    await started(new HistoryCharts(root, { socket, config: CONFIG, fetch }));
    const cpu = root.querySelector('#chart-cpu');
    assert.equal(cpu.localName, 'svg');
    assert.equal(cpu.getAttribute('data-points'), '100');
    assert.equal(cpu.querySelector('polyline').getAttribute('data-points'), '100');
    assert.equal(cpu.querySelector('polyline').getAttribute('points').split(' ').length, 100);
    assert.equal(root.querySelector('#chart-memory').getAttribute('data-points'), '100');
    assert.match(cpu.querySelector('desc').textContent, /latest 99\.0%/);
    assert.equal(cpu.querySelectorAll('[data-threshold]').length, 2);
    assert.equal(cpu.querySelector('[data-threshold=critical]').getAttribute('y1'), '10');

    send('system', 'system.metric', sample({ cpu_percent: 50 }, T0 + 100 * 2000));
    assert.equal(cpu.getAttribute('data-points'), '101');
    send('system', 'system.metric', sample({ cpu_percent: 60 }, T0 + 1000 * 1000)); // 1000 s later
    // points older than 900 s before the newest are gone: 100..198 s and 200 s remain, plus the new one
    assert.equal(cpu.getAttribute('data-points'), '52');
    assert.match(cpu.querySelector('desc').textContent, /latest 60\.0%/);
  });

  test('a stale system channel fills the gap from the history endpoint; other channels do not', async () => {
    const route = 'api/monitoring/metrics/history?seconds=900';
    const routes = { [route]: [200, { interval_seconds: 2, samples: [sample({}, T0)] }] };
    const fetch = fakeFetch(routes);
    const root = mount('charts');
    await started(new HistoryCharts(root, { socket, config: CONFIG, fetch }));
    send('system', 'system.metric', sample({}, T0 + 8000));
    routes[route] = [200, { interval_seconds: 2, samples: [0, 2000, 4000, 6000, 8000].map((dt) => sample({}, T0 + dt)) }];
    fetch.calls.length = 0;
    stale('business:1');
    assert.deepEqual(fetch.calls, []);
    stale('system');
    await flush();
    assert.deepEqual(fetch.calls, [route]);
    assert.equal(root.querySelector('#chart-cpu').getAttribute('data-points'), '5', 'the missed samples are in, none twice');
  });
});

describe('Acknowledging and silencing from the page', () => {
  const LOAD = 'GET api/monitoring/alerts?limit=50&state=resolved';
  const firing = (id, extra = {}) => ({
    alert_id: id,
    rule: 'cpu',
    metric: 'cpu_percent',
    level: 'warning',
    state: 'firing',
    message: `CPU high on ${id}`,
    value: 81,
    threshold: 75,
    timestamp: iso(T0 - 120_000),
    started_at: iso(T0 - 120_000),
    source: 'livewatch',
    node: 'web-1',
    labels: {},
    annotations: {},
    generator_url: '',
    acknowledged: null,
    silenced_by: [],
    ...extra,
  });
  const acked = (by, level = 'warning') => ({ by, at: iso(T0), comment: '', level });

  async function page({ routes, auth = 'open', name = 'ann', token = null }) {
    const fetch = scriptedFetch({ [LOAD]: [200, { active: [], alerts: [], silences: [] }], ...routes });
    const center = new AlertCenter({ socket, fetch, token, auth, logger: fakeLogger() });
    const dialog = new AlertDialog({ center, name, now: clock.now });
    const banner = await started(new AlertBanner(mount('alerts'), { center, dialog }));
    const panel = await started(new AlertsPanel(mount('alerts-panel'), { center, name, now: clock.now }));
    widgets.push({ destroy: () => center.destroy() });
    return { fetch, center, dialog, banner, panel, root: banner.root };
  }

  test('Acknowledge opens the dialog, sends who and why, and the banner says who', async () => {
    const { fetch, dialog, root } = await page({
      routes: {
        [LOAD]: [200, { active: [firing('a')], alerts: [], silences: [] }],
        'POST api/monitoring/alerts/a/ack': (req) => [200, firing('a', { acknowledged: { ...acked(req.body.by), comment: req.body.comment } })],
      },
    });
    const ack = root.querySelector('[data-alert-id=a] .alert-ack');
    assert.equal(ack.getAttribute('aria-label'), 'Acknowledge warning alert: CPU high on a');
    ack.click();
    assert.equal(dialog.el.hasAttribute('open'), true);
    assert.equal(dialog.title.textContent, 'Acknowledge alert');
    assert.equal(dialog.nameInput.value, 'ann', 'the name the page knows');
    assert.equal(dom.doc.activeElement, dialog.comment, 'focus goes to the first field left to fill');
    assert.equal(dialog.durationField.hidden, true);
    dialog.comment.value = 'looking';
    await dialog.submit(new Event('submit', { cancelable: true }));
    assert.deepEqual(fetch.requests.at(-1).body, { by: 'ann', comment: 'looking' });
    assert.equal(dialog.el.hasAttribute('open'), false);
    const banner = root.querySelector('[data-alert-id=a]');
    assert.equal(banner.querySelector('.alert-ack-note').textContent, 'acknowledged by ann');
    assert.equal(banner.getAttribute('data-acknowledged'), 'ann');
    assert.equal(ack.hidden, true);
    assert.equal(dom.doc.activeElement, banner.querySelector('.alert-silence'), 'focus moves on to Silence');

    // Someone else acknowledges on another page: this one shows it live.
    send('global', 'system.alert_acknowledged', { alert_id: 'a', acknowledged: acked('bob'), message: 'x' });
    assert.equal(banner.querySelector('.alert-ack-note').textContent, 'acknowledged by bob');
    assert.match(banner.getAttribute('aria-label'), /acknowledged by bob/);
    assert.equal(dom.doc.querySelector('#alerts-acknowledged [data-alert-id=a]') !== null, true);
  });

  test('the dialog wants a name in open mode, and shows what the server refused', async () => {
    const { fetch, dialog, root } = await page({
      name: '',
      routes: {
        [LOAD]: [200, { active: [firing('a')], alerts: [], silences: [] }],
        'POST api/monitoring/alerts/a/ack': [409, { error: "alert 'a' is resolved: nothing to acknowledge" }],
      },
    });
    root.querySelector('.alert-ack').click();
    assert.equal(dom.doc.activeElement, dialog.nameInput);
    await dialog.submit(new Event('submit', { cancelable: true }));
    assert.match(dialog.error.textContent, /Say who you are/);
    assert.equal(fetch.requests.length, 1, 'nothing was sent');
    dialog.nameInput.value = 'cy';
    await dialog.submit(new Event('submit', { cancelable: true }));
    assert.equal(dialog.error.textContent, "alert 'a' is resolved: nothing to acknowledge");
    assert.equal(dialog.el.hasAttribute('open'), true, 'stays open to say so');
  });

  test('Escape closes the dialog and focus goes back to the button that opened it', async () => {
    const { dialog, root } = await page({ routes: { [LOAD]: [200, { active: [firing('a')], alerts: [], silences: [] }] } });
    const silence = root.querySelector('.alert-silence');
    silence.click();
    assert.equal(dialog.title.textContent, 'Silence alert');
    assert.equal(dialog.matchers.textContent, 'Matches source=livewatch rule=cpu node=web-1');
    assert.equal(dom.doc.activeElement, dialog.duration);
    const ev = keyEvent('Escape');
    dialog.el.dispatchEvent(ev);
    assert.equal(ev.defaultPrevented, true);
    assert.equal(dialog.el.hasAttribute('open'), false);
    assert.equal(dom.doc.activeElement, silence);
  });

  test('Silence hides the banner, the panel lists the silence, and ending it brings the banner back', async () => {
    const { fetch, dialog, root } = await page({
      routes: {
        [LOAD]: [200, { active: [firing('a'), firing('b', { rule: 'memory', level: 'critical' })], alerts: [], silences: [] }],
        'POST api/monitoring/silences': (req) => [
          201,
          { silence: { silence_id: 's1', matchers: req.body.matchers, starts_at: iso(T0), ends_at: req.body.until, by: req.body.by, comment: '' }, matches: 1, alert_ids: ['a'] },
        ],
        'DELETE api/monitoring/silences/s1?by=ann': [200, { silence: { silence_id: 's1' } }],
      },
    });
    root.querySelector('[data-alert-id=a] .alert-silence').click();
    dialog.duration.value = '240';
    await dialog.submit(new Event('submit', { cancelable: true }));
    const sent = fetch.requests.at(-1);
    assert.deepEqual(sent.body, { by: 'ann', matchers: { source: 'livewatch', rule: 'cpu', node: 'web-1' }, until: new Date(T0 + 4 * 3_600_000).toISOString() });
    assert.equal(root.querySelector('[data-alert-id=a]'), null, 'no banner while silenced');
    assert.notEqual(root.querySelector('[data-alert-id=b]'), null);
    const doc = dom.doc;
    assert.notEqual(doc.querySelector('#alerts-silenced [data-alert-id=a]'), null);
    const item = doc.querySelector('#alerts-silences [data-silence-id=s1]');
    assert.match(item.textContent, /source=livewatch rule=cpu node=web-1/);
    assert.match(item.textContent, /by ann, 1 alert/);
    const end = item.querySelector('.alerts-end');
    assert.equal(end.getAttribute('aria-label'), 'End the silence of source=livewatch rule=cpu node=web-1');
    end.focus();
    end.click();
    await flush();
    assert.equal(fetch.requests.at(-1).method, 'DELETE');
    assert.equal(doc.querySelector('#alerts-silences [data-silence-id=s1]'), null);
    assert.notEqual(root.querySelector('[data-alert-id=a]'), null, 'the banner is back');
    assert.equal(doc.activeElement, doc.querySelector('#alerts-silences-title'), 'focus stays in the panel');
  });

  test('in token mode there is no name to give, and the token goes along', async () => {
    const { fetch, dialog, root } = await page({
      auth: 'token',
      token: 'T0K',
      routes: {
        [LOAD]: [200, { active: [firing('a')], alerts: [], silences: [] }],
        'POST api/monitoring/alerts/a/ack': [200, firing('a', { acknowledged: acked('tok') })],
      },
    });
    assert.equal(dialog.nameField.hidden, true);
    root.querySelector('.alert-ack').click();
    await dialog.submit(new Event('submit', { cancelable: true }));
    const sent = fetch.requests.at(-1);
    assert.deepEqual(sent.body, {});
    assert.equal(sent.headers.Authorization, 'Bearer T0K');
    assert.match(root.querySelector('.alert-ack-note').textContent, /acknowledged by tok/);
  });

  test('a Prometheus alert names its source and links to it, over http(s) only', async () => {
    const prom = (id, url) =>
      firing(id, {
        source: 'alertmanager',
        rule: 'ApiDown',
        metric: '',
        value: null,
        threshold: null,
        labels: { alertname: 'ApiDown', job: 'api' },
        annotations: { summary: 'API down', description: 'no scrape for 2m' },
        message: 'API down',
        generator_url: url,
      });
    const { root } = await page({
      routes: { [LOAD]: [200, { active: [prom('p1', 'http://prom.test:9090/graph?g0.expr=up'), prom('p2', 'javascript:alert(1)')], alerts: [], silences: [] }] },
    });
    const one = root.querySelector('[data-alert-id=p1]');
    assert.equal(one.getAttribute('data-source'), 'alertmanager');
    assert.equal(one.querySelector('.alert-source').textContent, 'Prometheus');
    assert.equal(one.querySelector('.alert-detail').textContent, 'no scrape for 2m');
    const link = one.querySelector('.alert-link');
    assert.equal(link.getAttribute('href'), 'http://prom.test:9090/graph?g0.expr=up');
    assert.equal(link.getAttribute('rel'), 'noopener noreferrer');
    const two = root.querySelector('[data-alert-id=p2] .alert-link');
    assert.equal(two.hasAttribute('href'), false);
    assert.equal(two.hidden, true);
  });

  test('the panel lists firing, acknowledged, silenced and resolved alerts with source, duration and who acked', async () => {
    const resolved = {
      ...firing('r', { rule: 'disk', message: 'Disk back to normal' }),
      state: 'resolved',
      started_at: iso(T0 - 600_000),
      timestamp: iso(T0 - 300_000),
      acknowledged: acked('dee'),
    };
    const { panel } = await page({
      routes: {
        [LOAD]: [
          200,
          {
            active: [firing('a'), firing('k', { acknowledged: acked('kim') }), firing('s', { silenced_by: ['s1'] })],
            alerts: [resolved],
            silences: [{ silence_id: 's1', matchers: { rule: 'cpu' }, starts_at: iso(T0), ends_at: iso(T0 + 3_600_000), by: 'ann', comment: 'deploy' }],
          },
        ],
      },
    });
    const text = (sel) => panel.root.querySelector(sel).textContent;
    const ids = (list) => panel.root.querySelectorAll(`#alerts-${list} [data-alert-id]`).map((li) => li.getAttribute('data-alert-id'));
    assert.deepEqual(ids('firing'), ['a']);
    assert.deepEqual(ids('acknowledged'), ['k']);
    assert.deepEqual(ids('silenced'), ['s']);
    assert.deepEqual(ids('resolved'), ['r']);
    assert.match(text('#alerts-firing [data-alert-id=a]'), /WARNING/);
    assert.match(text('#alerts-firing [data-alert-id=a]'), /livewatch/);
    assert.match(text('#alerts-firing [data-alert-id=a]'), /for 2 min/);
    assert.match(text('#alerts-acknowledged [data-alert-id=k]'), /acknowledged by kim/);
    assert.match(text('#alerts-silenced [data-alert-id=s]'), /silenced/);
    assert.match(text('#alerts-resolved [data-alert-id=r]'), /after 5 min/);
    assert.match(text('#alerts-resolved [data-alert-id=r]'), /acknowledged by dee/);
    assert.match(text('#alerts-silences [data-silence-id=s1]'), /by ann, 1 alert, deploy/);
    assert.equal(text('.alerts-summary'), '3 firing, 1 acknowledged, 1 silenced');

    send('global', 'system.alert_resolved', { ...firing('a'), state: 'resolved' });
    assert.deepEqual(ids('firing'), []);
    assert.deepEqual(ids('resolved'), ['a', 'r']);
    assert.equal(panel.root.querySelector('#alerts-firing').parentNode.querySelector('.alerts-empty').hidden, false);
  });
});
