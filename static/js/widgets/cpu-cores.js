// CpuCores: one cell per core of the page's own node, filled to its busy
// share of the latest sample (`cpu_percent_per_core`, in core order) and
// coloured by the page config's CPU thresholds. Fed the samples that the
// gauges take (SystemStatus's onSample), so it shows the same node and time.

import { h, setAttr, setText } from '../dom.js';
import { formatPercent, levelFor, levelLabel } from '../format.js';

/** Past this many cores the cells are too narrow for their numbers: colour and height only. */
export const DENSE_AFTER = 16;

/** The per-core list of a sample, or null when it has none. */
export function coresOf(sample) {
  const list = sample && typeof sample === 'object' ? sample.cpu_percent_per_core : null;
  if (!Array.isArray(list)) return null;
  return list.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
}

export class CpuCores {
  constructor(root, { config = {} } = {}) {
    this.root = root;
    this.thresholds = (config.thresholds || {}).cpu || {};
    this.cells = [];
    this.build();
  }

  build() {
    this.count = h('span', { class: 'muted small', id: 'cpu-cores-count' }, '\u2013');
    this.list = h('ol', { id: 'cpu-core-list', class: 'cores', 'aria-label': 'CPU busy share per core, latest sample', 'data-cores': '0' });
    this.empty = h('p', { class: 'cores-empty muted small' }, 'Waiting for a sample\u2026');
    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'cpu-cores-title' }, 'CPU per core'), this.count),
      h('div', { class: 'cores-frame' }, this.list, this.empty),
    );
  }

  start() {}

  destroy() {}

  /** Show a sample's per-core shares; a sample without them changes nothing. */
  apply(sample) {
    const cores = coresOf(sample);
    if (!cores) return;
    while (this.cells.length < cores.length) this.cells.push(this.cell(this.cells.length));
    for (const cell of this.cells.splice(cores.length)) cell.li.remove();
    cores.forEach((v, i) => this.update(this.cells[i], v));
    setAttr(this.list, 'data-cores', String(cores.length));
    setAttr(this.list, 'data-dense', cores.length > DENSE_AFTER ? 'true' : null);
    setText(this.count, cores.length === 1 ? '1 core' : `${cores.length} cores`);
    this.empty.hidden = cores.length > 0;
  }

  cell(i) {
    const fill = h('span', { class: 'core-fill' });
    const value = h('span', { class: 'core-value', 'aria-hidden': 'true' }, '');
    const text = h('span', { class: 'sr-only' }, '');
    const li = h('li', { class: 'core', 'data-core': String(i), 'data-level': 'unknown' }, value, h('span', { class: 'core-bar', 'aria-hidden': 'true' }, fill), text);
    this.list.append(li);
    return { li, fill, value, text, i };
  }

  update(cell, v) {
    const level = levelFor(v, this.thresholds);
    const words = v === null ? 'no data' : `${formatPercent(v)}${level === 'ok' ? '' : `, ${levelLabel(level).toLowerCase()}`}`;
    setAttr(cell.li, 'data-level', level);
    setAttr(cell.li, 'data-value', v === null ? null : String(v));
    setAttr(cell.li, 'title', `Core ${cell.i}: ${words}`);
    cell.fill.style.height = `${v === null ? 0 : Math.min(100, Math.max(0, v))}%`;
    setText(cell.value, v === null ? '\u2013' : String(Math.round(v)));
    setText(cell.text, `Core ${cell.i}: ${words}`);
  }
}
