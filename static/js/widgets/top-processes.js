// TopProcesses: the ten busiest processes of the page's own node by CPU or by
// memory (a switch), from each sample's `top_processes`. Fed the samples that
// the gauges take (SystemStatus's onSample). Ten rows are laid out from the
// start, so nothing moves when the first sample comes.

import { h, setAttr, setText } from '../dom.js';
import { formatBytes, formatPercent } from '../format.js';
import { ORDERS, TOP_LIMIT, orderFor, topProcesses } from '../model/processes.js';

const COLUMNS = [
  { key: 'pid', label: 'PID', cls: 'num' },
  { key: 'name', label: 'Name', cls: 'name' },
  { key: 'cpu', label: 'CPU', cls: 'num' },
  { key: 'memory', label: 'Memory', cls: 'num' },
  { key: 'rss', label: 'Resident', cls: 'num wide-only' },
];

function cellText(process, key) {
  if (!process) return '';
  switch (key) {
    case 'pid':
      return String(process.pid);
    case 'name':
      return process.name || '?';
    case 'cpu':
      return formatPercent(process.cpu);
    case 'memory':
      return formatPercent(process.memory);
    default:
      return formatBytes(process.rss);
  }
}

export class TopProcesses {
  constructor(root, { order = 'by_cpu' } = {}) {
    this.root = root;
    this.order = orderFor(order).key;
    this.top = null;
    this.build();
  }

  build() {
    this.buttons = new Map();
    const switcher = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Busiest by' });
    for (const o of ORDERS) {
      const button = h('button', { type: 'button', class: 'btn', 'data-order': o.key, 'aria-pressed': 'false', onclick: () => this.setOrder(o.key) }, o.label);
      this.buttons.set(o.key, button);
      switcher.append(button);
    }
    this.caption = h('caption', { class: 'sr-only' }, '');
    this.headers = new Map();
    const head = h(
      'tr',
      {},
      COLUMNS.map((c) => {
        const th = h('th', { scope: 'col', class: c.cls }, c.label);
        this.headers.set(c.key, th);
        return th;
      }),
    );
    this.rows = [];
    for (let i = 0; i < TOP_LIMIT; i += 1) {
      const cells = new Map(COLUMNS.map((c) => [c.key, h('td', { class: c.cls }, '')]));
      const tr = h('tr', { 'data-empty': 'true' }, [...cells.values()]);
      this.rows.push({ tr, cells });
    }
    this.table = h('table', { id: 'top-processes-table', class: 'table processes' }, this.caption, h('thead', {}, head), h('tbody', {}, this.rows.map((r) => r.tr)));
    this.note = h('p', { class: 'muted small table-note' }, 'Waiting for a sample\u2026');
    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'top-processes-title' }, 'Top processes'), switcher),
      this.table,
      this.note,
    );
    this.render();
  }

  start() {}

  destroy() {}

  setOrder(key) {
    this.order = orderFor(key).key;
    this.render();
  }

  /** Take a sample's top processes; a sample without them (history) changes nothing. */
  apply(sample) {
    const top = topProcesses(sample);
    if (!top) return;
    this.top = top;
    this.render();
  }

  render() {
    const order = orderFor(this.order);
    for (const [key, button] of this.buttons) setAttr(button, 'aria-pressed', key === order.key ? 'true' : 'false');
    for (const [key, th] of this.headers) setAttr(th, 'aria-sort', key === order.column ? 'descending' : null);
    setAttr(this.table, 'data-order', order.key);
    setText(this.caption, `The ${TOP_LIMIT} processes using the most ${order.key === 'by_cpu' ? 'CPU since the previous sample (percent of one core)' : 'resident memory'}, busiest first`);
    const list = this.top ? this.top[order.key] : [];
    this.rows.forEach(({ tr, cells }, i) => {
      const p = list[i];
      setAttr(tr, 'data-empty', p ? null : 'true');
      setAttr(tr, 'data-pid', p ? String(p.pid) : null);
      for (const [key, td] of cells) setText(td, cellText(p, key));
      const name = cells.get('name');
      setAttr(name, 'title', p && p.name ? p.name : null);
    });
    setText(this.note, this.top === null ? 'Waiting for a sample\u2026' : list.length ? 'CPU is a share of one core, as top shows it.' : 'No processes reported.');
  }
}
