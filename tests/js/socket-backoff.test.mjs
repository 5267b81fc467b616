import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { BACKOFF_BASE, BACKOFF_CAP, Backoff, backoffBound, backoffDelay } from '../../static/js/socket/backoff.js';
import { ALMOST_ONE, sequenceRandom } from './fakes.mjs';

describe('backoffBound / backoffDelay', () => {
  test('the bound doubles from 500 ms and is capped at 30 s', () => {
    assert.equal(BACKOFF_BASE, 500);
    assert.equal(BACKOFF_CAP, 30000);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 20, 2000].map((n) => backoffBound(n)),
      [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000],
    );
  });

  test('the bound takes its own base and cap; odd attempts count as whole, non-negative', () => {
    assert.deepEqual([0, 1, 2, 3].map((n) => backoffBound(n, 100, 250)), [100, 200, 250, 250]);
    assert.equal(backoffBound(-3), 500);
    assert.equal(backoffBound(2.9), 2000);
  });

  test('full jitter draws from the random source: 0 gives 0, almost 1 gives the bound', () => {
    assert.equal(backoffDelay(3, () => 0), 0);
    assert.equal(backoffDelay(3, () => ALMOST_ONE), 4000);
    assert.equal(backoffDelay(3, () => 0.25), 1000);
    assert.equal(backoffDelay(12, () => ALMOST_ONE), 30000);
  });

  test('delays stay within [0, min(cap, base*2^n)] for any random value', () => {
    for (let n = 0; n < 12; n += 1) {
      for (const r of [0, 0.001, 0.1, 0.37, 0.5, 0.81, 0.999, ALMOST_ONE]) {
        const d = backoffDelay(n, () => r);
        assert.ok(d >= 0 && d <= Math.min(30000, 500 * 2 ** n), `attempt ${n}, random ${r}: ${d}`);
      }
    }
  });

  test('a broken random source cannot push a delay out of range', () => {
    assert.equal(backoffDelay(2, () => NaN), 0);
    assert.equal(backoffDelay(2, () => -5), 0);
    assert.equal(backoffDelay(2, () => 7), 2000);
    assert.equal(backoffDelay(2, () => 'x'), 0);
  });
});

describe('Backoff', () => {
  test('each next() counts an attempt and grows the bound up to the cap', () => {
    const b = new Backoff({ random: () => ALMOST_ONE });
    assert.equal(b.attempt, 0);
    const delays = [];
    for (let i = 0; i < 9; i += 1) delays.push(b.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    assert.equal(b.attempt, 9);
  });

  test('reset() starts again from the first bound', () => {
    const b = new Backoff({ random: () => ALMOST_ONE });
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempt, 0);
    assert.equal(b.next(), 500);
  });

  test('uses the injected random source, base and cap', () => {
    const b = new Backoff({ base: 100, cap: 300, random: sequenceRandom(0, 0.5, 0.5, ALMOST_ONE) });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [0, 100, 150, 300]);
  });
});
