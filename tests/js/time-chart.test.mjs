// One history chart on the fake DOM: drawing, ticks, scales, and the readout
// that the pointer and the keyboard move.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { SCALES, TimeChart, VIEW_HEIGHT } from '../../static/js/widgets/time-chart.js';
import { installDom, keyEvent } from './fake-dom.mjs';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const WINDOW = 900_000;
const pts = (values, step = 2000, from = T0) => values.map((v, i) => ({ t: from + i * step, v }));

let dom;
beforeEach(() => {
  dom = installDom();
});
afterEach(() => dom.restore());

function chart(spec, thresholds = {}) {
  const c = new TimeChart(spec, { windowMs: WINDOW, windowLabel: '15 min', thresholds });
  dom.doc.body.append(c.el);
  return c;
}

const CPU = { key: 'cpu', label: 'CPU', scale: 'percent', series: [{ field: 'cpu_percent', label: 'CPU' }] };
const NET = {
  key: 'network',
  label: 'Network',
  scale: 'rate',
  series: [
    { field: 'rx', label: 'rx' },
    { field: 'tx', label: 'tx' },
  ],
};

function pointer(type, clientX) {
  const ev = new Event(type);
  Object.defineProperty(ev, 'clientX', { value: clientX });
  return ev;
}

describe('TimeChart', () => {
  test('a percent chart: one line, its area, thresholds and a latest value with its level', () => {
    const c = chart(CPU, { warning: 75, critical: 90 });
    const svg = c.el.querySelector('#chart-cpu');
    assert.equal(svg.getAttribute('role'), 'img');
    assert.equal(svg.getAttribute('aria-labelledby'), 'chart-cpu-title chart-cpu-desc');
    assert.equal(c.el.querySelector('title').textContent, 'CPU, last 15 min');
    assert.equal(c.readout.textContent, 'No data yet.');

    c.setPoints({ cpu_percent: pts([10, 50, 95]) });
    assert.equal(svg.getAttribute('data-points'), '3');
    assert.equal(c.el.querySelector('.series-line').getAttribute('points').split(' ').length, 3);
    assert.match(c.el.querySelector('.series-area').getAttribute('points'), new RegExp(`,${VIEW_HEIGHT}$`));
    assert.equal(c.el.querySelector('[data-threshold=warning]').getAttribute('y1'), '25');
    assert.equal(c.el.querySelector('.chart-latest').textContent, '95.0%');
    assert.equal(c.el.querySelector('.chart-latest').getAttribute('data-level'), 'critical');
    assert.match(c.el.querySelector('desc').textContent, /latest 95\.0% \(critical\); range 10\.0% to 95\.0% over 3 samples; warning at 75%, critical at 90%\./);
    assert.deepEqual(c.el.querySelectorAll('.chart-axis span').map((s) => s.textContent), ['100%', '50%', '0%']);
  });

  test('a rate chart: a line per series, a scale that follows the values, byte units everywhere', () => {
    const c = chart(NET);
    c.setPoints({ rx: pts([0, 3 * 1024 * 1024]), tx: pts([1024, 2048]) });
    const lines = c.el.querySelectorAll('.series-line');
    assert.deepEqual(lines.map((l) => l.getAttribute('data-series')), ['rx', 'tx']);
    assert.equal(c.top, 5 * 1024 * 1024);
    assert.deepEqual(c.el.querySelectorAll('.chart-axis span').map((s) => s.textContent), ['5M/s', '2.5M/s', '0']);
    // The peak of 3 MiB/s sits at 3/5 of the height.
    assert.equal(lines[0].getAttribute('points').split(' ')[1], `600,${VIEW_HEIGHT - 60}`);
    assert.deepEqual(c.el.querySelectorAll('.legend-value').map((s) => s.textContent), ['3.0 MiB/s', '2.0 KiB/s']);
    assert.match(c.el.querySelector('desc').textContent, /rx latest 3\.0 MiB\/s, peak 3\.0 MiB\/s; tx latest 2\.0 KiB\/s/);
    assert.equal(c.el.querySelector('.series-area'), null, 'no area under a rate');
  });

  test('clock ticks: grid lines and labels at round times, none too close to an edge', () => {
    const c = chart(CPU);
    c.setPoints({ cpu_percent: pts(Array(451).fill(5)) }); // 900 s
    const labels = c.el.querySelectorAll('.chart-tick').filter((l) => !l.hidden);
    assert.ok(labels.length >= 2, 'a 15-minute window has ticks');
    for (const label of labels) {
      assert.match(label.textContent, /^\d\d:\d\d$/);
      const t = Number(label.getAttribute('data-time'));
      assert.equal(new Date(t).getMinutes() % 5, 0);
      assert.equal(new Date(t).getSeconds(), 0);
      const left = parseFloat(label.style.left);
      assert.ok(left >= 6 && left <= 94, label.style.left);
    }
    const lines = c.el.querySelectorAll('.grid-time').filter((l) => l.getAttribute('visibility') !== 'hidden');
    assert.ok(lines.length >= labels.length);
  });

  test('the keyboard moves the readout from sample to sample; Escape goes back to the latest', () => {
    const c = chart(NET);
    c.setPoints({ rx: pts([100, 200, 300]), tx: pts([1, 2, 3]) });
    const plot = c.frame;
    assert.equal(plot.getAttribute('tabindex'), '0', 'focusable');
    assert.equal(plot.getAttribute('role'), 'group');
    assert.match(plot.getAttribute('aria-label'), /^Network history; the arrow keys read the samples/);
    assert.equal(plot.getAttribute('aria-describedby'), c.readout.id);
    assert.match(c.readout.textContent, /^Latest \d\d:\d\d:\d\d$/);

    plot.dispatchEvent(new Event('focus'));
    assert.equal(c.readout.getAttribute('aria-live'), 'polite', 'read out while focused');
    const left = keyEvent('ArrowLeft');
    plot.dispatchEvent(left);
    assert.equal(left.defaultPrevented, true);
    assert.equal(plot.getAttribute('data-cursor'), '2', 'the first key picks the latest sample');
    plot.dispatchEvent(keyEvent('ArrowLeft'));
    assert.equal(plot.getAttribute('data-cursor'), '1');
    assert.match(c.readout.textContent, /^\d\d:\d\d:\d\d \u00b7 rx 200 B\/s, tx 2 B\/s$/);
    assert.equal(c.cursorLine.hidden, false);
    assert.equal(c.cursorLine.style.left, `${((2000 - 4000 + WINDOW) / WINDOW * 100).toFixed(2)}%`);
    assert.equal(c.series[0].dot.hidden, false);
    plot.dispatchEvent(keyEvent('Home'));
    assert.equal(plot.getAttribute('data-cursor'), '0');
    plot.dispatchEvent(keyEvent('ArrowLeft'));
    assert.equal(plot.getAttribute('data-cursor'), '0', 'stops at the first');
    plot.dispatchEvent(keyEvent('End'));
    assert.equal(plot.getAttribute('data-cursor'), '2');
    const other = keyEvent('a');
    plot.dispatchEvent(other);
    assert.equal(other.defaultPrevented, false, 'other keys are left alone');
    plot.dispatchEvent(keyEvent('Escape'));
    assert.equal(plot.getAttribute('data-cursor'), null);
    assert.equal(c.cursorLine.hidden, true);
    assert.match(c.readout.textContent, /^Latest /);
    plot.dispatchEvent(keyEvent('PageUp'));
    plot.dispatchEvent(new Event('blur'));
    assert.equal(c.readout.getAttribute('aria-live'), null);
    assert.equal(plot.getAttribute('data-cursor'), null, 'leaving the chart clears the readout');
  });

  test('hovering shows the nearest sample; leaving clears it', () => {
    const c = chart(CPU);
    c.setPoints({ cpu_percent: pts([10, 20, 30, 40]) }); // 0..6 s, at the right end of the window
    c.frame.getBoundingClientRect = () => ({ left: 100, width: 600, top: 0, height: 110 });
    c.frame.dispatchEvent(pointer('pointermove', 700)); // the right edge: the newest
    assert.equal(c.frame.getAttribute('data-cursor'), '3');
    assert.match(c.readout.textContent, / \u00b7 40\.0%$/);
    c.frame.dispatchEvent(pointer('pointermove', 100)); // the left edge: the oldest held
    assert.equal(c.frame.getAttribute('data-cursor'), '0');
    assert.equal(c.series[0].dot.style.top, '90.00%');
    c.frame.dispatchEvent(new Event('pointerleave'));
    assert.equal(c.frame.getAttribute('data-cursor'), null);
  });

  test('a readout whose sample leaves the window goes back to the latest', () => {
    const c = chart(CPU);
    c.setPoints({ cpu_percent: pts([1, 2]) });
    c.inspect(0);
    assert.equal(c.frame.getAttribute('data-cursor'), '0');
    c.setPoints({ cpu_percent: pts([3], 2000, T0 + WINDOW) });
    assert.equal(c.cursor, null);
    assert.equal(c.frame.getAttribute('data-cursor'), null);
  });

  test('the scales: load tops at a round number of at least 1, rates at least 1 KiB/s', () => {
    assert.equal(SCALES.load.top(0.3), 1);
    assert.equal(SCALES.load.top(3.1), 5);
    assert.equal(SCALES.load.axis(2.5), '2.5');
    assert.equal(SCALES.rate.top(0), 1024);
    assert.equal(SCALES.rate.axis(1536), '1.5K/s');
    assert.equal(SCALES.percent.top(250), 100);
    assert.equal(SCALES.percent.value(12.345), '12.3%');
  });
});
