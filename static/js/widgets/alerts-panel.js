// AlertsPanel: every alert at a glance, livewatch's own and Prometheus's:
// firing now and nobody on it, acknowledged, silenced, and the last resolved
// ones, each with its source, how long it has lasted and who acknowledged
// it; then the active silences, each of which can be ended here.

import { h, setAttr, setText } from '../dom.js';
import { clockTime, formatDuration, isoTime } from '../format.js';
import { alertTitle, isAcknowledged, levelWord, matchersText, panelLists, RECENT_RESOLVED } from '../model/alerts.js';
import { safeLink, sourceName } from './alert-banner.js';

const REFRESH_MS = 15000;
const GROUPS = [
  { key: 'firing', title: 'Firing', empty: 'Nothing is firing.' },
  { key: 'acknowledged', title: 'Acknowledged', empty: 'None.' },
  { key: 'silenced', title: 'Silenced', empty: 'None.' },
  { key: 'resolved', title: `Resolved (last ${RECENT_RESOLVED})`, empty: 'None yet.' },
];

export class AlertsPanel {
  /** `center`: the page's AlertCenter; `name`: who ends a silence (open mode). */
  constructor(root, { center, name = '', now = () => Date.now() } = {}) {
    this.root = root;
    this.center = center;
    this.name = name;
    this.now = now;
    this.groups = new Map(); // key -> {list, count, empty, nodes}
    this.offs = [];
    this.ticker = null;
    this.build();
  }

