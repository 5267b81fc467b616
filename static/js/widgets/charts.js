// History charts: CPU, memory and disk percent over the configured window,
// drawn as inline SVG polylines with threshold lines. No library.

import { getJSON } from '../api.js';
import { h, setAttr, setText, svg } from '../dom.js';
import { formatPercent, levelFor, levelLabel } from '../format.js';
import { METRICS, appendPoint, mergePoints, polylinePoints, seriesFrom, pointFrom, stats, trimPoints, yFor } from '../model/series.js';
import { SYSTEM_CHANNEL } from './system-status.js';

const WIDTH = 600; // viewBox units; the SVG stretches to its box
const HEIGHT = 100; // 1 unit = 1 %

export function historyUrl(seconds) {
  return `api/monitoring/metrics/history?seconds=${encodeURIComponent(seconds)}`;
}

function windowLabel(seconds) {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export class HistoryCharts {
  constructor(root, { socket, config = {}, fetch, token = null } = {}) {
    this.root = root;
    this.socket = socket;
    this.fetchOptions = fetch ? { fetch, token } : { token };
    this.seconds = Number(config.history_seconds) > 0 ? Number(config.history_seconds) : 900;
    this.windowMs = this.seconds * 1000;
    this.thresholds = config.thresholds || {};
    this.charts = new Map();
    this.offs = [];
    this.build();
  }

  build() {
    const figures = METRICS.map((m) => this.buildChart(m));
    this.error = h('p', { class: 'error', hidden: true });
    this.root.replaceChildren(
      h(
        'header',
        { class: 'card-head' },
        h('h2', { id: 'charts-title' }, 'History'),
        h('span', { class: 'muted small' }, `last ${windowLabel(this.seconds)}`),
      ),
      this.error,
      h('div', { class: 'charts' }, ...figures),
    );
  }

  buildChart(metric) {
    const id = `chart-${metric.key}`;
    const t = this.thresholds[metric.key] || {};
    const latest = h('span', { class: 'chart-latest', 'data-level': 'unknown' }, '\u2013');
    const title = svg('title', { id: `${id}-title` }, `${metric.label} usage, last ${windowLabel(this.seconds)}`);
    const desc = svg('desc', { id: `${id}-desc` }, 'No data yet.');
    const area = svg('polygon', { class: 'series-area', points: '' });
    const line = svg('polyline', { class: 'series-line', points: '', 'data-points': '0', 'vector-effect': 'non-scaling-stroke' });
    const guides = [25, 50, 75].map((p) =>
      svg('line', { class: 'grid-line', x1: 0, x2: WIDTH, y1: yFor(p, HEIGHT), y2: yFor(p, HEIGHT), 'vector-effect': 'non-scaling-stroke' }),
    );
    const thresholdLines = [];
    const thresholdLabels = [];
    for (const level of ['warning', 'critical']) {
      if (typeof t[level] !== 'number') continue;
      const y = yFor(t[level], HEIGHT);
      thresholdLines.push(
        svg('line', {
          class: `threshold threshold-${level}`,
          'data-threshold': level,
          x1: 0,
          x2: WIDTH,
          y1: y,
          y2: y,
          'vector-effect': 'non-scaling-stroke',
        }),
      );
      const label = h('span', { class: `threshold-label threshold-${level}` }, `${levelLabel(level)} ${t[level]}%`);
      label.style.top = `${100 - Math.min(100, Math.max(0, t[level]))}%`;
      thresholdLabels.push(label);
    }
    const plot = svg(
      'svg',
      {
        id,
        class: 'chart-svg',
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-labelledby': `${id}-title ${id}-desc`,
        'data-points': '0',
        'data-metric': metric.key,
      },
      title,
      desc,
      ...guides,
      area,
      ...thresholdLines,
      line,
    );
    const figure = h(
      'figure',
      { class: 'chart', 'data-chart': metric.key },
      h('figcaption', { class: 'chart-head' }, h('span', { class: 'chart-title' }, metric.label), latest),
      h(
        'div',
        { class: 'chart-frame' },
        h('div', { class: 'chart-axis', 'aria-hidden': 'true' }, h('span', {}, '100%'), h('span', {}, '50%'), h('span', {}, '0%')),
        h('div', { class: 'chart-plot' }, plot, ...thresholdLabels),
      ),
      h('div', { class: 'chart-x', 'aria-hidden': 'true' }, h('span', {}, `\u2212${windowLabel(this.seconds)}`), h('span', {}, 'now')),
    );
    this.charts.set(metric.key, { metric, points: [], plot, line, area, desc, latest, thresholds: t });
    return figure;
  }

  start() {
    if (this.socket) {
      this.offs.push(
        this.socket.on('system.metric', (data) => this.addSample(data)),
        // Missed samples are not coming: fill the gap from the history endpoint.
        this.socket.on('stale', ({ channel }) => {
          if (channel === SYSTEM_CHANNEL) this.refresh();
        }),
      );
    }
    return this.refresh();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
  }

  /** Load the window (or fill the gap of missed samples) from the history endpoint. */
  async refresh() {
    try {
      const body = await getJSON(historyUrl(this.seconds), this.fetchOptions);
      const samples = Array.isArray(body && body.samples) ? body.samples : [];
      for (const chart of this.charts.values()) {
        chart.points = trimPoints(mergePoints(seriesFrom(samples, chart.metric.field), chart.points), this.windowMs);
        this.draw(chart);
      }
      this.error.hidden = true;
    } catch (err) {
      setText(this.error, `History unavailable: ${err.message}`);
      this.error.hidden = false;
    }
  }

  addSample(sample) {
    for (const chart of this.charts.values()) {
      const point = pointFrom(sample, chart.metric.field);
      if (!point) continue;
      chart.points = appendPoint(chart.points, point, this.windowMs);
      this.draw(chart);
    }
  }

  draw(chart) {
    const { points } = chart;
    const coords = polylinePoints(points, { width: WIDTH, height: HEIGHT, windowMs: this.windowMs });
    setAttr(chart.line, 'points', coords);
    const n = String(points.length);
    setAttr(chart.line, 'data-points', n);
    setAttr(chart.plot, 'data-points', n);
    if (points.length) {
      const first = coords.slice(0, coords.indexOf(','));
      const lastPair = coords.slice(coords.lastIndexOf(' ') + 1);
      const lastX = lastPair.slice(0, lastPair.indexOf(','));
      setAttr(chart.area, 'points', `${first},${HEIGHT} ${coords} ${lastX},${HEIGHT}`);
    } else {
      setAttr(chart.area, 'points', '');
    }
    const s = stats(points);
    const label = chart.metric.label;
    if (!s) {
      setText(chart.latest, '\u2013');
      setAttr(chart.latest, 'data-level', 'unknown');
      setText(chart.desc, 'No data yet.');
      return;
    }
    const level = levelFor(s.latest, chart.thresholds);
    setText(chart.latest, formatPercent(s.latest));
    setAttr(chart.latest, 'data-level', level);
    const limits = [];
    if (typeof chart.thresholds.warning === 'number') limits.push(`warning at ${chart.thresholds.warning}%`);
    if (typeof chart.thresholds.critical === 'number') limits.push(`critical at ${chart.thresholds.critical}%`);
    setText(
      chart.desc,
      `${label} latest ${formatPercent(s.latest)} (${levelLabel(level).toLowerCase()}); ` +
        `range ${formatPercent(s.min)} to ${formatPercent(s.max)} over ${s.count} samples` +
        (limits.length ? `; ${limits.join(', ')}.` : '.'),
    );
  }
}
