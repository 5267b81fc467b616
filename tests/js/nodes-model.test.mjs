import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FORGET_AFTER, LAPSE_AFTER, NodesModel } from '../../static/js/model/nodes.js';

const BEAT = 5000;
const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms) => new Date(ms).toISOString();

function sample(node, t, extra = {}) {
  return { node, cpu_percent: 10, memory_percent: 20, active_connections: 3, timestamp: iso(t), ...extra };
}

function record(node, extra = {}) {
  return { node, address: `http://${node}:8080`, version: '0.1.0', epoch: 'e', connections: 4, started_at: 0, heartbeat_at: 0, sample: null, age_seconds: 1, state: 'up', ...extra };
}

describe('NodesModel', () => {
  test('one node from the endpoint is one row, with its sample\u2019s figures and its connections', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    model.load({ nodes: [record('a', { sample: sample('a', T0, { cpu_percent: 42 }) })] }, T0);
    const rows = model.rows(T0, 'a');
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], {
      name: 'a',
      own: true,
      state: 'up',
      cpu: 42,
      memory: 20,
      connections: 4,
      heardAt: T0 - 1000,
      address: 'http://a:8080',
      version: '0.1.0',
    });
  });

  test('live samples update a node and bring in one the endpoint does not list; the own node comes first', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    model.load({ nodes: [record('b')] }, T0);
    assert.equal(model.sample(sample('b', T0 + 1000, { cpu_percent: 77, active_connections: 9 }), T0 + 1000), true);
    assert.equal(model.sample(sample('a', T0 + 1000), T0 + 1000), true);
    assert.equal(model.sample(sample('b', T0, { cpu_percent: 1 }), T0 + 1100), false, 'older than what it has');
    for (const bad of [null, {}, { node: '' }, { node: 3 }]) assert.equal(model.sample(bad, T0), false);
    const rows = model.rows(T0 + 1200, 'b');
    assert.deepEqual(rows.map((r) => [r.name, r.own, r.state, r.cpu, r.connections]), [
      ['b', true, 'up', 77, 9],
      ['a', false, 'up', 10, 3],
    ]);
    assert.deepEqual(model.rows(T0 + 1200, null).map((r) => r.name), ['a', 'b'], 'by name without an own node');
  });

  test('the endpoint\u2019s lapsed state shows, until a live sample comes after it', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    model.load({ nodes: [record('a'), record('b', { state: 'lapsed', age_seconds: 20 })] }, T0);
    let rows = model.rows(T0, 'a');
    assert.deepEqual(rows.map((r) => r.state), ['up', 'lapsed']);
    assert.equal(rows[1].heardAt, T0 - 20_000);
    model.sample(sample('b', T0 + 500), T0 + 500);
    rows = model.rows(T0 + 500, 'a');
    assert.equal(rows[1].state, 'up', 'it is publishing again');
    model.load({ nodes: [record('a'), record('b', { state: 'lapsed', age_seconds: 25 })] }, T0 + 5000);
    assert.equal(model.rows(T0 + 5000, 'a')[1].state, 'lapsed');
  });

  test('a node known from samples only lapses after three silent heartbeats and goes after six', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    model.sample(sample('x', T0), T0);
    assert.equal(model.rows(T0 + LAPSE_AFTER * BEAT, null)[0].state, 'up');
    assert.equal(model.rows(T0 + LAPSE_AFTER * BEAT + 1, null)[0].state, 'lapsed');
    assert.equal(model.rows(T0 + FORGET_AFTER * BEAT, null).length, 1);
    assert.deepEqual(model.rows(T0 + FORGET_AFTER * BEAT + 1, null), []);
  });

  test('a node the endpoint stops listing goes, unless heard from lately', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    model.load({ nodes: [record('a'), record('b'), record('c')] }, T0);
    model.sample(sample('c', T0 + 1000), T0 + 1000);
    model.load({ nodes: [record('a')] }, T0 + 5000);
    assert.deepEqual(model.rows(T0 + 5000, 'a').map((r) => [r.name, r.state]), [
      ['a', 'up'],
      ['c', 'up'],
    ]);
    model.load({ nodes: [record('a')] }, T0 + 30_000);
    assert.deepEqual(model.rows(T0 + 30_000, 'a').map((r) => r.name), ['a']);
  });

  test('a bad answer leaves no rows and breaks nothing', () => {
    const model = new NodesModel({ heartbeatMs: BEAT });
    for (const bad of [null, {}, { nodes: 'x' }, { nodes: [null, { node: 5 }, { node: '' }] }]) model.load(bad, T0);
    assert.deepEqual(model.rows(T0, null), []);
    model.load({ nodes: [{ node: 'bare' }] }, T0);
    assert.deepEqual(model.rows(T0, null)[0], { name: 'bare', own: false, state: 'up', cpu: null, memory: null, connections: null, heardAt: T0, address: null, version: null });
  });
});
