// ClusterNodes: every node of the cluster with its CPU, memory, connections
// and state, a node whose heartbeat lapsed marked in words. Polls
// GET api/monitoring/nodes at the heartbeat pace (the page config's
// cluster_heartbeat) and at every (re)connect, and takes every node's live
// system.metric samples in between. One node is one row.

import { getJSON } from '../api.js';
import { h, setAttr, setText } from '../dom.js';
import { formatNumber, formatPercent, levelFor, relativeTime } from '../format.js';
import { NodesModel } from '../model/nodes.js';
import { OwnNode } from '../model/own-node.js';

export const NODES_URL = 'api/monitoring/nodes';
/** The poll interval when the page config has no heartbeat. */
export const FALLBACK_POLL_MS = 5000;

const STATE_WORDS = { up: 'Up', lapsed: 'Lapsed' };

export class ClusterNodes {
  constructor(
    root,
    { socket, config = {}, fetch, token = null, ownNode = null, now = () => Date.now(), timers = globalThis } = {},
  ) {
    this.root = root;
    this.socket = socket;
    this.fetchOptions = { fetch, token };
    const beat = Number(config.cluster_heartbeat);
    this.pollMs = beat > 0 ? beat * 1000 : FALLBACK_POLL_MS;
    this.thresholds = config.thresholds || {};
    this.ownNode = ownNode || new OwnNode(socket);
    this.ownsNode = !ownNode;
    this.now = now;
    this.timers = timers;
    this.model = new NodesModel({ heartbeatMs: this.pollMs });
    this.rows = new Map(); // node -> {tr, cells}
    this.offs = [];
    this.poller = null;
    this.build();
  }

  build() {
    this.summary = h('span', { id: 'cluster-summary', class: 'muted small' }, '\u2013');
    this.body = h('tbody', {});
    this.table = h(
      'table',
      { id: 'cluster-nodes-table', class: 'table nodes' },
      h('caption', { class: 'sr-only' }, 'Nodes of the cluster: state, CPU, memory and WebSocket connections; the node this page is connected to first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col', class: 'name' }, 'Node'),
          h('th', { scope: 'col' }, 'State'),
          h('th', { scope: 'col', class: 'num' }, 'CPU'),
          h('th', { scope: 'col', class: 'num' }, 'Memory'),
          h('th', { scope: 'col', class: 'num' }, 'Conns'),
          h('th', { scope: 'col', class: 'age wide-only' }, 'Heard'),
        ),
      ),
      this.body,
    );
    this.error = h('p', { class: 'error', hidden: true });
    this.empty = h('p', { class: 'muted small table-note' }, 'Loading the cluster\u2026');
    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'cluster-title' }, 'Cluster'), this.summary),
      this.table,
      this.empty,
      this.error,
    );
  }

  start() {
    if (this.socket) {
      this.offs.push(
        this.socket.on('system.metric', (data) => {
          if (this.model.sample(data, this.now())) this.render();
        }),
        // A reconnect may be to another node, or after a node came or went.
        this.socket.on('connected', () => {
          if (this.greeted) this.poll();
          this.greeted = true;
        }),
      );
    }
    this.offs.push(this.ownNode.onChange(() => this.render()));
    this.poller = this.timers.setInterval(() => this.poll(), this.pollMs);
    return this.poll();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    this.timers.clearInterval(this.poller);
    if (this.ownsNode) this.ownNode.destroy();
  }

  async poll() {
    try {
      const body = await getJSON(NODES_URL, this.fetchOptions);
      this.model.load(body, this.now());
      this.error.hidden = true;
    } catch (err) {
      setText(this.error, `Cluster view unavailable: ${err.message}`);
      this.error.hidden = false;
    }
    this.render();
  }

  render() {
    const now = this.now();
    const rows = this.model.rows(now, this.ownNode.name);
    const keep = new Set(rows.map((r) => r.name));
    for (const [name, row] of this.rows) {
      if (!keep.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    }
    rows.forEach((r, i) => {
      let row = this.rows.get(r.name);
      if (!row) {
        row = this.createRow(r.name);
        this.rows.set(r.name, row);
      }
      this.updateRow(row, r, now);
      if (this.body.children[i] !== row.tr) this.body.insertBefore(row.tr, this.body.children[i] || null);
    });
    const lapsed = rows.filter((r) => r.state === 'lapsed').length;
    setText(this.summary, rows.length ? `${rows.length} ${rows.length === 1 ? 'node' : 'nodes'}${lapsed ? `, ${lapsed} lapsed` : ''}` : '\u2013');
    setAttr(this.body, 'data-count', String(rows.length));
    this.empty.hidden = rows.length > 0;
  }

  createRow(name) {
    const cells = {
      name: h('span', { class: 'node-name' }, name),
      own: h('span', { class: 'node-own muted' }),
      state: h('span', { class: 'node-state' }),
      cpu: h('td', { class: 'num' }),
      memory: h('td', { class: 'num' }),
      connections: h('td', { class: 'num' }),
      heard: h('td', { class: 'age wide-only' }),
    };
    const tr = h(
      'tr',
      { class: 'node', 'data-node': name },
      h('th', { scope: 'row', class: 'name' }, h('div', { class: 'node-cell' }, cells.name, cells.own)),
      h('td', {}, cells.state),
      cells.cpu,
      cells.memory,
      cells.connections,
      cells.heard,
    );
    return { tr, cells };
  }

  updateRow({ tr, cells }, r, now) {
    setAttr(tr, 'data-state', r.state);
    setAttr(tr, 'data-own', r.own ? 'true' : null);
    setAttr(tr, 'title', [r.address, r.version && `v${r.version}`].filter(Boolean).join(', ') || null);
    setText(cells.own, r.own ? ' (this page)' : '');
    setText(cells.state, STATE_WORDS[r.state] || r.state);
    setAttr(cells.state, 'data-state', r.state);
    setText(cells.cpu, formatPercent(r.cpu));
    setAttr(cells.cpu, 'data-level', levelFor(r.cpu, this.thresholds.cpu));
    setText(cells.memory, formatPercent(r.memory));
    setAttr(cells.memory, 'data-level', levelFor(r.memory, this.thresholds.memory));
    setText(cells.connections, formatNumber(r.connections));
    setText(cells.heard, Number.isFinite(r.heardAt) ? relativeTime(r.heardAt, now) : '\u2013');
  }
}
