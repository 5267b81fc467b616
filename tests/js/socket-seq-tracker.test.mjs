import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SeqTracker } from '../../static/js/socket/seq-tracker.js';

describe('SeqTracker: dedupe', () => {
  test('accepts rising seqs and drops a repeated or older one', () => {
    const t = new SeqTracker();
    assert.deepEqual([1, 2, 2, 1, 3].map((s) => t.accept('global', s)), [true, true, false, false, true]);
    assert.equal(t.last('global'), 3);
  });

  test('gaps are accepted: the tracker dedupes, it does not reorder', () => {
    const t = new SeqTracker();
    assert.equal(t.accept('global', 5), true);
    assert.equal(t.accept('global', 9), true);
    assert.equal(t.accept('global', 7), false);
  });

  test('seqs are per channel', () => {
    const t = new SeqTracker();
    assert.deepEqual(
      [['global', 5], ['system', 1], ['system', 2], ['global', 5]].map(([c, s]) => t.accept(c, s)),
      [true, true, true, false],
    );
    assert.deepEqual(t.channels.sort(), ['global', 'system']);
    assert.equal(t.last('nope'), undefined);
  });
});

describe('SeqTracker: subscribed', () => {
  test('sets the starting seq of a new channel', () => {
    const t = new SeqTracker();
    assert.equal(t.subscribed('system', 41), null);
    assert.equal(t.accept('system', 41), false);
    assert.equal(t.accept('system', 42), true);
  });

  test('moves forward but never backwards', () => {
    const t = new SeqTracker();
    for (const s of [1, 2, 3, 4, 5]) t.accept('system', s);
    assert.equal(t.subscribed('system', 2), null);
    assert.equal(t.last('system'), 5);
    assert.equal(t.subscribed('system', 8), null);
    assert.equal(t.last('system'), 8);
  });

  test('on a new connection, a first answer below the last seq is a restart', () => {
    const t = new SeqTracker();
    t.newConnection();
    t.expect('system');
    assert.equal(t.subscribed('system', 0), null, 'a first subscription is no reset');
    for (let s = 1; s <= 50; s += 1) t.accept('system', s);
    t.newConnection();
    t.expect('system');
    assert.deepEqual(t.subscribed('system', 0), { channel: 'system', reason: 'restart', from: 50, to: 0 });
    assert.equal(t.last('system'), 0);
    assert.equal(t.accept('system', 1), true);
    assert.equal(t.accept('system', 1), false);
  });

  test('only the first answer on a connection counts as a baseline', () => {
    const t = new SeqTracker();
    for (let s = 1; s <= 10; s += 1) t.accept('system', s);
    t.newConnection();
    t.expect('system');
    assert.equal(t.isExpected('system'), true);
    assert.equal(t.subscribed('system', 10), null);
    assert.equal(t.isExpected('system'), false);
    assert.equal(t.subscribed('system', 3), null, 'a second answer is no baseline');
    assert.equal(t.last('system'), 10);
  });

  test('an answer nobody expected on this connection is never a restart', () => {
    const t = new SeqTracker();
    for (let s = 1; s <= 10; s += 1) t.accept('system', s);
    t.newConnection();
    assert.equal(t.subscribed('system', 3), null);
    assert.equal(t.last('system'), 10);
  });

  test('a seq below what this same connection delivered is never taken', () => {
    const t = new SeqTracker();
    for (let s = 1; s <= 10; s += 1) t.accept('system', s);
    t.newConnection();
    t.expect('system');
    t.accept('system', 11);
    assert.equal(t.subscribed('system', 3), null);
    assert.equal(t.last('system'), 11);
  });

  test('forget() makes a late answer no baseline; newConnection() clears what was expected', () => {
    const t = new SeqTracker();
    for (let s = 1; s <= 10; s += 1) t.accept('user:3', s);
    t.newConnection();
    t.expect('user:3');
    t.forget('user:3');
    assert.equal(t.subscribed('user:3', 1), null);
    t.expect('user:3');
    t.newConnection();
    assert.equal(t.isExpected('user:3'), false);
    assert.equal(t.subscribed('user:3', 1), null);
    assert.equal(t.last('user:3'), 10);
  });
});

