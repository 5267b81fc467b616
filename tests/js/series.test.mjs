import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { appendPoint, mergePoints, polylinePoints, seriesFrom, stats, trimPoints, yFor } from '../../static/js/model/series.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const at = (s) => new Date(T0 + s * 1000).toISOString();
const WINDOW = 900_000;

describe('series', () => {
  test('seriesFrom sorts by time, skips samples without a usable value', () => {
    const samples = [
      { timestamp: at(4), cpu_percent: 40 },
      { timestamp: at(2), cpu_percent: 20 },
      { timestamp: at(3), cpu_percent: null },
      { timestamp: 'bad', cpu_percent: 10 },
      { timestamp: at(6), memory_percent: 60 },
    ];
    assert.deepEqual(seriesFrom(samples, 'cpu_percent'), [
      { t: T0 + 2000, v: 20 },
      { t: T0 + 4000, v: 40 },
    ]);
  });

  test('trimPoints drops what is older than the window before the newest point', () => {
    const points = [0, 100, 200, 899, 900, 1000].map((s) => ({ t: T0 + s * 1000, v: s % 100 }));
    const trimmed = trimPoints(points, WINDOW);
    assert.deepEqual(trimmed.map((p) => (p.t - T0) / 1000), [100, 200, 899, 900, 1000]);
  });

  test('appendPoint adds in order and trims; an overlapping point is merged', () => {
    let points = [];
    for (let s = 0; s <= 1000; s += 2) points = appendPoint(points, { t: T0 + s * 1000, v: 1 }, WINDOW);
    assert.equal(points.length, 451); // 100 s .. 1000 s every 2 s
    assert.equal(points[0].t, T0 + 100_000);
    const again = appendPoint(points, { t: T0 + 500_000, v: 99 }, WINDOW);
    assert.equal(again.length, 451);
    assert.equal(again.find((p) => p.t === T0 + 500_000).v, 99);
    assert.equal(appendPoint(points, null, WINDOW), points);
  });

  test('mergePoints unions loaded history with live points', () => {
    const live = [{ t: 5, v: 50 }, { t: 6, v: 60 }];
    const history = [{ t: 1, v: 10 }, { t: 5, v: 49 }];
    assert.deepEqual(mergePoints(history, live), [{ t: 1, v: 10 }, { t: 5, v: 50 }, { t: 6, v: 60 }]);
  });

  test('polylinePoints scales time to x and 0-100 % to y (0 at the bottom)', () => {
    const points = [
      { t: T0, v: 0 },
      { t: T0 + 450_000, v: 50 },
      { t: T0 + 900_000, v: 100 },
    ];
    assert.equal(polylinePoints(points, { width: 600, height: 100, windowMs: WINDOW }), '0,100 300,50 600,0');
    assert.equal(polylinePoints([{ t: T0, v: 150 }], { width: 600, height: 100, windowMs: WINDOW }), '600,0');
    assert.equal(polylinePoints([{ t: T0, v: -3 }], { width: 600, height: 200, windowMs: WINDOW }), '600,200');
    assert.equal(polylinePoints([], { width: 600, height: 100, windowMs: WINDOW }), '');
    assert.equal(yFor(75, 100), 25);
  });

  test('stats gives min, max, latest and count', () => {
    assert.deepEqual(stats([{ t: 1, v: 5 }, { t: 2, v: 9 }, { t: 3, v: 7 }]), { min: 5, max: 9, latest: 7, count: 3 });
    assert.equal(stats([]), null);
  });
});
