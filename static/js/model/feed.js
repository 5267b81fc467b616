// Live feed state without DOM: which events go in, their keys, icons and
// one-line summaries, the 50-item cap, filters and pause/resume, history
// merged in by time, and the markers that say events were missed.

import { isoTime, oneLine, toMillis } from '../format.js';

export const MAX_ITEMS = 50;

/** Event types that have their own widgets and stay out of the feed. */
export const EXCLUDED_EVENTS = Object.freeze(new Set(['system.metric', 'system.health']));

/**
 * Channels that carry only excluded events: `system` has system.metric and
 * system.health (docs/protocol.md, Channels). The feed loads no history for
 * them and shows no marker when they are not recovered.
 */
export const NON_FEED_CHANNELS = Object.freeze(new Set(['system']));

/** Can `channel` carry feed events? */
export function isFeedChannel(channel) {
  return typeof channel === 'string' && channel !== '' && !NON_FEED_CHANNELS.has(channel);
}

/** What the marker says for each `reason` of a `subscribed` with `recovered: false` (docs/protocol.md, Recovery). */
export const MISSED_REASONS = Object.freeze({
  epoch_changed: 'The server lost its history (it restarted).',
  too_old: 'They are older than the history the server keeps.',
  too_many: 'More were missed than the server replays at once.',
});

/** The sentence of a marker for `reason`; an unknown reason is quoted as is. */
export function missedText(reason) {
  return Object.hasOwn(MISSED_REASONS, reason) ? MISSED_REASONS[reason] : `Not recovered: ${reason}.`;
}

/** The icon of an event type the catalogue does not know. */
export const DEFAULT_ICON = Object.freeze({ glyph: '\u2022', tone: 'neutral', label: 'Event' });

const TONE = /^[a-z][a-z0-9-]*$/; // becomes part of a class name: tone-<tone>

function text(v) {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

/**
 * The event catalogue of the page config ({"<event type>": {label, tone,
 * glyph}}) as a Map of frozen icons. Entries that are not objects are left
 * out; a missing or odd field takes the default icon's.
 */
export function eventCatalogue(events) {
  const out = new Map();
  if (!events || typeof events !== 'object' || Array.isArray(events)) return out;
  for (const [event, entry] of Object.entries(events)) {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) continue;
    out.set(
      event,
      Object.freeze({
        glyph: text(entry.glyph) ?? DEFAULT_ICON.glyph,
        tone: typeof entry.tone === 'string' && TONE.test(entry.tone) ? entry.tone : DEFAULT_ICON.tone,
        label: text(entry.label) ?? DEFAULT_ICON.label,
      }),
    );
  }
  return out;
}

const NO_EVENTS = new Map();

/** Glyph, tone (colour family) and label of `event` in `catalogue` (from eventCatalogue()). */
export function iconFor(event, catalogue = NO_EVENTS) {
  return catalogue.get(event) ?? DEFAULT_ICON;
}

/** Does this frame belong in the feed? */
export function isFeedFrame(frame) {
  return Boolean(frame) && frame.type === 'event' && typeof frame.event === 'string' && !EXCLUDED_EVENTS.has(frame.event);
}

/** The stable DOM key of a frame. */
export function frameKey(frame) {
  return `${frame.channel}:${frame.seq}`;
}

const SUMMARY_FIELDS = ['title', 'message', 'name', 'task_id', 'playbook_id', 'approval_id', 'business_id', 'kpi', 'metric', 'stage'];

