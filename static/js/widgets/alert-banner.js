// AlertBanner: one banner per active alert, keyed by alert_id, updated in
// place, removed on resolve, dismissable by button or Escape.

import { getJSON } from '../api.js';
import { h, setAttr, setText } from '../dom.js';
import { clockTime, formatNumber, isoTime } from '../format.js';
import { actionForFrame, emptyAlerts, reduceAlerts, visibleAlerts } from '../model/alerts.js';

export const ALERTS_URL = 'api/monitoring/alerts?limit=50';
/** The channel of system.alert and system.alert_resolved (docs/protocol.md, Channels). */
export const ALERTS_CHANNEL = 'global';

function detailText(alert) {
  const parts = [];
  if (alert.metric) parts.push(alert.metric);
  if (alert.value !== null) parts.push(formatNumber(alert.value, 1));
  if (alert.threshold !== null) parts.push(`(threshold ${formatNumber(alert.threshold, 1)})`);
  return parts.join(' ');
}

export class AlertBanner {
  constructor(root, { socket, fetch, token = null } = {}) {
    this.root = root;
    this.socket = socket;
    this.fetchOptions = fetch ? { fetch, token } : { token };
    this.state = emptyAlerts();
    this.banners = new Map(); // alert_id -> {el, level, message, detail, time, button}
    this.offs = [];
    setAttr(this.root, 'aria-live', 'polite');
    setAttr(this.root, 'data-count', '0');
  }

  start() {
    if (this.socket) {
      const onFrame = (frame) => this.onFrame(frame);
      this.offs.push(
        this.socket.on('event', onFrame),
        // Missed alert events are not coming: load the active alerts again.
        this.socket.on('stale', ({ channel }) => {
          if (channel === ALERTS_CHANNEL) this.refresh();
        }),
      );
    }
    return this.refresh();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
  }

  async refresh() {
    const since = this.state.rev;
    try {
      const body = await getJSON(ALERTS_URL, this.fetchOptions);
      this.dispatch({ type: 'load', since, records: Array.isArray(body && body.active) ? body.active : [] });
    } catch (err) {
      console.warn('livewatch: cannot load alerts', err);
    }
  }

  onFrame(frame) {
    const action = actionForFrame(frame);
    if (action) this.dispatch(action);
  }

  dispatch(action) {
    const next = reduceAlerts(this.state, action);
    if (next === this.state) return;
    this.state = next;
    this.render();
  }

  dismiss(alertId) {
    const el = this.banners.get(alertId)?.el;
    const hadFocus = el && typeof el.contains === 'function' && el.contains(globalThis.document?.activeElement);
    this.dispatch({ type: 'dismiss', alert_id: alertId });
    if (hadFocus) this.focusAfterRemoval();
  }

  focusAfterRemoval() {
    // Keep keyboard users near where they were: the next banner, else the page.
    const next = this.root.querySelector('.alert-dismiss') || globalThis.document?.getElementById('main');
    if (next && typeof next.focus === 'function') next.focus();
  }

  render() {
    const visible = visibleAlerts(this.state);
    const keep = new Set(visible.map((a) => a.alert_id));
    for (const [id, banner] of this.banners) {
      if (!keep.has(id)) {
        banner.el.remove();
        this.banners.delete(id);
      }
    }
    const elements = visible.map((alert) => {
      let banner = this.banners.get(alert.alert_id);
      if (!banner) {
        banner = this.createBanner(alert.alert_id);
        this.banners.set(alert.alert_id, banner);
      }
      this.updateBanner(banner, alert);
      return banner.el;
    });
    // Only move nodes whose position changed, so a live region does not re-read them.
    elements.forEach((el, i) => {
      if (this.root.children[i] !== el) this.root.insertBefore(el, this.root.children[i] || null);
    });
    setAttr(this.root, 'data-count', String(elements.length));
  }

  createBanner(alertId) {
    const level = h('strong', { class: 'alert-level' });
    const message = h('span', { class: 'alert-message' });
    const detail = h('span', { class: 'alert-detail' });
    const time = h('time', { class: 'alert-time' });
    const button = h(
      'button',
      { type: 'button', class: 'alert-dismiss', onclick: () => this.dismiss(alertId) },
      h('span', { 'aria-hidden': 'true' }, '\u00D7'),
    );
    const el = h(
      'div',
      {
        class: 'alert',
        role: 'group',
        tabindex: '0',
        'data-alert-id': alertId,
        onkeydown: (ev) => {
          if (ev.key === 'Escape') {
            ev.preventDefault();
            this.dismiss(alertId);
          }
        },
      },
      level,
      h('span', { class: 'alert-text' }, message, detail),
      time,
      button,
    );
    return { el, level, message, detail, time, button };
  }

  updateBanner(banner, alert) {
    const word = alert.level === 'critical' ? 'CRITICAL' : 'WARNING';
    setAttr(banner.el, 'data-level', alert.level);
    setAttr(banner.el, 'class', `alert alert-${alert.level}`);
    setAttr(banner.el, 'aria-label', `${word}: ${alert.message}`);
    setText(banner.level, word);
    setText(banner.message, alert.message || alert.rule || alert.alert_id);
    setText(banner.detail, detailText(alert));
    setAttr(banner.time, 'datetime', isoTime(alert.timestamp) || null);
    setText(banner.time, alert.timestamp ? `since ${clockTime(alert.timestamp)}` : '');
    setAttr(banner.button, 'aria-label', `Dismiss ${alert.level} alert: ${alert.message || alert.alert_id}`);
  }
}
