// LiveFeed: the newest events first, at most 50, with filters, pause/resume
// and relative times. DOM nodes are keyed by `${channel}:${seq}`.
//
// Each feed channel starts from its history (loadChannel(), handed to the
// socket as its startFrom), so the page opens on the latest events and the
// socket continues from the history's position. When the socket reports a
// channel stale (docs/protocol.md, Recovery: `recovered: false`), its history
// is loaded again and a marker says events were missed.

import { h, setAttr, setText } from '../dom.js';
import { isoTime, relativeTime, toMillis } from '../format.js';
import { loadHistory } from '../history.js';
import { FeedModel, MAX_ITEMS, isFeedChannel } from '../model/feed.js';

const REFRESH_MS = 5000;
const MARKER_SYMBOL = '\u21BB';

export class LiveFeed {
  /**
   * `config.events`: the event catalogue (label, tone, glyph per event type) of the page config.
   * `token`: sent with the history requests (token mode). `fetch`: for tests.
   */
  constructor(root, { socket, config = {}, max = MAX_ITEMS, now = () => Date.now(), fetch, token = null } = {}) {
    this.root = root;
    this.socket = socket;
    this.now = now;
    this.historyOptions = { fetch, token, limit: max };
    this.model = new FeedModel({ max, events: config.events });
    this.filters = { event: '', channel: '' };
    this.nodes = new Map(); // key -> {li, time, item}
    this.offs = [];
    this.ticker = null;
    this.build();
  }

