// SystemStatus: connection indicator, overall health and checks, resource
// gauges coloured by the configured thresholds, and host facts.

import { getJSON } from '../api.js';
import { h, setAttr, setText } from '../dom.js';
import {
  clockTime,
  connectionText,
  formatBytes,
  formatLatency,
  formatLoad,
  formatNumber,
  formatPercent,
  isoTime,
  levelFor,
  levelLabel,
  relativeTime,
  statusLabel,
  toMillis,
} from '../format.js';
import { OwnNode } from '../model/own-node.js';

export const HEALTH_URL = 'api/monitoring/health';
export const METRICS_URL = 'api/monitoring/metrics';
/** The channel of system.metric and system.health (docs/protocol.md, Channels). */
export const SYSTEM_CHANNEL = 'system';

const GAUGES = [
  { key: 'cpu', label: 'CPU', field: 'cpu_percent' },
  { key: 'memory', label: 'Memory', field: 'memory_percent', used: 'memory_used_bytes', total: 'memory_total_bytes' },
  { key: 'disk', label: 'Disk', field: 'disk_percent', used: 'disk_used_bytes', total: 'disk_total_bytes' },
];

/** Words a screen reader announces when the connection state changes. */
const STATE_ANNOUNCEMENTS = {
  live: 'Connected, live updates on',
  reconnecting: 'Connection lost, reconnecting',
  offline: 'Browser offline, live updates paused',
};

export class SystemStatus {
  /**
   * `config.thresholds`: the gauge levels of the page config (none: no levels).
   * `config.health_checks`: the checks the server runs, laid out before their first answer.
   * `blocked`: why the page does not connect, shown instead of the socket state.
   * `ownNode`: the page's node (model/own-node.js); samples of other nodes are left out.
   * `onSample(sample)`: told of every sample the gauges take.
   */
  constructor(root, { socket, config = {}, blocked = null, fetch, token = null, now = () => Date.now(), ownNode = null, onSample = null } = {}) {
    this.root = root;
    this.socket = socket;
    this.thresholds = config.thresholds || {};
    this.checkNames = Array.isArray(config.health_checks) ? config.health_checks.filter((n) => typeof n === 'string') : [];
    this.ownNode = ownNode || new OwnNode(socket);
    this.ownsNode = !ownNode;
    this.onSample = typeof onSample === 'function' ? onSample : () => {};
    this.blocked = blocked;
    this.fetchOptions = { fetch, token };
    this.now = now;
    this.lastSampleTime = -Infinity;
    this.lastSampleTimestamp = null;
    this.healthTime = -Infinity;
    this.offs = [];
    this.ticker = null;
    this.build();
  }

