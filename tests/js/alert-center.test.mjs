// AlertCenter over a real LiveSocket on a fake WebSocket, with a scripted fetch.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { ALERTS_URL, AlertCenter, SILENCES_URL, ackURL } from '../../static/js/alert-center.js';
import { HttpError } from '../../static/js/api.js';
import { FakeClock, fakeLogger, scriptedFetch } from './fakes.mjs';
import { openSocket } from './open-socket.mjs';

const T0 = Date.parse('2026-03-01T12:00:00Z');

const alert = (id, extra = {}) => ({
  alert_id: id,
  rule: 'cpu',
  metric: 'cpu_percent',
  level: 'warning',
  state: 'firing',
  message: `${id} high`,
  value: 80,
  threshold: 75,
  timestamp: '2026-03-01T11:59:00Z',
  source: 'livewatch',
  key: 'cpu',
  node: 'web-1',
  started_at: '2026-03-01T11:58:00Z',
  labels: {},
  annotations: {},
  generator_url: '',
  acknowledged: null,
  silenced_by: [],
  ...extra,
});

let clock;
let socket;
let ws;
let seq;
let centers;

function send(event, data) {
  seq += 1;
  ws.receive({ type: 'event', channel: 'global', seq, event, data, timestamp: new Date(clock.time).toISOString() });
}

beforeEach(() => {
  clock = new FakeClock(T0);
  ({ socket, ws } = openSocket(clock, 'global'));
  seq = 0;
  centers = [];
});

afterEach(() => {
  for (const c of centers) c.destroy();
  socket.close();
});

function center(options) {
  const made = new AlertCenter({ socket, logger: fakeLogger(), ...options });
  centers.push(made);
  return made;
}

