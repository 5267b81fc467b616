// The monitor widgets on a fake DOM, fed by a real LiveSocket over a fake
// WebSocket: per-core strip, top processes, cluster nodes, and the page's own
// node keeping other nodes' samples off the gauges and charts.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { OwnNode } from '../../static/js/model/own-node.js';
import { CHARTS, HistoryCharts } from '../../static/js/widgets/charts.js';
import { ClusterNodes, FALLBACK_POLL_MS, NODES_URL } from '../../static/js/widgets/cluster-nodes.js';
import { CpuCores, DENSE_AFTER, coresOf } from '../../static/js/widgets/cpu-cores.js';
import { SystemStatus } from '../../static/js/widgets/system-status.js';
import { TopProcesses } from '../../static/js/widgets/top-processes.js';
import { FakeClock, FakeWebSocket } from './fakes.mjs';
import { flush, openSocket } from './open-socket.mjs';
import { installDom } from './fake-dom.mjs';
import { PAGE_CONFIG } from './page-config.mjs';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const HISTORY = 'api/monitoring/metrics/history?seconds=900';

function sample(overrides = {}, t = T0) {
  return {
    cpu_percent: 12.5,
    cpu_percent_per_core: [10, 80, 95.5],
    memory_percent: 40,
    disk_percent: 50,
    load_1: 0.5,
    load_5: 0.25,
    load_15: 0.125,
    net_recv_bytes_per_second: 2048,
    net_sent_bytes_per_second: 1024,
    disk_read_bytes_per_second: 0,
    disk_write_bytes_per_second: 4096,
    active_connections: 2,
    node: 'a',
    timestamp: iso(t),
    ...overrides,
  };
}

function fakeFetch(routes) {
  const calls = [];
  const fn = async (url) => {
    calls.push(url);
    const route = routes[url];
    if (!route) return { ok: false, status: 404, json: async () => ({}) };
    const [status, body] = typeof route === 'function' ? route() : route;
    return { ok: status >= 200 && status < 300, status, json: async () => structuredClone(body) };
  };
  fn.calls = calls;
  return fn;
}

let dom;
let clock;
let socket;
let ws;
let seq;
let widgets;

function send(event, data) {
  seq += 1;
  ws.receive({ type: 'event', channel: 'system', seq, event, data, timestamp: iso(clock.time) });
}

function greet(node) {
  ws.receive({ type: 'connected', connection_id: 'c', node, epoch: 'e', channels: [], auto_subscribed: false, timestamp: iso(clock.time) });
}

function mount(id) {
  const el = dom.doc.createElement('section');
  el.setAttribute('id', id);
  dom.doc.body.append(el);
  return el;
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
  seq = 0;
  widgets = [];
});

afterEach(() => {
  for (const w of widgets) w.destroy();
  socket.close();
  dom.restore();
});

describe('CpuCores', () => {
  test('one cell per core, filled to its share, levelled by the CPU thresholds, said in words', () => {
    const root = mount('cpu-cores');
    const cores = new CpuCores(root, { config: PAGE_CONFIG });
    assert.equal(root.querySelectorAll('.core').length, 0);
    assert.equal(root.querySelector('.cores-empty').hidden, false);
    cores.apply(sample());
    const cells = root.querySelectorAll('.core');
    assert.equal(cells.length, 3);
    assert.deepEqual(cells.map((c) => c.getAttribute('data-level')), ['ok', 'warning', 'critical']);
    assert.equal(cells[1].querySelector('.core-fill').style.height, '80%');
    assert.equal(cells[2].querySelector('.core-value').textContent, '96');
    assert.equal(cells[2].querySelector('.sr-only').textContent, 'Core 2: 95.5%, critical');
    assert.equal(cells[0].getAttribute('title'), 'Core 0: 10.0%');
    assert.equal(root.querySelector('#cpu-cores-count').textContent, '3 cores');
    assert.equal(root.querySelector('.cores-empty').hidden, true);

    cores.apply(sample({ cpu_percent_per_core: [50] }));
    assert.equal(root.querySelectorAll('.core').length, 1, 'cells follow the count');
    assert.equal(root.querySelector('#cpu-cores-count').textContent, '1 core');
    cores.apply({ cpu_percent: 3 }); // no per-core list: nothing changes
    assert.equal(root.querySelectorAll('.core').length, 1);
  });

  test('many cores: numbers give way, cells stay', () => {
    const root = mount('cpu-cores');
    const cores = new CpuCores(root, { config: {} });
    cores.apply(sample({ cpu_percent_per_core: Array(DENSE_AFTER + 1).fill(1) }));
    assert.equal(root.querySelector('.cores').getAttribute('data-dense'), 'true');
    assert.equal(root.querySelectorAll('.core').length, DENSE_AFTER + 1);
    assert.deepEqual(coresOf({ cpu_percent_per_core: [1, 'x', null] }), [1, null, null]);
    assert.equal(coresOf({}), null);
  });
});

