// One history chart: one or more series over a time window, drawn as inline
// SVG polylines, with value and clock ticks, threshold lines, and a readout
// that a pointer (hover) or the keyboard (arrow keys on the focused plot)
// moves from sample to sample. No library; data in as text only.

import { h, setAttr, setText, svg } from '../dom.js';
import { clockTime, formatBytesShort, formatNumber, formatPercent, formatRate, levelFor, levelLabel, shortTime } from '../format.js';
import { fractionOf, maxOf, nearestIndex, niceBytesCeil, niceCeil, timeTicks, valueAt } from '../model/axes.js';
import { polylinePoints, stats, yFor } from '../model/series.js';

export const VIEW_WIDTH = 600; // viewBox units; the SVG stretches to its box
export const VIEW_HEIGHT = 100;
const TICK_SLOTS = 6; // clock ticks a chart can show at once
const TICK_MARGIN = 0.06; // no tick label this close to an edge: it would stick out

/** How each kind of scale tops out and writes its values. */
export const SCALES = Object.freeze({
  percent: {
    top: () => 100,
    value: (v) => formatPercent(v),
    axis: (v) => `${Math.round(v)}%`,
  },
  load: {
    top: (max) => niceCeil(Math.max(max, 1)),
    value: (v) => formatNumber(v, 2),
    axis: (v) => String(Number(v.toFixed(2))),
  },
  rate: {
    top: (max) => niceBytesCeil(max),
    value: (v) => formatRate(v),
    axis: (v) => formatBytesShort(v, '/s'),
  },
});

export class TimeChart {
  /**
   * `spec`: {key, label, scale: 'percent'|'load'|'rate', series: [{field, label}]}.
   * `thresholds`: {warning, critical} levels drawn on a percent chart.
   */
  constructor(spec, { windowMs, windowLabel, thresholds = {} }) {
    this.spec = spec;
    this.key = spec.key;
    this.scale = SCALES[spec.scale] || SCALES.percent;
    this.windowMs = windowMs;
    this.windowLabel = windowLabel;
    this.thresholds = spec.scale === 'percent' ? thresholds || {} : {};
    const limits = ['warning', 'critical']
      .filter((level) => typeof this.thresholds[level] === 'number')
      .map((level) => `${level} at ${this.thresholds[level]}%`);
    this.limitsText = limits.length ? `; ${limits.join(', ')}.` : '.';
    this.series = spec.series.map((s, index) => ({ ...s, index, points: [] }));
    this.top = this.scale.top(0);
    this.cursor = null; // time of the sample the readout shows, or null for the latest
    this.el = this.build();
  }

  /** The first series' points (the only one of a percent chart). */
  get points() {
    return this.series[0].points;
  }