  build() {
    this.conn = h('span', { id: 'connection-state', class: 'conn', 'data-state': 'connecting' }, 'Connecting\u2026');
    this.announcer = h('span', { class: 'sr-only', role: 'status' });
    this.overall = h('span', { id: 'overall-status', class: 'badge', 'data-status': 'unknown' }, 'Unknown');
    this.healthChecked = h('time', { class: 'muted small' });
    this.healthError = h('p', { class: 'error', hidden: true });
    this.checks = h('ul', { id: 'health-checks', class: 'checks', 'aria-label': 'Health checks' });
    this.checks.append(...this.checkNames.map((name) => this.checkItem(name, { status: 'unknown', message: 'Checking\u2026' })));

    this.gauges = new Map();
    const gaugeList = h('div', { class: 'gauges' });
    for (const g of GAUGES) {
      const labelId = `gauge-${g.key}-label`;
      const value = h('span', { class: 'gauge-value' }, '\u2013');
      const fill = h('div', { class: 'gauge-fill' });
      const bar = h(
        'div',
        {
          class: 'gauge-bar',
          role: 'meter',
          'aria-labelledby': labelId,
          'aria-valuemin': '0',
          'aria-valuemax': '100',
          'aria-valuetext': 'no data',
        },
        fill,
      );
      const level = h('span', { class: 'gauge-level' }, '');
      const detail = h('span', { class: 'gauge-detail muted' }, '');
      const el = h(
        'div',
        { class: 'gauge', 'data-gauge': g.key, 'data-level': 'unknown' },
        h('div', { class: 'gauge-head' }, h('span', { class: 'gauge-label', id: labelId }, g.label), value),
        bar,
        h('div', { class: 'gauge-foot' }, level, detail),
      );
      this.gauges.set(g.key, { spec: g, el, value, fill, bar, level, detail });
      gaugeList.append(el);
    }

    this.connections = h('dd', { id: 'active-connections' }, '\u2013');
    this.load = h('dd', { id: 'load-average' }, '\u2013');
    this.queued = h('dd', { id: 'queued-frames' }, '\u2013');
    this.lastSample = h('time', { id: 'last-sample' }, '\u2013');
    this.lastSampleAgo = h('span', { class: 'muted' });
    this.metricsError = h('p', { class: 'error', hidden: true });

    this.root.replaceChildren(
      h(
        'header',
        { class: 'card-head' },
        h('h2', { id: 'system-status-title' }, 'System status'),
        h('span', { class: 'conn-wrap' }, this.conn, this.announcer),
      ),
      h(
        'div',
        { class: 'overall' },
        h('span', { class: 'overall-label' }, 'Overall'),
        this.overall,
        this.healthChecked,
      ),
      this.healthError,
      this.checks,
      h('h3', { class: 'sub-title' }, 'Resources'),
      gaugeList,
      this.metricsError,
      h(
        'dl',
        { class: 'facts' },
        h('div', {}, h('dt', {}, 'WebSocket connections'), this.connections),
        h('div', {}, h('dt', {}, 'Load average (1/5/15 min)'), this.load),
        h('div', {}, h('dt', {}, 'Queued frames'), this.queued),
        h('div', {}, h('dt', {}, 'Last sample'), h('dd', {}, this.lastSample, ' ', this.lastSampleAgo)),
      ),
    );
  }