describe('TopProcesses', () => {
  const top = {
    by_cpu: [
      { pid: 11, name: 'busy', cpu_percent: 150.25, memory_percent: 1, rss_bytes: 1024 ** 2 },
      { pid: 12, name: '<b>x</b>', cpu_percent: 5, memory_percent: 2, rss_bytes: 2048 },
    ],
    by_memory: [{ pid: 21, name: 'big', cpu_percent: 0, memory_percent: 30.5, rss_bytes: 5 * 1024 ** 3 }],
  };

  test('ten rows from the start; a sample fills them by CPU; the switch shows them by memory', () => {
    const root = mount('top-processes');
    const table = new TopProcesses(root);
    const rows = () => root.querySelectorAll('tbody tr');
    assert.equal(rows().length, 10, 'laid out before any data');
    assert.equal(root.querySelectorAll('tbody tr[data-empty]').length, 10);
    assert.match(root.querySelector('.table-note').textContent, /Waiting/);

    table.apply(sample({ top_processes: top }));
    assert.equal(rows().length, 10);
    assert.deepEqual(rows()[0].querySelectorAll('td').map((td) => td.textContent), ['11', 'busy', '150.3%', '1.0%', '1.0 MiB']);
    assert.equal(rows()[1].querySelectorAll('td')[1].textContent, '<b>x</b>', 'a name is text, never markup');
    assert.equal(rows()[1].querySelector('b'), null);
    assert.equal(root.querySelectorAll('tbody tr[data-empty]').length, 8);
    const byCpu = root.querySelector('[data-order=by_cpu]');
    const byMemory = root.querySelector('[data-order=by_memory]');
    assert.equal(byCpu.getAttribute('aria-pressed'), 'true');
    assert.equal(root.querySelectorAll('th')[2].getAttribute('aria-sort'), 'descending');

    byMemory.click();
    assert.equal(byMemory.getAttribute('aria-pressed'), 'true');
    assert.equal(byCpu.getAttribute('aria-pressed'), 'false');
    assert.equal(root.querySelector('table').getAttribute('data-order'), 'by_memory');
    assert.equal(root.querySelectorAll('th')[3].getAttribute('aria-sort'), 'descending');
    assert.equal(root.querySelectorAll('th')[2].getAttribute('aria-sort'), null);
    assert.deepEqual(rows()[0].querySelectorAll('td').map((td) => td.textContent), ['21', 'big', '0.0%', '30.5%', '5.0 GiB']);
    assert.equal(rows()[0].getAttribute('data-pid'), '21');
    assert.equal(rows()[1].getAttribute('data-empty'), 'true');
    assert.match(root.querySelector('caption').textContent, /resident memory/);

    table.apply(sample()); // a sample without the list (as the history's) keeps the last one
    assert.equal(rows()[0].getAttribute('data-pid'), '21');
  });
});

