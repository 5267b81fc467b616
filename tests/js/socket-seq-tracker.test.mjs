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
    t.setEpoch('n1');
    t.newConnection();
    t.expect('system');
    assert.equal(t.subscribed('system', 0), null, 'a first subscription is no reset');
    for (let s = 1; s <= 50; s += 1) t.accept('system', s);
    t.newConnection();
    t.setEpoch('n1');
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
  test('another epoch drops every channel and says which', () => {
    const t = new SeqTracker();
    assert.deepEqual(t.setEpoch('n1'), []);
    t.accept('global', 7);
    t.accept('system', 3);
    assert.deepEqual(t.setEpoch('n1'), [], 'the same epoch keeps the seqs');
    assert.equal(t.accept('global', 7), false);
    assert.deepEqual(t.setEpoch('n2').sort(), ['global', 'system']);
    assert.equal(t.epoch, 'n2');
    assert.equal(t.last('global'), undefined);
    assert.equal(t.accept('global', 1), true);
  });

  test('the first epoch named is no reset; an epoch that goes missing is one', () => {
    const t = new SeqTracker();
    t.accept('global', 4);
    assert.deepEqual(t.setEpoch('n1'), []);
    assert.equal(t.last('global'), 4);
    assert.deepEqual(t.setEpoch(undefined), ['global']);
    assert.equal(t.epoch, null);
    t.accept('global', 2);
    assert.deepEqual(t.setEpoch('n1'), [], 'from unknown to known is no reset');
    assert.equal(t.last('global'), 2);
  });

  test('position(channel) is {seq, epoch} of the last seq, undefined for an unknown channel', () => {
    const t = new SeqTracker();
    assert.equal(t.position('global'), undefined);
    t.setEpoch('n1');
    t.accept('global', 3);
    t.subscribed('system', 40);
    assert.deepEqual(t.position('global'), { seq: 3, epoch: 'n1' });
    assert.deepEqual(t.position('system'), { seq: 40, epoch: 'n1' });
    t.accept('global', 2); // a duplicate does not move it
    assert.deepEqual(t.position('global'), { seq: 3, epoch: 'n1' });
    t.setEpoch('n2');
    assert.equal(t.position('global'), undefined);
    t.accept('global', 1);
    assert.deepEqual(t.position('global'), { seq: 1, epoch: 'n2' });
  });

  test('seqs seen before the epoch was named take the epoch when it comes', () => {
    const t = new SeqTracker();
    t.accept('global', 5);
    assert.deepEqual(t.position('global'), { seq: 5, epoch: null });
    t.setEpoch('n1');
    assert.deepEqual(t.position('global'), { seq: 5, epoch: 'n1' });
  });

  test('a restart keeps the epoch and moves the position to the new seq', () => {
    const t = new SeqTracker();
    t.setEpoch('n1');
    for (let s = 1; s <= 20; s += 1) t.accept('global', s);
    t.newConnection();
    t.expect('global');
    t.subscribed('global', 2);
    assert.deepEqual(t.position('global'), { seq: 2, epoch: 'n1' });
  });

  test('a position is a copy', () => {
    const t = new SeqTracker();
    t.accept('global', 1);
    t.position('global').seq = 99;
    assert.equal(t.last('global'), 1);
  });
});