  build() {
    this.summary = h('span', { class: 'alerts-summary', role: 'status' });
    const sections = [];
    for (const group of [...GROUPS, { key: 'silences', title: 'Active silences', empty: 'No silences.' }]) {
      const count = h('span', { class: 'alerts-count' }, '0');
      const list = h('ul', { id: `alerts-${group.key}`, class: 'alerts-list', 'aria-labelledby': `alerts-${group.key}-title` });
      const empty = h('p', { class: 'alerts-empty muted' }, group.empty);
      this.groups.set(group.key, { list, count, empty, nodes: new Map() });
      sections.push(
        h(
          'section',
          { class: 'alerts-group', 'data-group': group.key },
          h('h3', { id: `alerts-${group.key}-title`, class: 'sub-title', tabindex: '-1' }, `${group.title} `, count),
          list,
          empty,
        ),
      );
    }
    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'alerts-panel-title' }, 'Alerts'), this.summary),
      h('div', { class: 'alerts-groups' }, ...sections),
    );
  }

  start() {
    this.offs.push(this.center.onChange(() => this.render()));
    this.ticker = setInterval(() => this.render(), REFRESH_MS);
    this.render();
    return this.center.start();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.ticker);
  }

  render() {
    const lists = panelLists(this.center.state);
    const now = this.now();
    for (const { key } of GROUPS) {
      this.sync(key, lists[key], (a) => a.alert_id, () => this.createAlert(), (node, alert) => this.updateAlert(node, alert, key, now));
    }
    const covering = (id) => lists.silenced.filter((a) => a.silenced_by.includes(id)).length;
    this.sync('silences', lists.silences, (s) => s.silence_id, (s) => this.createSilence(s), (node, s) => this.updateSilence(node, s, covering(s.silence_id)));
    const firingNow = lists.firing.length + lists.acknowledged.length + lists.silenced.length;
    setText(this.summary, firingNow === 0 ? 'All clear' : `${firingNow} firing, ${lists.acknowledged.length} acknowledged, ${lists.silenced.length} silenced`);
    setAttr(this.root, 'data-firing', String(firingNow));
  }

  /** Keep one node per key: create new ones, update all, drop the rest, in order. */
  sync(key, items, keyOf, create, update) {
    const group = this.groups.get(key);
    const seen = new Set();
    const elements = items.map((item) => {
      const id = keyOf(item);
      seen.add(id);
      let node = group.nodes.get(id);
      if (!node) {
        node = create(item);
        group.nodes.set(id, node);
      }
      update(node, item);
      return node.li;
    });
    for (const [id, node] of group.nodes) {
      if (!seen.has(id)) {
        node.li.remove();
        group.nodes.delete(id);
      }
    }
    elements.forEach((el, i) => {
      if (group.list.children[i] !== el) group.list.insertBefore(el, group.list.children[i] || null);
    });
    setText(group.count, String(items.length));
    group.empty.hidden = items.length > 0;
  }

  createAlert() {
    const node = {
      level: h('span', { class: 'alerts-level' }),
      source: h('span', { class: 'alerts-source' }),
      message: h('span', { class: 'alerts-message' }),
      link: h('a', { class: 'alerts-link', target: '_blank', rel: 'noopener noreferrer' }, 'source'),
      duration: h('time', { class: 'alerts-duration' }),
      who: h('span', { class: 'alerts-who' }),
    };
    node.li = h(
      'li',
      { class: 'alerts-item' },
      node.level,
      node.source,
      node.duration,
      h('span', { class: 'alerts-body' }, node.message, h('span', { class: 'alerts-meta' }, node.who, node.link)),
    );
    return node;
  }

  updateAlert(node, alert, group, now) {
    setAttr(node.li, 'data-alert-id', alert.alert_id);
    setAttr(node.li, 'data-level', alert.level);
    setAttr(node.li, 'data-source', alert.source);
    setAttr(node.li, 'class', `alerts-item alert-${alert.level}`);
    setText(node.level, levelWord(alert.level));
    setText(node.source, sourceName(alert.source));
    setText(node.message, alertTitle(alert));
    const started = Number.isNaN(alert.started) ? null : alert.started;
    if (group === 'resolved') {
      const lasted = started !== null && !Number.isNaN(alert.time) ? formatDuration(alert.time - started) : '';
      setText(node.duration, `resolved ${clockTime(alert.timestamp)}${lasted ? ` after ${lasted}` : ''}`);
      setAttr(node.duration, 'datetime', isoTime(alert.timestamp) || null);
    } else {
      setText(node.duration, started !== null ? `for ${formatDuration(now - started)}` : '');
      setAttr(node.duration, 'datetime', isoTime(alert.started_at) || null);
    }
    const ack = alert.acknowledged && (group === 'resolved' || isAcknowledged(alert)) ? alert.acknowledged : null;
    const who = [];
    if (ack) who.push(`acknowledged by ${ack.by}`);
    if (group === 'silenced') who.push('silenced');
    setText(node.who, who.join(', '));
    const href = safeLink(alert.generator_url);
    setAttr(node.link, 'href', href);
    setAttr(node.link, 'aria-label', href ? `Open in ${sourceName(alert.source)}: ${alert.message}` : null);
    node.link.hidden = !href;
  }

  createSilence(silence) {
    const node = {
      matchers: h('span', { class: 'alerts-matchers' }),
      meta: h('span', { class: 'alerts-meta' }),
      end: h('button', { type: 'button', class: 'btn alerts-end', onclick: () => this.end(silence.silence_id, node) }, 'End'),
    };
    node.li = h('li', { class: 'alerts-item alerts-silence', 'data-silence-id': silence.silence_id }, h('span', { class: 'alerts-body' }, node.matchers, node.meta), node.end);
    return node;
  }

  updateSilence(node, silence, covering) {
    const matchers = matchersText(silence.matchers);
    setText(node.matchers, matchers);
    const parts = [`until ${clockTime(silence.ends_at)}`];
    if (silence.by) parts.push(`by ${silence.by}`);
    parts.push(covering === 1 ? '1 alert' : `${covering} alerts`);
    if (silence.comment) parts.push(silence.comment);
    setText(node.meta, parts.join(', '));
    setAttr(node.end, 'aria-label', `End the silence of ${matchers}`);
  }

  async end(silenceId, node) {
    const hadFocus = node.li.contains(globalThis.document?.activeElement);
    setAttr(node.end, 'disabled', true);
    try {
      await this.center.endSilence(silenceId, { by: this.name });
      if (hadFocus) {
        // The item is gone: the next silence's button, else the list's heading.
        const group = this.groups.get('silences');
        const next = group.list.querySelector('.alerts-end') || this.root.querySelector('#alerts-silences-title');
        if (next && typeof next.focus === 'function') next.focus();
      }
    } catch (err) {
      console.warn('livewatch: cannot end the silence', err);
      setAttr(node.end, 'disabled', null);
    }
  }
}
