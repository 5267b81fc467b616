// Live feed state without DOM: which events go in, their keys, icons and
// one-line summaries, the 50-item cap, filters and pause/resume.

import { oneLine, toMillis } from '../format.js';

export const MAX_ITEMS = 50;

/** Event types that have their own widgets and stay out of the feed. */
export const EXCLUDED_EVENTS = Object.freeze(new Set(['system.metric', 'system.health']));

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

/** Items matching the filters ('' or undefined = any). */
export function filterItems(items, { event = '', channel = '' } = {}) {
  return items.filter((it) => (!event || it.event === event) && (!channel || it.channel === channel));
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
    this.pendingCount = 0; // every event received while paused
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
   * The server restarted and `channel` counts from 1 again: give the items we
   * hold from the old run distinct keys (`global:7~1`) so new ones can't collide.
   */
  retire(channel) {
    this.epoch = (this.epoch || 0) + 1;
    const tag = this.epoch;
    const rekey = (it) => (it.channel === channel && !it.key.includes('~') ? { ...it, key: `${it.key}~${tag}` } : it);
    this.items = this.items.map(rekey);
    this.pending = this.pending.map(rekey);
  }

  pause() {
    this.paused = true;
  }

  /** Apply what came in while paused. */
  resume() {
    this.paused = false;
    if (this.pending.length) this.items = prependItems(this.items, this.pending, this.max);
    this.pending = [];
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