  build() {
    const id = `chart-${this.key}`;
    const { label } = this.spec;
    this.ids = { title: `${id}-title`, desc: `${id}-desc`, readout: `${id}-readout` };
    this.desc = svg('desc', { id: this.ids.desc }, 'No data yet.');
    const guides = [25, 50, 75].map((p) =>
      svg('line', { class: 'grid-line', x1: 0, x2: VIEW_WIDTH, y1: p, y2: p, 'vector-effect': 'non-scaling-stroke' }),
    );
    this.timeLines = [];
    this.tickLabels = [];
    for (let i = 0; i < TICK_SLOTS; i += 1) {
      this.timeLines.push(svg('line', { class: 'grid-line grid-time', x1: 0, x2: 0, y1: 0, y2: VIEW_HEIGHT, visibility: 'hidden', 'vector-effect': 'non-scaling-stroke' }));
      this.tickLabels.push(h('span', { class: 'chart-tick', hidden: true }));
    }
    this.area = svg('polygon', { class: 'series-area', points: '' });
    for (const s of this.series) {
      s.line = svg('polyline', {
        class: `series-line series-${s.index}`,
        points: '',
        'data-points': '0',
        'data-series': s.field,
        'vector-effect': 'non-scaling-stroke',
      });
      s.dot = h('span', { class: `chart-dot series-${s.index}`, hidden: true });
    }
    const thresholdLines = [];
    const thresholdLabels = [];
    for (const level of ['warning', 'critical']) {
      const at = this.thresholds[level];
      if (typeof at !== 'number') continue;
      const y = yFor(at, VIEW_HEIGHT);
      thresholdLines.push(
        svg('line', { class: `threshold threshold-${level}`, 'data-threshold': level, x1: 0, x2: VIEW_WIDTH, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }),
      );
      const tag = h('span', { class: `threshold-label threshold-${level}` }, `${levelLabel(level)} ${at}%`);
      tag.style.top = `${100 - Math.min(100, Math.max(0, at))}%`;
      thresholdLabels.push(tag);
    }
    this.plot = svg(
      'svg',
      {
        id,
        class: 'chart-svg',
        viewBox: `0 0 ${VIEW_WIDTH} ${VIEW_HEIGHT}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-labelledby': `${this.ids.title} ${this.ids.desc}`,
        'data-points': '0',
        'data-metric': this.key,
      },
      svg('title', { id: this.ids.title }, `${label}, last ${this.windowLabel}`),
      this.desc,
      ...guides,
      ...this.timeLines,
      this.spec.scale === 'percent' ? this.area : null,
      ...thresholdLines,
      ...this.series.map((s) => s.line),
    );
    this.cursorLine = h('span', { class: 'chart-cursor', hidden: true });
    this.readout = h('p', { class: 'chart-readout', id: this.ids.readout }, 'No data yet.');
    this.frame = h(
      'div',
      {
        class: 'chart-plot',
        tabindex: '0',
        role: 'group',
        'aria-label': `${label} history; the arrow keys read the samples`,
        'aria-describedby': this.ids.readout,
        onpointermove: (ev) => this.onPointer(ev),
        onpointerdown: (ev) => this.onPointer(ev),
        onpointerleave: () => {
          if (globalThis.document?.activeElement !== this.frame) this.inspect(null);
        },
        onkeydown: (ev) => this.onKey(ev),
        onfocus: () => setAttr(this.readout, 'aria-live', 'polite'),
        onblur: () => {
          setAttr(this.readout, 'aria-live', null);
          this.inspect(null);
        },
      },
      this.plot,
      ...thresholdLabels,
      this.cursorLine,
      ...this.series.map((s) => s.dot),
    );
    this.axisLabels = [h('span', {}, ''), h('span', {}, ''), h('span', {}, this.scale.axis(0))];
    this.latest = this.buildLatest();
    const figure = h(
      'figure',
      { class: 'chart', 'data-chart': this.key, 'data-scale': this.spec.scale },
      h('figcaption', { class: 'chart-head' }, h('span', { class: 'chart-title' }, label), this.latest),
      h('div', { class: 'chart-frame' }, h('div', { class: 'chart-axis', 'aria-hidden': 'true' }, ...this.axisLabels), this.frame),
      h('div', { class: 'chart-x', 'aria-hidden': 'true' }, ...this.tickLabels),
      this.readout,
    );
    this.drawAxis();
    return figure;
  }

  /** A percent chart's latest value with its level; the others' latest values, one per series, with their colour. */
  buildLatest() {
    if (this.spec.scale === 'percent') {
      this.series[0].latest = h('span', { class: 'chart-latest', 'data-level': 'unknown' }, '\u2013');
      return this.series[0].latest;
    }
    const items = this.series.map((s) => {
      s.latest = h('span', { class: 'legend-value' }, '\u2013');
      return h('span', { class: 'legend-item' }, h('span', { class: `legend-swatch series-${s.index}`, 'aria-hidden': 'true' }), `${s.label} `, s.latest);
    });
    return h('span', { class: 'chart-legend' }, ...items);
  }

  /** Replace the points of every series: {field: points}. */
  setPoints(byField) {
    for (const s of this.series) if (byField[s.field]) s.points = byField[s.field];
    this.draw();
  }

  /** The window's end: the newest point of any series. */
  end() {
    let end = -Infinity;
    for (const s of this.series) if (s.points.length) end = Math.max(end, s.points[s.points.length - 1].t);
    return end;
  }

  draw() {
    const end = this.end();
    this.top = this.scale.top(maxOf(...this.series.map((s) => s.points)));
    this.drawAxis();
    for (const s of this.series) {
      const coords = Number.isFinite(end)
        ? polylinePoints(s.points, { width: VIEW_WIDTH, height: VIEW_HEIGHT, windowMs: this.windowMs, end, max: this.top })
        : '';
      setAttr(s.line, 'points', coords);
      setAttr(s.line, 'data-points', String(s.points.length));
      if (s.index === 0) this.drawArea(coords);
    }
    setAttr(this.plot, 'data-points', String(this.points.length));
    this.drawTicks(end);
    this.drawLatest();
    this.drawCursor();
  }

  drawArea(coords) {
    if (!coords) {
      setAttr(this.area, 'points', '');
      return;
    }
    const first = coords.slice(0, coords.indexOf(','));
    const lastPair = coords.slice(coords.lastIndexOf(' ') + 1);
    const lastX = lastPair.slice(0, lastPair.indexOf(','));
    setAttr(this.area, 'points', `${first},${VIEW_HEIGHT} ${coords} ${lastX},${VIEW_HEIGHT}`);
  }

  drawAxis() {
    setText(this.axisLabels[0], this.scale.axis(this.top));
    setText(this.axisLabels[1], this.scale.axis(this.top / 2));
  }

  drawTicks(end) {
    const ticks = Number.isFinite(end) ? timeTicks(end - this.windowMs, end, 4) : [];
    for (let i = 0; i < TICK_SLOTS; i += 1) {
      const tick = ticks[i];
      const line = this.timeLines[i];
      const label = this.tickLabels[i];
      if (!tick) {
        setAttr(line, 'visibility', 'hidden');
        label.hidden = true;
        continue;
      }
      const x = String(Math.round(tick.at * VIEW_WIDTH * 100) / 100);
      setAttr(line, 'x1', x);
      setAttr(line, 'x2', x);
      setAttr(line, 'visibility', null);
      setText(label, shortTime(tick.t));
      setAttr(label, 'data-time', String(tick.t));
      label.style.left = `${(tick.at * 100).toFixed(2)}%`;
      label.hidden = tick.at < TICK_MARGIN || tick.at > 1 - TICK_MARGIN;
    }
  }

  drawLatest() {
    const first = this.series[0];
    if (this.spec.scale === 'percent') {
      const s = stats(first.points);
      const level = s ? levelFor(s.latest, this.thresholds) : 'unknown';
      setText(first.latest, s ? formatPercent(s.latest) : '\u2013');
      setAttr(first.latest, 'data-level', level);
      if (!s) {
        setText(this.desc, 'No data yet.');
        return;
      }
      setText(
        this.desc,
        `${this.spec.label} latest ${formatPercent(s.latest)} (${levelLabel(level).toLowerCase()}); ` +
          `range ${formatPercent(s.min)} to ${formatPercent(s.max)} over ${s.count} samples` +
          this.limitsText,
      );
      return;
    }
    const parts = [];
    for (const series of this.series) {
      const st = stats(series.points);
      setText(series.latest, st ? this.scale.value(st.latest) : '\u2013');
      if (st) parts.push(`${series.label} latest ${this.scale.value(st.latest)}, peak ${this.scale.value(st.max)}`);
    }
    setText(this.desc, parts.length ? `${this.spec.label}: ${parts.join('; ')}; over ${first.points.length} samples.` : 'No data yet.');
  }

  // ---- the readout ------------------------------------------------------

  /** Show the sample at index `i` of the first series in the readout; null: back to the latest. */
  inspect(i) {
    const points = this.points;
    this.cursor = i === null || i === undefined || !points.length ? null : points[Math.max(0, Math.min(points.length - 1, i))].t;
    this.drawCursor();
  }

  /** Index of the sample the readout shows, or -1. */
  cursorIndex() {
    if (this.cursor === null) return -1;
    const i = nearestIndex(this.points, this.cursor);
    return i >= 0 && this.points[i].t === this.cursor ? i : -1;
  }

  onPointer(ev) {
    const points = this.points;
    if (!points.length || typeof this.frame.getBoundingClientRect !== 'function') return;
    const box = this.frame.getBoundingClientRect();
    if (!(box.width > 0)) return;
    const at = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
    const end = this.end();
    this.inspect(nearestIndex(points, end - this.windowMs + at * this.windowMs));
  }

  onKey(ev) {
    const n = this.points.length;
    if (!n) return;
    const i = this.cursorIndex();
    const from = i < 0 ? n - 1 : i;
    const moves = {
      ArrowLeft: i < 0 ? n - 1 : from - 1,
      ArrowRight: i < 0 ? n - 1 : from + 1,
      PageUp: from - 10,
      PageDown: from + 10,
      Home: 0,
      End: n - 1,
    };
    if (ev.key === 'Escape' && i >= 0) {
      ev.preventDefault();
      this.inspect(null);
      return;
    }
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    this.inspect(moves[ev.key]);
  }

  drawCursor() {
    const i = this.cursorIndex();
    const end = this.end();
    if (i < 0 || !Number.isFinite(end)) {
      if (this.cursor !== null && i < 0) this.cursor = null; // its sample left the window
      this.cursorLine.hidden = true;
      for (const s of this.series) s.dot.hidden = true;
      setAttr(this.frame, 'data-cursor', null);
      const lastT = Number.isFinite(end) ? end : null;
      setText(this.readout, lastT === null ? 'No data yet.' : `Latest ${clockTime(lastT)}`);
      return;
    }
    const t = this.cursor;
    const x = `${(fractionOf(t - (end - this.windowMs), this.windowMs) * 100).toFixed(2)}%`;
    this.cursorLine.style.left = x;
    this.cursorLine.hidden = false;
    const values = [];
    for (const s of this.series) {
      const v = valueAt(s.points, t);
      if (v === undefined) {
        s.dot.hidden = true;
        continue;
      }
      s.dot.style.left = x;
      s.dot.style.top = `${((1 - fractionOf(v, this.top)) * 100).toFixed(2)}%`;
      s.dot.hidden = false;
      values.push(this.series.length > 1 ? `${s.label} ${this.scale.value(v)}` : this.scale.value(v));
    }
    setAttr(this.frame, 'data-cursor', String(i));
    setText(this.readout, `${clockTime(t)} \u00b7 ${values.join(', ')}`);
  }
}