describe('SeqTracker: epochs and positions', () => {
  test('the epoch comes from subscribed and stays with the events that follow', () => {
    const t = new SeqTracker();
    t.newConnection();
    t.expect('global');
    assert.equal(t.subscribed('global', 4, { epoch: 'e1' }), null);
    t.accept('global', 5);
    assert.deepEqual(t.position('global'), { seq: 5, epoch: 'e1' });
    t.accept('global', 5); // a duplicate does not move it
    assert.deepEqual(t.position('global'), { seq: 5, epoch: 'e1' });
    assert.equal(t.position('system'), undefined);
  });

  test('a first answer naming another epoch resets the channel, whatever its seq', () => {
    const t = new SeqTracker();
    t.subscribed('global', 7, { epoch: 'e1' });
    t.newConnection();
    t.expect('global');
    assert.deepEqual(t.subscribed('global', 30, { epoch: 'e2', recovered: false }), { channel: 'global', reason: 'epoch', from: 7, to: 30 });
    assert.deepEqual(t.position('global'), { seq: 30, epoch: 'e2' });
    t.newConnection();
    t.expect('global');
    assert.deepEqual(t.subscribed('global', 0, { epoch: 'e3' }), { channel: 'global', reason: 'epoch', from: 30, to: 0 });
    assert.equal(t.accept('global', 1), true, 'the new stream counts from 1 again');
  });

  test('recovered: true after the replayed events changes nothing', () => {
    const t = new SeqTracker();
    t.subscribed('global', 3, { epoch: 'e1' });
    t.newConnection();
    t.expect('global');
    for (const s of [4, 5, 6]) assert.equal(t.accept('global', s), true, 'replayed');
    assert.equal(t.subscribed('global', 6, { epoch: 'e1', recovered: true }), null);
    assert.deepEqual(t.position('global'), { seq: 6, epoch: 'e1' });
    assert.equal(t.accept('global', 6), false);
  });

  test('recovered: false in the same epoch jumps forward to the server position', () => {
    const t = new SeqTracker();
    t.subscribed('global', 3, { epoch: 'e1' });
    t.newConnection();
    t.expect('global');
    assert.equal(t.subscribed('global', 2000, { epoch: 'e1', recovered: false }), null, 'no seq repeats, so no reset');
    assert.deepEqual(t.position('global'), { seq: 2000, epoch: 'e1' });
    assert.equal(t.accept('global', 1999), false);
    assert.equal(t.accept('global', 2001), true);
  });

  test('an answer that is not this connection\u2019s never resets and never names another epoch', () => {
    const t = new SeqTracker();
    t.subscribed('global', 5, { epoch: 'e1' });
    t.newConnection();
    assert.equal(t.subscribed('global', 1, { epoch: 'e2' }), null);
    assert.deepEqual(t.position('global'), { seq: 5, epoch: 'e1' });
    assert.equal(t.subscribed('global', 9, { epoch: 'e1' }), null);
    assert.deepEqual(t.position('global'), { seq: 9, epoch: 'e1' });
  });

  test('seqs seen before any epoch take the epoch of the first answer', () => {
    const t = new SeqTracker();
    t.accept('global', 5);
    assert.deepEqual(t.position('global'), { seq: 5, epoch: null });
    t.newConnection();
    t.expect('global');
    assert.equal(t.subscribed('global', 5, { epoch: 'e1' }), null);
    assert.deepEqual(t.position('global'), { seq: 5, epoch: 'e1' });
  });

  test('startAt() sets the position of an unknown channel only', () => {
    const t = new SeqTracker();
    assert.equal(t.startAt('global', { seq: 42, epoch: 'e1' }), true);
    assert.deepEqual(t.position('global'), { seq: 42, epoch: 'e1' });
    assert.equal(t.accept('global', 42), false);
    assert.equal(t.accept('global', 43), true);
    assert.equal(t.startAt('global', { seq: 1, epoch: 'e2' }), false, 'a known channel keeps its position');
    assert.deepEqual(t.position('global'), { seq: 43, epoch: 'e1' });
    for (const bad of [null, undefined, {}, { seq: -1, epoch: 'e' }, { seq: 1.5, epoch: 'e' }, { seq: '3', epoch: 'e' }]) {
      assert.equal(t.startAt('user:1', bad), false, JSON.stringify(bad));
    }
    assert.equal(t.startAt('user:1', { seq: 0, epoch: '' }), true);
    assert.deepEqual(t.position('user:1'), { seq: 0, epoch: null }, 'an empty epoch is no epoch');
  });

  test('a restart detected by seq keeps the epoch and moves the position to the new seq', () => {
    const t = new SeqTracker();
    t.subscribed('global', 0, { epoch: 'e1' });
    for (let s = 1; s <= 20; s += 1) t.accept('global', s);
    t.newConnection();
    t.expect('global');
    assert.deepEqual(t.subscribed('global', 2, { epoch: 'e1' }), { channel: 'global', reason: 'restart', from: 20, to: 2 });
    assert.deepEqual(t.position('global'), { seq: 2, epoch: 'e1' });
  });

  test('a position is a copy', () => {
    const t = new SeqTracker();
    t.accept('global', 1);
    t.position('global').seq = 99;
    assert.equal(t.last('global'), 1);
  });
});
