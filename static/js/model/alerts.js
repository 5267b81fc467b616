// Active-alert state without DOM: a reducer over fire / resolve / dismiss /
// load actions, keyed by alert_id.

import { toMillis } from '../format.js';

export const BANNER_LEVELS = Object.freeze(['warning', 'critical']);
const SEVERITY = { warning: 1, critical: 2 };
const RESOLVED_MEMORY = 500;

/**
 * State: `active` alerts by id, `dismissed` (id -> level when dismissed),
 * `resolved` (id -> rev of the resolve) and `rev`, a counter bumped by every
 * live fire/resolve so a late HTTP answer can tell what it predates.
 */
export function emptyAlerts() {
  return { active: new Map(), dismissed: new Map(), resolved: new Map(), rev: 0 };
}

/** A normalised alert from an event's data or an API record. */
export function toAlert(data, fallbackTimestamp) {
  const timestamp = data.timestamp || fallbackTimestamp || null;
  return {
    alert_id: String(data.alert_id),
    level: data.level,
    state: data.state || 'firing',
    rule: data.rule ?? null,
    metric: data.metric ?? null,
    message: typeof data.message === 'string' ? data.message : '',
    value: typeof data.value === 'number' ? data.value : null,
    threshold: typeof data.threshold === 'number' ? data.threshold : null,
    timestamp,
    time: toMillis(timestamp),
  };
}

function hasId(data) {
  return data && typeof data === 'object' && data.alert_id !== undefined && data.alert_id !== null && data.alert_id !== '';
}

/** Map a WebSocket event frame to an action, or null if it is not about alerts. */
export function actionForFrame(frame) {
  if (!frame || frame.type !== 'event' || !hasId(frame.data)) return null;
  if (frame.event === 'system.alert_resolved' || (frame.event === 'system.alert' && frame.data.state === 'resolved')) {
    return { type: 'resolve', alert_id: String(frame.data.alert_id) };
  }
  if (frame.event === 'system.alert') {
    return { type: 'fire', alert: toAlert(frame.data, frame.timestamp) };
  }
  return null;
}

function remember(map, id, rev) {
  const next = new Map(map);
  next.delete(id);
  next.set(id, rev);
  while (next.size > RESOLVED_MEMORY) next.delete(next.keys().next().value);
  return next;
}

/** Pure reducer. Returns the same state object when nothing changed. */
export function reduceAlerts(state, action) {
  switch (action && action.type) {
    case 'fire': {
      if (!BANNER_LEVELS.includes(action.alert.level)) return state;
      const rev = state.rev + 1;
      const alert = { ...action.alert, rev };
      const active = new Map(state.active);
      active.set(alert.alert_id, alert);
      let resolved = state.resolved;
      if (resolved.has(alert.alert_id)) {
        resolved = new Map(resolved);
        resolved.delete(alert.alert_id);
      }
      return { ...state, active, resolved, rev };
    }
    case 'resolve': {
      const id = action.alert_id;
      const rev = state.rev + 1;
      const active = new Map(state.active);
      active.delete(id);
      const dismissed = new Map(state.dismissed);
      dismissed.delete(id);
      return { active, dismissed, resolved: remember(state.resolved, id, rev), rev };
    }
    case 'dismiss': {
      const current = state.active.get(action.alert_id);
      if (!current) return state;
      const dismissed = new Map(state.dismissed);
      dismissed.set(action.alert_id, current.level);
      return { ...state, dismissed };
    }
    case 'load': {
      // The `active` list of GET api/monitoring/alerts, asked for when the
      // state was at rev `since`. It is the truth about everything up to
      // `since`; live events after it win.
      const since = typeof action.since === 'number' ? action.since : state.rev;
      const records = [];
      for (const record of action.records || []) {
        if (!hasId(record) || (record.state && record.state !== 'firing')) continue;
        const alert = toAlert(record);
        if (BANNER_LEVELS.includes(alert.level)) records.push(alert);
      }
      const listed = new Set(records.map((a) => a.alert_id));
      const active = new Map(state.active);
      const dismissed = new Map(state.dismissed);
      for (const [id, held] of state.active) {
        if (held.rev <= since && !listed.has(id)) {
          active.delete(id); // resolved while we were not listening
          dismissed.delete(id);
        }
      }
      for (const alert of records) {
        const resolvedAt = state.resolved.get(alert.alert_id);
        if (resolvedAt !== undefined && resolvedAt > since) continue;
        const held = state.active.get(alert.alert_id);
        if (held && held.rev > since) continue;
        active.set(alert.alert_id, { ...alert, rev: since });
      }
      return { ...state, active, dismissed };
    }
    default:
      return state;
  }
}

/**
 * Alerts to show: not dismissed, or escalated above the level they had when
 * dismissed. Critical first, then in the order they were first seen.
 */
export function visibleAlerts(state) {
  const out = [];
  for (const alert of state.active.values()) {
    const dismissedAt = state.dismissed.get(alert.alert_id);
    if (dismissedAt !== undefined && SEVERITY[alert.level] <= SEVERITY[dismissedAt]) continue;
    out.push(alert);
  }
  return out
    .map((a, i) => [a, i])
    .sort(([a, i], [b, j]) => SEVERITY[b.level] - SEVERITY[a.level] || i - j)
    .map(([a]) => a);
}
