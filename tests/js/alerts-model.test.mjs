import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  actionForFrame,
  emptyAlerts,
  isAcknowledged,
  matchersFor,
  matchersText,
  panelLists,
  RECENT_RESOLVED,
  reduceAlerts,
  toAlert,
  visibleAlerts,
} from '../../static/js/model/alerts.js';

let seq = 0;
function alertFrame(id, level, extra = {}) {
  seq += 1;
  return {
    type: 'event',
    channel: 'global',
    seq,
    event: 'system.alert',
    timestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    data: { alert_id: id, rule: `${id}-rule`, metric: 'cpu', level, state: 'firing', message: `${id} is ${level}`, value: 91.5, threshold: 90, details: {}, ...extra },
  };
}

function resolvedFrame(id, level = 'warning') {
  seq += 1;
  return {
    type: 'event',
    channel: 'global',
    seq,
    event: 'system.alert_resolved',
    timestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
    data: { alert_id: id, rule: 'r', metric: 'cpu', level, state: 'resolved', message: 'back to normal', value: 40, threshold: 90, details: {} },
  };
}

function run(...frames) {
  return frames.reduce((state, f) => reduceAlerts(state, actionForFrame(f)), emptyAlerts());
}

const ids = (state) => visibleAlerts(state).map((a) => `${a.alert_id}/${a.level}`);

describe('alert reducer', () => {
  test('a firing alert creates a banner entry', () => {
    const state = run(alertFrame('cpu-high', 'warning'));
    assert.deepEqual(ids(state), ['cpu-high/warning']);
    const [a] = visibleAlerts(state);
    assert.equal(a.message, 'cpu-high is warning');
    assert.equal(a.value, 91.5);
    assert.equal(a.threshold, 90);
  });

  test('the same alert_id updates in place (one entry, new level)', () => {
    const state = run(alertFrame('cpu-high', 'warning'), alertFrame('cpu-high', 'critical', { message: 'CPU very high' }));
    assert.equal(state.active.size, 1);
    assert.deepEqual(ids(state), ['cpu-high/critical']);
    assert.equal(visibleAlerts(state)[0].message, 'CPU very high');
  });

  test('alert_resolved removes only that alert', () => {
    const state = run(alertFrame('a', 'warning'), alertFrame('b', 'critical'), resolvedFrame('a'));
    assert.deepEqual(ids(state), ['b/critical']);
  });

  test('levels other than warning/critical make no banner', () => {
    const state = run(alertFrame('x', 'info'));
    assert.deepEqual(ids(state), []);
  });

  test('other events and events without alert_id are not alert actions', () => {
    assert.equal(actionForFrame({ type: 'event', event: 'task.started', data: { alert_id: 'a' } }), null);
    assert.equal(actionForFrame({ type: 'event', event: 'system.alert', data: { level: 'critical' } }), null);
    assert.equal(actionForFrame({ type: 'pong' }), null);
  });

  test('critical banners come first, then in the order first seen', () => {
    const state = run(alertFrame('w1', 'warning'), alertFrame('c1', 'critical'), alertFrame('w2', 'warning'), alertFrame('c2', 'critical'));
    assert.deepEqual(ids(state), ['c1/critical', 'c2/critical', 'w1/warning', 'w2/warning']);
  });

  test('dismiss hides the banner; an escalation shows it again, the same level does not', () => {
    let state = run(alertFrame('m', 'warning'));
    state = reduceAlerts(state, { type: 'dismiss', alert_id: 'm' });
    assert.deepEqual(ids(state), []);
    state = reduceAlerts(state, actionForFrame(alertFrame('m', 'warning')));
    assert.deepEqual(ids(state), []);
    state = reduceAlerts(state, actionForFrame(alertFrame('m', 'critical')));
    assert.deepEqual(ids(state), ['m/critical']);
  });

  const record = (id, level, message, timestamp = '2026-01-01T00:00:00Z') => ({
    alert_id: id, rule: 'r', metric: 'memory', level, state: 'firing', message, value: 85, threshold: 80, timestamp,
  });

  test('load: live events that came after the request win over its answer', () => {
    const since = emptyAlerts().rev; // the request went out before any event
    let state = run(alertFrame('live', 'critical'), resolvedFrame('gone'));
    state = reduceAlerts(state, {
      type: 'load',
      since,
      records: [record('gone', 'warning', 'old news'), record('live', 'warning', 'stale'), record('mem', 'warning', 'memory high'), { ...record('old', 'warning', 'x'), state: 'resolved' }],
    });
    assert.deepEqual(ids(state), ['live/critical', 'mem/warning']);
    assert.equal(state.active.get('live').message, 'live is critical');
    assert.equal(state.active.get('mem').message, 'memory high');
  });

  test('load removes alerts that were resolved while we were not listening', () => {
    let state = run(alertFrame('a', 'warning'), alertFrame('b', 'critical'));
    state = reduceAlerts(state, { type: 'dismiss', alert_id: 'a' });
    state = reduceAlerts(state, { type: 'load', since: state.rev, records: [record('b', 'critical', 'still on')] });
    assert.deepEqual([...state.active.keys()], ['b']);
    assert.equal(state.dismissed.size, 0);
    assert.equal(state.active.get('b').message, 'still on');
  });

  test('load shows an alert that fired again after we saw it resolved', () => {
    let state = run(alertFrame('x', 'warning'), resolvedFrame('x'));
    state = reduceAlerts(state, { type: 'load', since: state.rev, records: [record('x', 'critical', 'back again')] });
    assert.deepEqual(ids(state), ['x/critical']);
  });

  test('unchanged state is returned as is', () => {
    const state = run(alertFrame('a', 'warning'));
    assert.equal(reduceAlerts(state, { type: 'dismiss', alert_id: 'nope' }), state);
    assert.equal(reduceAlerts(state, { type: 'bogus' }), state);
  });
});