function scalar(v) {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** A short one-line description of an event's data. */
export function summarize(event, data) {
  if (data === null || data === undefined) return '';
  if (scalar(data)) return oneLine(String(data));
  if (typeof data !== 'object' || Array.isArray(data)) return '';
  if (event === 'business.stage_changed' && scalar(data.from_stage) && scalar(data.to_stage)) {
    return oneLine(`${data.from_stage} \u2192 ${data.to_stage}`);
  }
  for (const field of SUMMARY_FIELDS) {
    const v = data[field];
    if (scalar(v) && String(v).trim() !== '') {
      const text = field === 'title' || field === 'message' || field === 'name' ? String(v) : `${field}: ${v}`;
      return oneLine(text);
    }
  }
  // Fall back to the first few scalar fields.
  const parts = [];
  for (const [k, v] of Object.entries(data)) {
    if (scalar(v)) parts.push(`${k}: ${v}`);
    if (parts.length === 3) break;
  }
  return oneLine(parts.join(', '));
}

/** Feed item built from an event frame; icons come from `catalogue` (see eventCatalogue()). */
export function toItem(frame, catalogue = NO_EVENTS) {
  return {
    key: frameKey(frame),
    event: frame.event,
    channel: frame.channel,
    seq: frame.seq,
    data: frame.data,
    timestamp: frame.timestamp,
    time: toMillis(frame.timestamp),
    icon: iconFor(frame.event, catalogue),
    summary: summarize(frame.event, frame.data),
  };
}

/**
 * The marker shown when missed events of `channel` could not be recovered and
 * were loaded again instead (`refreshed`: whether that load worked). `id`
 * makes its key unique; `time` places it.
 */
export function markerItem(channel, reason, time, id, refreshed = true) {
  return {
    key: `missed:${channel}:${id}`,
    marker: 'missed',
    event: null,
    channel,
    seq: null,
    reason,
    refreshed,
    data: null,
    timestamp: isoTime(time),
    time,
    icon: null,
    summary: missedText(reason),
  };
}

/**
 * Put `incoming` (oldest first) in front of `items` (newest first). A key
 * already present is replaced by the newer item. Returns a new array of at
 * most `max` items.
 */
export function prependItems(items, incoming, max = MAX_ITEMS) {
  const fresh = [...incoming].reverse();
  const keys = new Set();
  const out = [];
  for (const item of fresh.concat(items)) {
    if (keys.has(item.key)) continue;
    keys.add(item.key);
    out.push(item);
    if (out.length === max) break;
  }
  return out;
}

function sortTime(item) {
  return Number.isNaN(item.time) ? -Infinity : item.time;
}

/**
 * Merge `incoming` (any order, e.g. a history answer) into `items` (newest
 * first): one item per key (an item already held stays, so its node does),
 * newest first by time, then by seq. Returns a new array of at most `max`.
 */
export function mergeItems(items, incoming, max = MAX_ITEMS) {
  const keys = new Set(items.map((it) => it.key));
  const all = [...items];
  for (const item of incoming) {
    if (keys.has(item.key)) continue;
    keys.add(item.key);
    all.push(item);
  }
  // Stable: items of equal time and seq keep the order they had.
  all.sort((a, b) => sortTime(b) - sortTime(a) || (b.seq ?? 0) - (a.seq ?? 0));
  return all.slice(0, max);
}

/** Items matching the filters ('' or undefined = any). A marker matches any type: it is about its channel. */
export function filterItems(items, { event = '', channel = '' } = {}) {
  return items.filter((it) => (!event || it.marker || it.event === event) && (!channel || it.channel === channel));
}

/** The feed: items newest first, capped, with pause/resume and what was seen. */
export class FeedModel {
  /** `events`: the event catalogue of the page config. */
  constructor({ max = MAX_ITEMS, events = {} } = {}) {
    this.max = max;
    this.catalogue = eventCatalogue(events);
    this.items = [];
    this.paused = false;
    this.pending = []; // oldest first, at most `max`
    this.pendingLoads = []; // history and markers that came while paused, newest first
    this.pendingCount = 0; // every event received while paused
    this.markers = 0;
    this.eventTypes = new Set();
    this.channels = new Set();
  }

  /** Offer a frame. Returns true if the visible list changed. */
  add(frame) {
    if (!isFeedFrame(frame)) return false;
    const item = toItem(frame, this.catalogue);
    this.eventTypes.add(item.event);
    this.channels.add(item.channel);
    if (this.paused) {
      this.pending.push(item);
      if (this.pending.length > this.max) this.pending.shift();
      this.pendingCount += 1;
      return false;
    }
    this.items = prependItems(this.items, [item], this.max);
    return true;
  }

  /**
   * Merge event frames loaded over HTTP (a channel's history). Events already
   * shown stay as they are. Returns true if the visible list changed.
   */
  load(frames) {
    const incoming = frames.filter(isFeedFrame).map((frame) => toItem(frame, this.catalogue));
    for (const item of incoming) {
      this.eventTypes.add(item.event);
      this.channels.add(item.channel);
    }
    if (!incoming.length) return false;
    if (this.paused) {
      this.pendingLoads = mergeItems(this.pendingLoads, incoming, this.max);
      return false;
    }
    this.items = mergeItems(this.items, incoming, this.max);
    return true;
  }

  /**
   * Say that events of `channel` were missed and loaded again (`reason` from
   * the server). The marker goes on top: at `now`, or at the newest item's
   * time if the clocks disagree. Returns true if the visible list changed.
   */
  mark(channel, reason, now, refreshed = true) {
    this.markers += 1;
    const newest = this.items.length ? sortTime(this.items[0]) : -Infinity;
    const item = markerItem(channel, reason, Math.max(now, newest), this.markers, refreshed);
    this.channels.add(channel);
    if (this.paused) {
      this.pendingLoads = prependItems(this.pendingLoads, [item], this.max);
      return false;
    }
    this.items = prependItems(this.items, [item], this.max);
    return true;
  }

  /**
   * The server restarted and `channel` counts from 1 again: give the items we
   * hold from the old run distinct keys (`global:7~1`) so new ones can't collide.
   */
  retire(channel) {
    this.epoch = (this.epoch || 0) + 1;
    const tag = this.epoch;
    const rekey = (it) => (it.channel === channel && !it.marker && !it.key.includes('~') ? { ...it, key: `${it.key}~${tag}` } : it);
    this.items = this.items.map(rekey);
    this.pending = this.pending.map(rekey);
    this.pendingLoads = this.pendingLoads.map(rekey);
  }

  pause() {
    this.paused = true;
  }

  /** Apply what came in while paused. */
  resume() {
    this.paused = false;
    if (this.pending.length) this.items = prependItems(this.items, this.pending, this.max);
    if (this.pendingLoads.length) this.items = mergeItems(this.items, this.pendingLoads, this.max);
    this.pending = [];
    this.pendingLoads = [];
    this.pendingCount = 0;
  }

  view(filters) {
    return filterItems(this.items, filters);
  }

  sortedEventTypes() {
    return [...this.eventTypes].sort();
  }

  sortedChannels() {
    return [...this.channels].sort();
  }
}
