// AlertBanner: one banner per alert firing now, keyed by alert_id, updated in
// place, removed on resolve or silence, dismissable by button or Escape. Each
// banner can be acknowledged or silenced (through the AlertDialog), says who
// acknowledged it, and links to where the alert comes from.

import { AlertCenter } from '../alert-center.js';
import { h, setAttr, setText } from '../dom.js';
import { clockTime, formatNumber, isoTime } from '../format.js';
import { alertTitle, isAcknowledged, levelWord, visibleAlerts } from '../model/alerts.js';
import { AlertDialog } from './alert-dialog.js';

export { ALERTS_CHANNEL, ALERTS_URL } from '../alert-center.js';

/** How each source is named on the page. */
export const SOURCE_NAMES = Object.freeze({ livewatch: 'livewatch', alertmanager: 'Prometheus' });

export function sourceName(source) {
  return SOURCE_NAMES[source] || source;
}

/** An http(s) URL to link to, or null: nothing else becomes a link. */
export function safeLink(url) {
  if (typeof url !== 'string' || url === '') return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function detailText(alert) {
  if (alert.source === 'alertmanager') return alert.annotations.description || '';
  const parts = [];
  if (alert.metric) parts.push(alert.metric);
  if (alert.value !== null) parts.push(formatNumber(alert.value, 1));
  if (alert.threshold !== null) parts.push(`(threshold ${formatNumber(alert.threshold, 1)})`);
  return parts.join(' ');
}

export class AlertBanner {
  /**
   * `center`: the page's AlertCenter (one is made from `socket`, `fetch` and
   * `token` if none is given); `dialog`: the AlertDialog for its buttons.
   */
  constructor(root, { center, dialog, socket, fetch, token = null, auth = 'open' } = {}) {
    this.root = root;
    this.ownsCenter = !center;
    this.center = center || new AlertCenter({ socket, fetch, token, auth });
    this.dialog = dialog || null;
    this.banners = new Map(); // alert_id -> {el, level, ...parts}
    this.offs = [];
    setAttr(this.root, 'aria-live', 'polite');
    setAttr(this.root, 'data-count', '0');
  }

  get state() {
    return this.center.state;
  }

  start() {
    this.offs.push(this.center.onChange(() => this.render()));
    this.render();
    return this.center.start();
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    if (this.ownsCenter) this.center.destroy();
  }

  dismiss(alertId) {
    const el = this.banners.get(alertId)?.el;
    const hadFocus = el && typeof el.contains === 'function' && el.contains(globalThis.document?.activeElement);
    this.center.dispatch({ type: 'dismiss', alert_id: alertId });
    if (hadFocus) this.focusAfterRemoval();
  }

  /** Open the dialog to acknowledge or silence an alert ('ack' or 'silence'). */
  act(kind, alertId, opener) {
    const alert = this.center.find(alertId);
    if (!alert) return;
    if (!this.dialog) this.dialog = new AlertDialog({ center: this.center });
    // Once acknowledged the Acknowledge button hides: focus goes on to Silence.
    const banner = this.banners.get(alertId);
    this.dialog.open(kind, alert, opener, banner ? banner.silence : null);
  }

  focusAfterRemoval() {
    // Keep keyboard users near where they were: the next banner, else the page.
    const next = this.root.querySelector('.alert-dismiss') || globalThis.document?.getElementById('main');
    if (next && typeof next.focus === 'function') next.focus();
  }

  render() {
    const visible = visibleAlerts(this.state);
    const keep = new Set(visible.map((a) => a.alert_id));
    let lostFocus = false;
    for (const [id, banner] of this.banners) {
      if (!keep.has(id)) {
        lostFocus ||= typeof banner.el.contains === 'function' && banner.el.contains(globalThis.document?.activeElement);
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
    if (lostFocus) this.focusAfterRemoval();
  }

  createBanner(alertId) {
    const level = h('strong', { class: 'alert-level' });
    const source = h('span', { class: 'alert-source' });
    const message = h('span', { class: 'alert-message' });
    const detail = h('span', { class: 'alert-detail' });
    const link = h('a', { class: 'alert-link', target: '_blank', rel: 'noopener noreferrer' });
    const time = h('time', { class: 'alert-time' });
    const ackNote = h('span', { class: 'alert-ack-note' });
    const ack = h('button', { type: 'button', class: 'btn alert-ack', onclick: () => this.act('ack', alertId, ack) }, 'Acknowledge');
    const silence = h('button', { type: 'button', class: 'btn alert-silence', onclick: () => this.act('silence', alertId, silence) }, 'Silence');
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
      h('span', { class: 'alert-text' }, source, message, detail, link),
      h('span', { class: 'alert-meta' }, time, ackNote),
      h('span', { class: 'alert-actions' }, ack, silence, button),
    );
    return { el, level, source, message, detail, link, time, ackNote, ack, silence, button };
  }

  updateBanner(banner, alert) {
    const word = levelWord(alert.level);
    const text = alertTitle(alert);
    const acknowledged = isAcknowledged(alert) ? alert.acknowledged : null;
    setAttr(banner.el, 'data-level', alert.level);
    setAttr(banner.el, 'data-source', alert.source);
    setAttr(banner.el, 'data-acknowledged', acknowledged ? acknowledged.by : null);
    setAttr(banner.el, 'class', `alert alert-${alert.level}`);
    setAttr(banner.el, 'aria-label', `${word}: ${text}${acknowledged ? `, acknowledged by ${acknowledged.by}` : ''}`);
    setText(banner.level, word);
    setText(banner.source, sourceName(alert.source));
    setText(banner.message, text);
    setText(banner.detail, detailText(alert));
    const href = safeLink(alert.generator_url);
    setAttr(banner.link, 'href', href);
    setText(banner.link, href ? `Open in ${sourceName(alert.source)}` : '');
    setAttr(banner.link, 'aria-label', href ? `Open ${text} in ${sourceName(alert.source)}` : null);
    banner.link.hidden = !href;
    setAttr(banner.time, 'datetime', isoTime(alert.started_at) || null);
    setText(banner.time, alert.started_at ? `since ${clockTime(alert.started_at)}` : '');
    setText(banner.ackNote, acknowledged ? `acknowledged by ${acknowledged.by}` : '');
    setAttr(banner.ackNote, 'title', acknowledged && acknowledged.comment ? acknowledged.comment : null);
    banner.ack.hidden = Boolean(acknowledged);
    setAttr(banner.ack, 'aria-label', `Acknowledge ${alert.level} alert: ${text}`);
    setAttr(banner.silence, 'aria-label', `Silence ${alert.level} alert: ${text}`);
    setAttr(banner.button, 'aria-label', `Dismiss ${alert.level} alert: ${text}`);
  }
}