describe('acknowledgements, silences and the panel lists', () => {
  const ack = (by, level = 'warning') => ({ by, at: '2026-01-01T00:00:00Z', comment: '', level });
  const silence = (id, extra = {}) => ({ silence_id: id, matchers: { rule: 'r' }, starts_at: '2026-01-01T00:00:00Z', ends_at: '2026-01-01T01:00:00Z', by: 'ann', comment: '', ...extra });

  test('an acknowledgement holds at its level; a rise above it shows the alert as open again', () => {
    let state = run(alertFrame('a', 'warning'));
    state = reduceAlerts(state, { type: 'acknowledge', alert_id: 'a', acknowledged: ack('ann') });
    assert.deepEqual(panelLists(state).acknowledged.map((x) => x.alert_id), ['a']);
    assert.equal(isAcknowledged(state.active.get('a')), true);
    state = reduceAlerts(state, actionForFrame(alertFrame('a', 'critical', { acknowledged: ack('ann') })));
    assert.equal(isAcknowledged(state.active.get('a')), false);
    assert.deepEqual(panelLists(state).firing.map((x) => x.alert_id), ['a']);
  });

  test('acknowledging an alert that is not firing changes nothing', () => {
    const state = run(alertFrame('a', 'warning'));
    assert.equal(reduceAlerts(state, { type: 'acknowledge', alert_id: 'nope', acknowledged: ack('x') }), state);
  });

  test('a silence hides the banners of the alerts it covers until it ends', () => {
    let state = run(alertFrame('a', 'warning'), alertFrame('b', 'critical'));
    state = reduceAlerts(state, { type: 'silence', silence: silence('s1'), alert_ids: ['a'] });
    assert.deepEqual(ids(state), ['b/critical']);
    assert.deepEqual(panelLists(state).silenced.map((x) => x.alert_id), ['a']);
    assert.deepEqual(panelLists(state).silences.map((s) => s.silence_id), ['s1']);
    // An alert that fires while silenced comes with the silence from the server.
    state = reduceAlerts(state, actionForFrame(alertFrame('c', 'warning', { silenced_by: ['s1'] })));
    assert.deepEqual(ids(state), ['b/critical']);
    state = reduceAlerts(state, actionForFrame({ type: 'event', event: 'system.silence_ended', data: { silence_id: 's1', alert_ids: ['a', 'c'] } }));
    assert.deepEqual(ids(state), ['b/critical', 'a/warning', 'c/warning']);
    assert.equal(state.silences.size, 0);
  });

  test('an alert under two silences shows again only when both have ended', () => {
    let state = run(alertFrame('a', 'warning'));
    state = reduceAlerts(state, { type: 'silence', silence: silence('s1'), alert_ids: ['a'] });
    state = reduceAlerts(state, { type: 'silence', silence: silence('s2'), alert_ids: ['a'] });
    state = reduceAlerts(state, { type: 'unsilence', silence_id: 's1' });
    assert.deepEqual(ids(state), []);
    state = reduceAlerts(state, { type: 'unsilence', silence_id: 's2' });
    assert.deepEqual(ids(state), ['a/warning']);
  });

  test('resolved alerts are listed newest first, at most 50, with who acknowledged them', () => {
    let state = run(alertFrame('a', 'warning'));
    state = reduceAlerts(state, { type: 'acknowledge', alert_id: 'a', acknowledged: ack('ann') });
    state = reduceAlerts(state, actionForFrame(resolvedFrame('a')));
    assert.equal(panelLists(state).resolved[0].acknowledged.by, 'ann');
    for (let i = 0; i < 60; i += 1) state = reduceAlerts(state, actionForFrame(resolvedFrame(`r${i}`)));
    const resolved = panelLists(state).resolved;
    assert.equal(resolved.length, RECENT_RESOLVED);
    assert.equal(resolved[0].alert_id, 'r59');
  });

  test('load: silences and resolved alerts that changed live after the request win', () => {
    let state = emptyAlerts();
    const since = state.rev;
    state = reduceAlerts(state, { type: 'silence', silence: silence('live'), alert_ids: [] });
    state = reduceAlerts(state, { type: 'silence', silence: silence('gone'), alert_ids: [] });
    state = reduceAlerts(state, { type: 'unsilence', silence_id: 'gone' });
    state = reduceAlerts(state, actionForFrame(resolvedFrame('fresh')));
    state = reduceAlerts(state, {
      type: 'load',
      since,
      records: [],
      recent: [{ alert_id: 'older', rule: 'r', level: 'warning', state: 'resolved', message: 'x', timestamp: '2000-01-01T00:00:00Z' }],
      silences: [silence('gone'), silence('listed')],
    });
    assert.deepEqual([...state.silences.keys()].sort(), ['listed', 'live']);
    assert.deepEqual(state.recent.map((a) => a.alert_id), ['fresh', 'older']);
    // A later load is the truth again: `live` was ended meanwhile, without us seeing it.
    state = reduceAlerts(state, { type: 'load', since: state.rev, records: [], recent: [], silences: [silence('listed')] });
    assert.deepEqual([...state.silences.keys()], ['listed']);
  });

  test('the matchers that silence one alert: its own fields, or all of Prometheus labels', () => {
    const own = toAlert({ alert_id: 'x', rule: 'cpu', level: 'warning', source: 'livewatch', node: 'web-1' });
    assert.deepEqual(matchersFor(own), { source: 'livewatch', rule: 'cpu', node: 'web-1' });
    const prom = toAlert({ alert_id: 'y', rule: 'Up', level: 'critical', source: 'alertmanager', labels: { alertname: 'Up', job: 'api' } });
    assert.deepEqual(matchersFor(prom), { source: 'alertmanager', alertname: 'Up', job: 'api' });
    assert.equal(matchersText(matchersFor(own)), 'source=livewatch rule=cpu node=web-1');
  });

  test('acknowledgement and silence frames map to actions; malformed ones do not', () => {
    const frame = (event, data) => ({ type: 'event', event, data });
    assert.equal(actionForFrame(frame('system.alert_acknowledged', { acknowledged: ack('x') })), null);
    assert.equal(actionForFrame(frame('system.silence', { matchers: {} })), null);
    assert.equal(actionForFrame(frame('system.silence_ended', null)), null);
    assert.deepEqual(actionForFrame(frame('system.silence_ended', { silence_id: 's' })), { type: 'unsilence', silence_id: 's' });
  });
});
