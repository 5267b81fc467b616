import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { fractionOf, maxOf, nearestIndex, niceBytesCeil, niceCeil, timeTicks, valueAt } from '../../static/js/model/axes.js';

describe('value scales', () => {
  test('niceCeil: the next 1, 2 or 5 x 10^k', () => {
    assert.equal(niceCeil(0.3), 0.5);
    assert.equal(niceCeil(1), 1);
    assert.equal(niceCeil(1.01), 2);
    assert.equal(niceCeil(3.2), 5);
    assert.equal(niceCeil(7), 10);
    assert.equal(niceCeil(120), 200);
    for (const bad of [0, -1, NaN, Infinity, null, '5']) assert.equal(niceCeil(bad), 1, String(bad));
  });

  test('niceBytesCeil: 1, 2 or 5 x 10^k of the value\u2019s binary unit, at least the floor', () => {
    const K = 1024;
    const M = K * K;
    assert.equal(niceBytesCeil(0), K, 'an idle link still has a 1 KiB/s scale');
    assert.equal(niceBytesCeil(300), K);
    assert.equal(niceBytesCeil(3 * K), 5 * K);
    assert.equal(niceBytesCeil(600 * K), 1000 * K);
    assert.equal(niceBytesCeil(1000 * K), 1000 * K);
    assert.equal(niceBytesCeil(1010 * K), M, '1024 of a unit is the next unit');
    assert.equal(niceBytesCeil(3.4 * M), 5 * M);
    assert.equal(niceBytesCeil(0, 1), 1);
  });

  test('maxOf and fractionOf', () => {
    assert.equal(maxOf([], [{ t: 1, v: 3 }], [{ t: 2, v: 7 }, { t: 3, v: 1 }]), 7);
    assert.equal(maxOf(), 0);
    assert.equal(fractionOf(50, 200), 0.25);
    assert.equal(fractionOf(300, 200), 1);
    assert.equal(fractionOf(-1, 200), 0);
    assert.equal(fractionOf(5, 0), 0);
  });
});

describe('timeTicks', () => {
  const start = Date.UTC(2026, 2, 1, 12, 1, 30);

  test('15 minutes: ticks every 5 minutes of the clock, each with its place', () => {
    const ticks = timeTicks(start, start + 900_000, 4);
    const offset = new Date(start).getTimezoneOffset() * 60_000;
    assert.ok(ticks.length >= 2 && ticks.length <= 4, JSON.stringify(ticks));
    for (const { t, at } of ticks) {
      assert.equal((t - offset) % 300_000, 0, 'on a 5-minute mark of the local clock');
      assert.ok(t >= start && t <= start + 900_000);
      assert.equal(at, (t - start) / 900_000);
    }
    assert.equal(ticks[1].t - ticks[0].t, 300_000);
  });

  test('a short window gets finer ticks; an empty one none', () => {
    const ticks = timeTicks(start, start + 60_000, 4);
    assert.equal(ticks[1].t - ticks[0].t, 15_000);
    assert.deepEqual(timeTicks(start, start, 4), []);
    assert.deepEqual(timeTicks(start, start - 5, 4), []);
  });
});

describe('nearestIndex and valueAt', () => {
  const points = [0, 2000, 4000, 6000].map((t, i) => ({ t, v: i * 10 }));

  test('the point nearest in time, the earlier on a tie', () => {
    assert.equal(nearestIndex(points, -500), 0);
    assert.equal(nearestIndex(points, 2900), 1);
    assert.equal(nearestIndex(points, 3000), 1);
    assert.equal(nearestIndex(points, 3100), 2);
    assert.equal(nearestIndex(points, 99_000), 3);
    assert.equal(nearestIndex([], 5), -1);
  });

  test('valueAt only at an exact time', () => {
    assert.equal(valueAt(points, 4000), 20);
    assert.equal(valueAt(points, 4001), undefined);
    assert.equal(valueAt([], 0), undefined);
  });
});