  build() {
    this.live = h('span', { id: 'feed-live', class: 'live-pill', 'data-live': 'false' }, 'OFFLINE');
    this.eventSelect = h('select', { id: 'feed-filter-event', onchange: () => this.onFilter() }, h('option', { value: '' }, 'All types'));
    this.channelSelect = h(
      'select',
      { id: 'feed-filter-channel', onchange: () => this.onFilter() },
      h('option', { value: '' }, 'All channels'),
    );
    this.pauseButton = h('button', { id: 'feed-pause', type: 'button', class: 'btn', 'aria-pressed': 'false', onclick: () => this.togglePause() }, 'Pause');
    this.pendingText = h('span', { id: 'feed-pending', class: 'pending', role: 'status' });
    this.list = h('ol', { id: 'live-feed', class: 'feed-list', 'aria-label': 'Recent events, newest first' });
    this.empty = h('p', { class: 'feed-empty muted' }, 'Waiting for events\u2026');

    this.root.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', { id: 'feed-title' }, 'Live activity'), this.live),
      h(
        'div',
        { class: 'feed-controls' },
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Type'), this.eventSelect),
        h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Channel'), this.channelSelect),
        h('div', { class: 'feed-pause' }, this.pauseButton, this.pendingText),
      ),
      this.list,
      this.empty,
    );
  }

  start() {
    if (this.socket) {
      this.offs.push(
        this.socket.on('event', (frame) => this.onFrame(frame)),
        this.socket.on('state', (s) => this.renderLive(s)),
        this.socket.on('reset', ({ channel }) => {
          this.model.retire(channel);
          this.render();
        }),
        this.socket.on('stale', ({ channel, reason }) => this.onStale(channel, reason)),
      );
      this.renderLive(this.socket.state);
    }
    this.ticker = setInterval(() => this.refreshTimes(), REFRESH_MS);
    this.render();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.ticker);
  }

  /**
   * Show the latest events of `channel` and say where its live events go on:
   * a promise of {seq, epoch}, or of null if the history could not be had.
   * Null at once for a channel that carries no feed events.
   */
  loadChannel(channel) {
    if (!isFeedChannel(channel)) return null;
    return this.loadHistory(channel);
  }

  async loadHistory(channel) {
    try {
      const history = await loadHistory(channel, this.historyOptions);
      this.apply(() => this.model.load(history.events));
      return { seq: history.seq, epoch: history.epoch };
    } catch (err) {
      console.warn(`livewatch: cannot load the history of '${channel}'`, err);
      return null;
    }
  }

  /** Missed events of `channel` are not coming: load its history again, then say so. */
  async onStale(channel, reason) {
    if (!isFeedChannel(channel)) return;
    const refreshed = (await this.loadHistory(channel)) !== null;
    this.apply(() => this.model.mark(channel, reason, this.now(), refreshed));
  }

  renderLive(state) {
    const live = state.state === 'live';
    setText(this.live, live ? 'LIVE' : 'OFFLINE');
    setAttr(this.live, 'data-live', live ? 'true' : 'false');
  }

  onFrame(frame) {
    this.apply(() => this.model.add(frame));
  }

  /** Run a model change, then update the filter options it grew and the list. */
  apply(change) {
    const typesBefore = this.model.eventTypes.size;
    const channelsBefore = this.model.channels.size;
    const changed = change();
    if (this.model.eventTypes.size !== typesBefore) this.syncOptions(this.eventSelect, this.model.sortedEventTypes(), 'All types');
    if (this.model.channels.size !== channelsBefore) this.syncOptions(this.channelSelect, this.model.sortedChannels(), 'All channels');
    if (changed) this.render();
    else this.renderPending();
  }

  togglePause() {
    if (this.model.paused) this.model.resume();
    else this.model.pause();
    const paused = this.model.paused;
    setText(this.pauseButton, paused ? 'Resume' : 'Pause');
    setAttr(this.pauseButton, 'aria-pressed', paused ? 'true' : 'false');
    setAttr(this.root, 'data-paused', paused ? 'true' : null);
    this.render();
  }

  onFilter() {
    this.filters = { event: this.eventSelect.value, channel: this.channelSelect.value };
    this.render();
  }

  /** Rebuild a select's options, keeping the current choice. */
  syncOptions(select, values, allLabel) {
    const chosen = select.value;
    const options = [h('option', { value: '' }, allLabel)];
    for (const v of values) options.push(h('option', { value: v }, v));
    select.replaceChildren(...options);
    select.value = values.includes(chosen) ? chosen : '';
  }

  renderPending() {
    const n = this.model.pendingCount;
    setText(this.pendingText, this.model.paused && n > 0 ? `${n} new` : this.model.paused ? 'Paused' : '');
  }

  render() {
    const view = this.model.view(this.filters);
    const keep = new Set(this.model.items.map((it) => it.key));
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        node.li.remove();
        this.nodes.delete(key);
      }
    }
    const now = this.now();
    const elements = view.map((item) => {
      let node = this.nodes.get(item.key);
      if (!node || node.item !== item) {
        if (node) node.li.remove();
        node = this.createNode(item, now);
        this.nodes.set(item.key, node);
      }
      return node.li;
    });
    // replaceChildren moves the existing nodes; their identity is kept.
    this.list.replaceChildren(...elements);
    setAttr(this.list, 'data-count', String(elements.length));
    if (this.model.items.length === 0) {
      setText(this.empty, 'Waiting for events\u2026');
      this.empty.hidden = false;
    } else if (elements.length === 0) {
      setText(this.empty, 'No events match the filters.');
      this.empty.hidden = false;
    } else {
      this.empty.hidden = true;
    }
    this.renderPending();
  }

  createNode(item, now) {
    const absolute = Number.isNaN(item.time) ? '' : new Date(item.time).toLocaleString();
    const time = h(
      'time',
      { class: 'feed-time', datetime: isoTime(item.timestamp) || null, title: absolute || null },
      relativeTime(item.timestamp, now),
    );
    if (item.marker) return { li: this.createMarker(item, time), time, item };
    const li = h(
      'li',
      {
        class: 'feed-item',
        'data-key': item.key,
        'data-event': item.event,
        'data-channel': item.channel,
      },
      h('span', { class: `feed-icon tone-${item.icon.tone}`, 'aria-hidden': 'true', title: item.icon.label }, item.icon.glyph),
      h(
        'div',
        { class: 'feed-body' },
        h('div', { class: 'feed-line' }, h('span', { class: 'feed-event' }, item.event), h('span', { class: 'feed-channel' }, item.channel)),
        item.summary ? h('div', { class: 'feed-summary' }, item.summary) : null,
      ),
      time,
    );
    return { li, time, item };
  }

  /** A marker: missed events of a channel were not recovered; says so in words, with the reason. */
  createMarker(item, time) {
    const headline = item.refreshed ? 'Missed events, refreshed' : 'Missed events, could not reload';
    return h(
      'li',
      {
        class: 'feed-item feed-marker',
        'data-key': item.key,
        'data-marker': item.marker,
        'data-channel': item.channel,
        'data-reason': item.reason,
        title: `Reason: ${item.reason}`,
      },
      h('span', { class: 'feed-icon feed-marker-icon', 'aria-hidden': 'true' }, MARKER_SYMBOL),
      h(
        'div',
        { class: 'feed-body' },
        h('div', { class: 'feed-line' }, h('strong', { class: 'feed-marker-text' }, headline), h('span', { class: 'feed-channel' }, item.channel)),
        h('div', { class: 'feed-summary' }, item.summary),
      ),
      time,
    );
  }

  refreshTimes() {
    const now = this.now();
    for (const { time, item } of this.nodes.values()) {
      if (!Number.isNaN(toMillis(item.timestamp))) setText(time, relativeTime(item.timestamp, now));
    }
  }
}