  start() {
    if (this.socket) {
      this.offs.push(
        this.socket.on('state', (s) => this.renderConnection(s)),
        this.socket.on('system.metric', (data) => {
          if (this.ownNode.accepts(data)) this.applySample(data);
        }),
        this.socket.on('system.health', (data) => this.applyHealth(data)),
        // Missed samples are not coming: load the current ones.
        this.socket.on('stale', ({ channel }) => {
          if (channel === SYSTEM_CHANNEL) this.refresh();
        }),
      );
      this.renderConnection(this.socket.state);
    }
    // Connected to another node than before: show its figures, not the last one's.
    this.offs.push(
      this.ownNode.onChange((name) => {
        if (this.sampleNode !== undefined && this.sampleNode !== name) {
          this.lastSampleTime = -Infinity;
          this.loadMetrics();
        }
      }),
    );
    this.ticker = setInterval(() => this.tick(), 500);
    return this.refresh();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.ticker);
    if (this.ownsNode) this.ownNode.destroy();
  }

  /** (Re)load health and the current sample over HTTP. */
  refresh() {
    return Promise.all([this.loadHealth(), this.loadMetrics()]);
  }

  async loadHealth() {
    try {
      const body = await getJSON(HEALTH_URL, { ...this.fetchOptions, accept: [503] });
      this.healthError.hidden = true;
      this.applyHealth(body);
    } catch (err) {
      setText(this.healthError, `Health unavailable: ${err.message}`);
      this.healthError.hidden = false;
    }
  }

  async loadMetrics() {
    try {
      const body = await getJSON(METRICS_URL, this.fetchOptions);
      this.metricsError.hidden = true;
      if (this.ownNode.accepts(body)) this.applySample(body);
    } catch (err) {
      setText(this.metricsError, `Metrics unavailable: ${err.message}`);
      this.metricsError.hidden = false;
    }
  }

  tick() {
    if (this.socket) this.renderConnection(this.socket.state);
    if (this.lastSampleTimestamp) setText(this.lastSampleAgo, `(${relativeTime(this.lastSampleTimestamp, this.now())})`);
  }

  renderConnection(state) {
    if (this.blocked) {
      setText(this.conn, this.blocked);
      setAttr(this.conn, 'data-state', 'blocked');
      setText(this.announcer, this.blocked);
      return;
    }
    const name = state.state === 'idle' ? 'connecting' : state.state;
    setText(this.conn, connectionText(state, this.now()));
    setAttr(this.conn, 'data-state', name);
    const words = STATE_ANNOUNCEMENTS[name];
    if (words && this.announcedState !== name) {
      // Only first connection is silent; later changes are announced once.
      if (this.announcedState !== undefined || name !== 'live') setText(this.announcer, words);
    }
    if (words) this.announcedState = name;
  }

  applyHealth(health) {
    if (!health || typeof health !== 'object') return;
    const t = toMillis(health.timestamp);
    if (t < this.healthTime) return; // an older answer arrived late
    if (!Number.isNaN(t)) this.healthTime = t;

    const status = ['healthy', 'degraded', 'unhealthy'].includes(health.status) ? health.status : 'unknown';
    setText(this.overall, statusLabel(status));
    setAttr(this.overall, 'data-status', status);
    setAttr(this.healthChecked, 'datetime', isoTime(health.timestamp) || null);
    setText(this.healthChecked, health.timestamp ? `checked ${clockTime(health.timestamp)}` : '');

    const items = [];
    const checks = health.checks && typeof health.checks === 'object' ? health.checks : {};
    for (const [name, check] of Object.entries(checks)) items.push(this.checkItem(name, check && typeof check === 'object' ? check : {}));
    if (!items.length) items.push(h('li', { class: 'check muted' }, 'No checks reported'));
    this.checks.replaceChildren(...items);
  }

  checkItem(name, c) {
    const cs = ['healthy', 'degraded', 'unhealthy'].includes(c.status) ? c.status : 'unknown';
    const message = typeof c.message === 'string' ? c.message : '';
    return h(
      'li',
      { class: 'check', 'data-check': name, 'data-status': cs, title: message || null },
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'check-name' }, name),
      h('span', { class: 'check-status' }, statusLabel(cs)),
      h('span', { class: 'check-latency' }, formatLatency(c.latency_ms)),
      message ? h('span', { class: 'check-message' }, message) : null,
    );
  }

  applySample(sample) {
    if (!sample || typeof sample !== 'object') return;
    const t = toMillis(sample.timestamp);
    if (t < this.lastSampleTime) return; // stale (e.g. a slow initial GET)
    if (!Number.isNaN(t)) this.lastSampleTime = t;
    if (typeof sample.node === 'string') this.sampleNode = sample.node;

    for (const { spec, el, value, fill, bar, level, detail } of this.gauges.values()) {
      const v = sample[spec.field];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const lvl = levelFor(v, this.thresholds[spec.key]);
      const pct = Math.min(100, Math.max(0, v));
      setAttr(el, 'data-value', String(v));
      setAttr(el, 'data-level', lvl);
      setText(value, formatPercent(v));
      fill.style.width = `${pct}%`;
      setAttr(bar, 'aria-valuenow', v.toFixed(1));
      setAttr(bar, 'aria-valuetext', `${formatPercent(v)}, ${levelLabel(lvl).toLowerCase()}`);
      setText(level, levelLabel(lvl));
      if (spec.used && typeof sample[spec.used] === 'number') {
        let text = `${formatBytes(sample[spec.used])} of ${formatBytes(sample[spec.total])}`;
        if (spec.key === 'disk' && sample.disk_path) text += ` on ${sample.disk_path}`;
        setText(detail, text);
      }
    }
    if (typeof sample.active_connections === 'number') setText(this.connections, formatNumber(sample.active_connections));
    if ('load_1' in sample) setText(this.load, formatLoad(sample.load_1, sample.load_5, sample.load_15));
    if (typeof sample.queued_frames === 'number') setText(this.queued, formatNumber(sample.queued_frames));
    if (sample.timestamp) {
      this.lastSampleTimestamp = sample.timestamp;
      setAttr(this.lastSample, 'datetime', isoTime(sample.timestamp));
      setAttr(this.lastSample, 'title', isoTime(sample.timestamp));
      setText(this.lastSample, clockTime(sample.timestamp));
      setText(this.lastSampleAgo, `(${relativeTime(sample.timestamp, this.now())})`);
    }
    this.onSample(sample);
  }
}