describe('ClusterNodes', () => {
  const rec = (node, extra = {}) => ({ node, address: `http://${node}`, version: '0.1.0', epoch: 'e', connections: 1, started_at: 0, heartbeat_at: 0, sample: sample({ node }), age_seconds: 0.5, state: 'up', ...extra });

  test('one node is one row with its figures; polls at the heartbeat pace and on a reconnect', async () => {
    let answer = { nodes: [rec('a')] };
    const fetch = fakeFetch({ [NODES_URL]: () => [200, answer] });
    const root = mount('cluster');
    const ownNode = new OwnNode(socket);
    await started(new ClusterNodes(root, { socket, config: PAGE_CONFIG, fetch, ownNode, now: clock.now, timers: clock.timerFns }));
    greet('a');
    assert.deepEqual(fetch.calls, [NODES_URL], 'the first connect polls nothing more');
    const rows = () => root.querySelectorAll('tbody tr');
    assert.equal(rows().length, 1);
    const row = rows()[0];
    assert.equal(row.getAttribute('data-node'), 'a');
    assert.equal(row.getAttribute('data-own'), 'true');
    assert.equal(row.getAttribute('data-state'), 'up');
    assert.deepEqual(row.querySelectorAll('td').map((td) => td.textContent), ['Up', '12.5%', '40.0%', '1', '1 s ago'], 'connections from the heartbeat record');
    assert.match(row.querySelector('th').textContent, /^a \(this page\)$/);
    assert.equal(root.querySelector('#cluster-summary').textContent, '1 node');

    answer = { nodes: [rec('a'), rec('b', { state: 'lapsed', age_seconds: 16 })] };
    clock.advance(PAGE_CONFIG.cluster_heartbeat * 1000);
    await flush();
    assert.equal(fetch.calls.length, 2, 'polled once a heartbeat');
    assert.equal(rows().length, 2);
    const lapsed = root.querySelector('tr[data-node=b]');
    assert.equal(lapsed.getAttribute('data-state'), 'lapsed');
    assert.equal(lapsed.querySelector('.node-state').textContent, 'Lapsed', 'in words, not only colour');
    assert.equal(lapsed.querySelectorAll('td')[4].textContent, '16 s ago');
    assert.equal(root.querySelector('#cluster-summary').textContent, '2 nodes, 1 lapsed');

    ws.drop();
    clock.advance(1000);
    ws = FakeWebSocket.last;
    ws.open();
    greet('a');
    await flush();
    assert.equal(fetch.calls.length, 3, 'a reconnect polls at once');
  });

  test('every node\u2019s live samples move its row; a node seen in samples only gets a row', async () => {
    const fetch = fakeFetch({ [NODES_URL]: [200, { nodes: [rec('a')] }] });
    const root = mount('cluster');
    await started(new ClusterNodes(root, { socket, config: PAGE_CONFIG, fetch, now: clock.now, timers: clock.timerFns }));
    greet('a');
    send('system.metric', sample({ node: 'a', cpu_percent: 91 }, T0 + 1000));
    send('system.metric', sample({ node: 'other', cpu_percent: 33, memory_percent: 85, active_connections: 7 }, T0 + 1000));
    const a = root.querySelector('tr[data-node=a]');
    assert.equal(a.querySelectorAll('td')[1].textContent, '91.0%');
    assert.equal(a.querySelectorAll('td')[1].getAttribute('data-level'), 'critical');
    const other = root.querySelector('tr[data-node=other]');
    assert.deepEqual(other.querySelectorAll('td').map((td) => td.textContent).slice(0, 4), ['Up', '33.0%', '85.0%', '7']);
    assert.equal(other.querySelectorAll('td')[2].getAttribute('data-level'), 'warning');
    assert.equal(other.getAttribute('data-own'), null);
    assert.deepEqual(root.querySelectorAll('tbody tr').map((r) => r.getAttribute('data-node')), ['a', 'other'], 'the page\u2019s node first');
  });

  test('a failed poll says so and keeps the rows; without a heartbeat in the config it polls every 5 s', async () => {
    let status = 200;
    const fetch = fakeFetch({ [NODES_URL]: () => [status, { nodes: [rec('a')] }] });
    const root = mount('cluster');
    await started(new ClusterNodes(root, { socket, config: {}, fetch, now: clock.now, timers: clock.timerFns }));
    status = 503;
    clock.advance(FALLBACK_POLL_MS);
    await flush();
    assert.equal(fetch.calls.length, 2);
    const error = root.querySelector('.error');
    assert.equal(error.hidden, false);
    assert.match(error.textContent, /HTTP 503/);
    assert.equal(root.querySelectorAll('tbody tr').length, 1);
  });
});

