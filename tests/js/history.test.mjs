// The history endpoint client: URL, token header, and what it makes of the answer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { HISTORY_LIMIT, historyUrl, loadHistory } from '../../static/js/history.js';

function fakeFetch(status, body) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    return { ok: status >= 200 && status < 300, status, json: async () => structuredClone(body) };
  };
  fn.calls = calls;
  return fn;
}

const answer = (overrides = {}) => ({
  channel: 'business:acme',
  seq: 42,
  epoch: 'Qm3x9aZk',
  complete: true,
  events: [
    { channel: 'business:acme', seq: 42, event: 'task.started', data: { title: 'b' }, timestamp: '2026-11-27T10:00:02.000Z' },
    { channel: 'business:acme', seq: 41, event: 'task.started', data: { title: 'a' }, timestamp: '2026-11-27T10:00:01.000Z' },
  ],
  ...overrides,
});

describe('historyUrl', () => {
  test('relative, the channel encoded as one path segment, the latest 50 by default', () => {
    assert.equal(HISTORY_LIMIT, 50);
    assert.equal(historyUrl('global'), 'api/channels/global/history?limit=50');
    assert.equal(historyUrl('business:a@b.c', 10), 'api/channels/business%3Aa%40b.c/history?limit=10');
  });
});

describe('loadHistory', () => {
  test('answers the position and the events as event frames, oldest first', async () => {
    const fetch = fakeFetch(200, answer());
    const history = await loadHistory('business:acme', { fetch });
    assert.equal(fetch.calls[0].url, 'api/channels/business%3Aacme/history?limit=50');
    assert.equal(fetch.calls[0].init.headers.Authorization, undefined);
    assert.equal(history.seq, 42);
    assert.equal(history.epoch, 'Qm3x9aZk');
    assert.equal(history.complete, true);
    assert.deepEqual(history.events.map((e) => [e.type, e.channel, e.seq]), [
      ['event', 'business:acme', 41],
      ['event', 'business:acme', 42],
    ]);
  });

  test('sends the token as a bearer token and asks for the limit given', async () => {
    const fetch = fakeFetch(200, answer({ complete: false, events: [] }));
    const history = await loadHistory('user:5', { fetch, token: 'tok.en', limit: 20 });
    assert.equal(fetch.calls[0].url, 'api/channels/user%3A5/history?limit=20');
    assert.equal(fetch.calls[0].init.headers.Authorization, 'Bearer tok.en');
    assert.equal(history.complete, false);
    assert.deepEqual(history.events, []);
  });

  test('odd events are left out; the channel is the one asked for', async () => {
    const events = [null, 'x', { seq: '3', event: 'a.b' }, { seq: 4 }, { seq: 5, event: 'task.failed', channel: 'other', data: {} }];
    const history = await loadHistory('global', { fetch: fakeFetch(200, answer({ events })) });
    assert.deepEqual(history.events, [{ seq: 5, event: 'task.failed', channel: 'global', type: 'event', data: {} }]);
  });

  test('an HTTP error or an answer without a position throws', async () => {
    await assert.rejects(loadHistory('global', { fetch: fakeFetch(403, { error: 'no' }) }), /HTTP 403/);
    for (const bad of [null, [], { seq: 1 }, { epoch: 'e' }, { seq: -1, epoch: 'e' }, { seq: 1, epoch: '' }, { seq: 1.5, epoch: 'e' }]) {
      await assert.rejects(loadHistory('global', { fetch: fakeFetch(200, bad) }), /no seq and epoch/, JSON.stringify(bad));
    }
  });
});
