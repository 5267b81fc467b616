// History charts over the configured window: CPU, memory and disk percent
// with their thresholds, the load average, and network and disk byte rates.
// Seeded from the history endpoint, then one point per live sample of the
// page's own node (see model/own-node.js). Each chart is a TimeChart.

import { getJSON } from '../api.js';
import { h, setText } from '../dom.js';
import { OwnNode } from '../model/own-node.js';
import { appendPoint, mergePoints, pointFrom, seriesFrom, trimPoints } from '../model/series.js';
import { SYSTEM_CHANNEL } from './system-status.js';
import { TimeChart } from './time-chart.js';

/** The charts, in page order; `scale` picks how values are topped and written (time-chart.js). */
export const CHARTS = Object.freeze([
  { key: 'cpu', label: 'CPU', scale: 'percent', series: [{ field: 'cpu_percent', label: 'CPU' }] },
  { key: 'memory', label: 'Memory', scale: 'percent', series: [{ field: 'memory_percent', label: 'Memory' }] },
  { key: 'disk', label: 'Disk', scale: 'percent', series: [{ field: 'disk_percent', label: 'Disk' }] },
  {
    key: 'load',
    label: 'Load average',
    scale: 'load',
    series: [
      { field: 'load_1', label: '1m' },
      { field: 'load_5', label: '5m' },
      { field: 'load_15', label: '15m' },
    ],
  },
  {
    key: 'network',
    label: 'Network',
    scale: 'rate',
    series: [
      { field: 'net_recv_bytes_per_second', label: 'rx' },
      { field: 'net_sent_bytes_per_second', label: 'tx' },
    ],
  },
  {
    key: 'disk-io',
    label: 'Disk I/O',
    scale: 'rate',
    series: [
      { field: 'disk_read_bytes_per_second', label: 'read' },
      { field: 'disk_write_bytes_per_second', label: 'write' },
    ],
  },
]);

export function historyUrl(seconds) {
  return `api/monitoring/metrics/history?seconds=${encodeURIComponent(seconds)}`;
}

export function windowLabel(seconds) {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export class HistoryCharts {
  /** `ownNode`: the page's node (model/own-node.js); samples of other nodes are left out. */
  constructor(root, { socket, config = {}, fetch, token = null, ownNode = null } = {}) {
    this.root = root;
    this.socket = socket;
    this.fetchOptions = { fetch, token };
    this.seconds = Number(config.history_seconds) > 0 ? Number(config.history_seconds) : 900;
    this.windowMs = this.seconds * 1000;
    this.thresholds = config.thresholds || {};
    this.ownNode = ownNode || new OwnNode(socket);
    this.ownsNode = !ownNode;
    this.charts = new Map();
    this.offs = [];
    this.build();
  }

  build() {
    const figures = CHARTS.map((spec) => {
      const chart = new TimeChart(spec, { windowMs: this.windowMs, windowLabel: windowLabel(this.seconds), thresholds: this.thresholds[spec.key] });
      this.charts.set(spec.key, chart);
      return chart.el;
    });
    this.error = h('p', { class: 'error', hidden: true });
    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'charts-title' }, 'History'), h('span', { class: 'muted small' }, `last ${windowLabel(this.seconds)}`)),
      this.error,
      h('div', { class: 'charts' }, ...figures),
    );
  }

  start() {
    if (this.socket) {
      this.offs.push(
        this.socket.on('system.metric', (data) => {
          if (this.ownNode.accepts(data)) this.addSample(data);
        }),
        // Missed samples are not coming: fill the gap from the history endpoint.
        this.socket.on('stale', ({ channel }) => {
          if (channel === SYSTEM_CHANNEL) this.refresh();
        }),
      );
    }
    // Connected to another node than before: its history, not the last one's.
    this.offs.push(
      this.ownNode.onChange((name) => {
        if (this.shownNode !== undefined && this.shownNode !== name) this.reset();
      }),
    );
    return this.refresh();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    if (this.ownsNode) this.ownNode.destroy();
  }

  /** Drop every point of a node that is not the page's, then load the window again. */
  reset() {
    this.shownNode = undefined;
    for (const chart of this.charts.values()) {
      for (const s of chart.series) s.points = [];
      chart.draw();
    }
    return this.refresh();
  }

  /** Load the window (or fill the gap of missed samples) from the history endpoint. */
  async refresh() {
    try {
      const body = await getJSON(historyUrl(this.seconds), this.fetchOptions);
      const samples = (Array.isArray(body && body.samples) ? body.samples : []).filter((s) => this.ownNode.accepts(s));
      this.noteNode(samples[samples.length - 1]);
      for (const chart of this.charts.values()) {
        const byField = {};
        for (const s of chart.series) byField[s.field] = trimPoints(mergePoints(seriesFrom(samples, s.field), s.points), this.windowMs);
        chart.setPoints(byField);
      }
      this.error.hidden = true;
    } catch (err) {
      setText(this.error, `History unavailable: ${err.message}`);
      this.error.hidden = false;
    }
  }

  /** Remember which node the points are of. */
  noteNode(sample) {
    if (sample && typeof sample.node === 'string') this.shownNode = sample.node;
  }

  addSample(sample) {
    this.noteNode(sample);
    for (const chart of this.charts.values()) {
      let changed = false;
      for (const s of chart.series) {
        const point = pointFrom(sample, s.field);
        if (!point) continue;
        s.points = appendPoint(s.points, point, this.windowMs);
        changed = true;
      }
      if (changed) chart.draw();
    }
  }
}