describe('the page\u2019s own node', () => {
  test('gauges, cores and processes take their own node\u2019s samples only', async () => {
    const fetch = fakeFetch({ 'api/monitoring/metrics': [200, sample()], 'api/monitoring/health': [200, { status: 'healthy', checks: {}, timestamp: iso(T0) }] });
    const seen = [];
    const root = mount('system-status');
    await started(new SystemStatus(root, { socket, config: PAGE_CONFIG, fetch, now: clock.now, onSample: (s) => seen.push(s.cpu_percent) }));
    greet('a');
    const cpu = root.querySelector('[data-gauge=cpu]');
    assert.equal(cpu.getAttribute('data-value'), '12.5');
    send('system.metric', sample({ node: 'b', cpu_percent: 99 }, T0 + 2000));
    assert.equal(cpu.getAttribute('data-value'), '12.5', 'another node\u2019s sample moves nothing');
    send('system.metric', sample({ node: 'a', cpu_percent: 20 }, T0 + 2000));
    assert.equal(cpu.getAttribute('data-value'), '20');
    assert.deepEqual(seen, [12.5, 20]);
  });

  test('health checks the server runs are laid out before the first answer', async () => {
    const root = mount('system-status');
    const status = new SystemStatus(root, { socket, config: { ...PAGE_CONFIG, health_checks: ['database', 'redis'] }, fetch: fakeFetch({}) });
    widgets.push(status);
    const checks = root.querySelectorAll('#health-checks li[data-check]');
    assert.deepEqual(checks.map((c) => c.getAttribute('data-check')), ['database', 'redis']);
    assert.equal(checks[0].getAttribute('data-status'), 'unknown');
    assert.match(checks[0].textContent, /Checking/);
  });

  test('charts: every chart draws from the history and from live samples of the page\u2019s node only', async () => {
    const samples = [0, 2000, 4000].map((dt) => sample({}, T0 + dt));
    samples.push(sample({ node: 'b', cpu_percent: 77 }, T0 + 5000)); // served by another node: not this page's
    const fetch = fakeFetch({ [HISTORY]: [200, { interval_seconds: 2, samples }] });
    const root = mount('charts');
    const ownNode = new OwnNode(socket);
    greet('a');
    const charts = await started(new HistoryCharts(root, { socket, config: PAGE_CONFIG, fetch, ownNode }));
    assert.deepEqual([...charts.charts.keys()], CHARTS.map((c) => c.key));
    assert.deepEqual([...charts.charts.keys()], ['cpu', 'memory', 'disk', 'load', 'network', 'disk-io']);
    for (const key of charts.charts.keys()) assert.equal(root.querySelector(`#chart-${key}`).getAttribute('data-points'), '3', key);
    assert.equal(root.querySelectorAll('#chart-load .series-line').length, 3);
    assert.equal(root.querySelector('#chart-network .series-line[data-series=net_sent_bytes_per_second]').getAttribute('data-points'), '3');

    send('system.metric', sample({ node: 'b', cpu_percent: 99 }, T0 + 6000));
    assert.equal(root.querySelector('#chart-cpu').getAttribute('data-points'), '3', 'another node moves no chart');
    send('system.metric', sample({ node: 'a' }, T0 + 6000));
    for (const key of charts.charts.keys()) assert.equal(root.querySelector(`#chart-${key}`).getAttribute('data-points'), '4', key);
    assert.equal(charts.charts.get('cpu').points.length, 4);
  });

  test('charts: connected to another node, the last node\u2019s points go and its history loads', async () => {
    const history = { a: [sample({}, T0)], b: [sample({ node: 'b' }, T0), sample({ node: 'b' }, T0 + 2000)] };
    let serving = 'a';
    const fetch = fakeFetch({ [HISTORY]: () => [200, { interval_seconds: 2, samples: history[serving] }] });
    const root = mount('charts');
    const ownNode = new OwnNode(socket);
    await started(new HistoryCharts(root, { socket, config: PAGE_CONFIG, fetch, ownNode }));
    greet('a');
    assert.equal(root.querySelector('#chart-cpu').getAttribute('data-points'), '1');
    serving = 'b';
    ws.drop();
    clock.advance(1000);
    ws = FakeWebSocket.last;
    ws.open();
    greet('b');
    await flush();
    assert.equal(fetch.calls.length, 2);
    assert.equal(root.querySelector('#chart-cpu').getAttribute('data-points'), '2', 'b\u2019s history, none of a\u2019s points');
  });
});