describe('AlertCenter', () => {
  test('loads once for every widget that starts it: firing, resolved and silences', async () => {
    const fetch = scriptedFetch({
      [`GET ${ALERTS_URL}`]: [
        200,
        {
          active: [alert('a')],
          alerts: [alert('old', { state: 'resolved', timestamp: '2026-03-01T11:00:00Z', acknowledged: { by: 'ann', at: 'x', comment: '', level: 'warning' } })],
          silences: [{ silence_id: 's1', matchers: { rule: 'disk' }, starts_at: '2026-03-01T11:00:00Z', ends_at: '2026-03-01T13:00:00Z', by: 'bo', comment: '', matches: 0 }],
        },
      ],
    });
    const c = center({ fetch });
    const changes = [];
    c.onChange((state, action) => changes.push(action.type));
    await Promise.all([c.start(), c.start()]);
    assert.equal(fetch.requests.length, 1);
    assert.deepEqual(changes, ['load']);
    assert.deepEqual([...c.state.active.keys()], ['a']);
    assert.equal(c.state.recent[0].acknowledged.by, 'ann');
    assert.deepEqual([...c.state.silences.keys()], ['s1']);
  });

  test('follows acknowledgements and silences live', async () => {
    const c = center({ fetch: scriptedFetch({ [`GET ${ALERTS_URL}`]: [200, { active: [], alerts: [], silences: [] }] }) });
    await c.start();
    send('system.alert', alert('a'));
    send('system.alert_acknowledged', { alert_id: 'a', acknowledged: { by: 'zoe', at: '2026-03-01T12:00:01Z', comment: 'mine', level: 'warning' }, message: 'x' });
    assert.equal(c.find('a').acknowledged.by, 'zoe');
    send('system.silence', { silence_id: 's9', matchers: { rule: 'cpu' }, ends_at: '2026-03-01T13:00:00Z', by: 'zoe', comment: '', alert_ids: ['a'] });
    assert.deepEqual(c.find('a').silenced_by, ['s9']);
    send('system.silence_ended', { silence_id: 's9', matchers: { rule: 'cpu' }, ends_at: '2026-03-01T13:00:00Z', alert_ids: ['a'] });
    assert.deepEqual(c.find('a').silenced_by, []);
    assert.equal(c.state.silences.size, 0);
    send('system.alert_resolved', alert('a', { state: 'resolved' }));
    assert.equal(c.find('a'), null);
    assert.equal(c.state.recent[0].alert_id, 'a');
    assert.equal(c.state.recent[0].acknowledged.by, 'zoe', 'who acknowledged is kept with the resolved alert');
  });

  test('in open mode the actions say who acts; the answers show at once', async () => {
    const fetch = scriptedFetch({
      [`GET ${ALERTS_URL}`]: [200, { active: [alert('a')], alerts: [], silences: [] }],
      [`POST ${ackURL('a')}`]: [200, alert('a', { acknowledged: { by: 'ann', at: 'now', comment: 'on it', level: 'warning' } })],
      [`POST ${SILENCES_URL}`]: (req) => [201, { silence: { silence_id: 'n1', ...req.body, starts_at: 'now', ends_at: req.body.until }, matches: 1, alert_ids: ['a'] }],
      [`DELETE ${SILENCES_URL}/n1?by=ann`]: [200, { silence: { silence_id: 'n1' } }],
    });
    const c = center({ fetch, token: null });
    await c.start();
    await c.acknowledge('a', { by: 'ann', comment: 'on it' });
    assert.deepEqual(fetch.requests[1].body, { by: 'ann', comment: 'on it' });
    assert.equal(fetch.requests[1].headers['Content-Type'], 'application/json');
    assert.equal(c.find('a').acknowledged.by, 'ann');

    const until = new Date(T0 + 3_600_000);
    await c.silence({ matchers: { rule: 'cpu' }, until, by: 'ann' });
    assert.deepEqual(fetch.requests[2].body, { by: 'ann', matchers: { rule: 'cpu' }, until: '2026-03-01T13:00:00.000Z' });
    assert.deepEqual(c.find('a').silenced_by, ['n1']);

    await c.endSilence('n1', { by: 'ann' });
    assert.equal(fetch.requests[3].method, 'DELETE');
    assert.deepEqual(c.find('a').silenced_by, []);
  });

  test('in token mode the token goes along and no name is sent', async () => {
    const fetch = scriptedFetch({
      [`GET ${ALERTS_URL}`]: [200, { active: [alert('a')], alerts: [], silences: [] }],
      [`POST ${ackURL('a')}`]: [200, alert('a', { acknowledged: { by: 'tok-user', at: 'now', comment: '', level: 'warning' } })],
      [`DELETE ${SILENCES_URL}/s1`]: [200, { silence: { silence_id: 's1' } }],
    });
    const c = center({ fetch, token: 'T0K', auth: 'token' });
    await c.start();
    await c.acknowledge('a', { by: 'ignored' });
    assert.deepEqual(fetch.requests[1].body, {});
    assert.equal(fetch.requests[1].headers.Authorization, 'Bearer T0K');
    await c.endSilence('s1', { by: 'ignored' });
    assert.equal(fetch.requests[2].url, `${SILENCES_URL}/s1`);
  });

  test("a refusal is an HttpError with the server's message and field", async () => {
    const fetch = scriptedFetch({
      [`GET ${ALERTS_URL}`]: [200, { active: [alert('a')], alerts: [], silences: [] }],
      [`POST ${SILENCES_URL}`]: [400, { error: "'until' is more than 30 days ahead", field: 'until' }],
    });
    const c = center({ fetch });
    await c.start();
    await assert.rejects(c.silence({ matchers: { rule: 'cpu' }, until: new Date(T0 + 40 * 86_400_000), by: 'ann' }), (err) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 400);
      assert.equal(err.field, 'until');
      assert.match(err.detail, /30 days/);
      return true;
    });
    assert.deepEqual(c.find('a').silenced_by, []);
  });

  test('alert ids are escaped into the URL', () => {
    assert.equal(ackURL('a/b c'), 'api/monitoring/alerts/a%2Fb%20c/ack');
  });
});
