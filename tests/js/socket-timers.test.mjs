import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { NamedTimers } from '../../static/js/socket/timers.js';
import { FakeClock } from './fakes.mjs';

function setup() {
  const clock = new FakeClock();
  return { clock, timers: new NamedTimers(clock.timerFns) };
}

describe('NamedTimers', () => {
  test('after() fires once and is then no longer pending', () => {
    const { clock, timers } = setup();
    let n = 0;
    timers.after('t', 100, () => (n += 1));
    assert.equal(timers.has('t'), true);
    clock.advance(99);
    assert.equal(n, 0);
    clock.advance(1);
    assert.equal(n, 1);
    assert.equal(timers.has('t'), false, 'not pending while (and after) it runs');
    clock.advance(1000);
    assert.equal(n, 1);
  });

  test('a callback sees its own timer as done and may start it again', () => {
    const { clock, timers } = setup();
    const seen = [];
    timers.after('t', 10, () => {
      seen.push(timers.has('t'));
      if (seen.length < 3) timers.after('t', 10, () => seen.push('again'));
    });
    clock.advance(10);
    assert.deepEqual(seen, [false]);
    assert.equal(timers.has('t'), true);
    clock.advance(10);
    assert.deepEqual(seen, [false, 'again']);
  });

  test('starting a timer replaces the one of the same name', () => {
    const { clock, timers } = setup();
    const got = [];
    timers.after('t', 100, () => got.push('old'));
    timers.after('t', 200, () => got.push('new'));
    clock.advance(1000);
    assert.deepEqual(got, ['new']);
    assert.equal(clock.pendingCount(), 0);
  });

  test('every() repeats until cleared', () => {
    const { clock, timers } = setup();
    let n = 0;
    timers.every('tick', 50, () => (n += 1));
    clock.advance(175);
    assert.equal(n, 3);
    assert.equal(timers.has('tick'), true);
    timers.clear('tick');
    clock.advance(500);
    assert.equal(n, 3);
    assert.equal(clock.pendingCount(), 0);
  });

  test('clear() takes several names; unknown and finished names are fine', () => {
    const { clock, timers } = setup();
    const got = [];
    timers.after('a', 10, () => got.push('a'));
    timers.after('b', 10, () => got.push('b'));
    timers.every('c', 10, () => got.push('c'));
    timers.after('d', 10, () => got.push('d'));
    timers.clear('a', 'c', 'never-started');
    clock.advance(10);
    timers.clear('b'); // already fired
    assert.deepEqual(got, ['b', 'd']);
    assert.equal(clock.pendingCount(), 0);
  });

  test('clearAll() stops everything', () => {
    const { clock, timers } = setup();
    timers.after('a', 10, () => assert.fail('a fired'));
    timers.every('b', 10, () => assert.fail('b fired'));
    timers.clearAll();
    clock.advance(100);
    assert.equal(clock.pendingCount(), 0);
    assert.equal(timers.has('a') || timers.has('b'), false);
  });

  test('without injected functions it uses the global timers', async () => {
    const timers = new NamedTimers();
    const fired = await new Promise((resolve) => {
      timers.after('real', 1, () => resolve(true));
    });
    assert.equal(fired, true);
    timers.every('real-interval', 1000, () => {});
    timers.clearAll();
  });
});
