// Alert state without DOM: a reducer over fire / resolve / acknowledge /
// silence / unsilence / dismiss / load actions, keyed by alert_id, with the
// recently resolved alerts and the active silences.

import { toMillis } from '../format.js';

export const BANNER_LEVELS = Object.freeze(['warning', 'critical']);
const SEVERITY = { warning: 1, critical: 2 };
const RESOLVED_MEMORY = 500;
/** How many resolved alerts the panel lists. */
export const RECENT_RESOLVED = 50;

/** The level as the banner, the panel and the dialog show it. */
export function levelWord(level) {
  return level === 'critical' ? 'CRITICAL' : 'WARNING';
}

/** What an alert is called on the page: its message, else its rule, else its id. */
export function alertTitle(alert) {
  return alert.message || alert.rule || alert.alert_id;
}

/**
 * State: `active` alerts by id, `dismissed` (id -> level when dismissed),
 * `resolved` (id -> rev of the resolve), `recent` (resolved alerts, newest
 * first), `silences` (id -> silence), `ended` (silence id -> rev of its end)
 * and `rev`, a counter bumped by every live change so a late HTTP answer can
 * tell what it predates.
 */
export function emptyAlerts() {
  return {
    active: new Map(),
    dismissed: new Map(),
    resolved: new Map(),
    recent: [],
    silences: new Map(),
    ended: new Map(),
    rev: 0,
  };
}

function stringMap(value) {
  const out = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

function acknowledgement(value) {
  if (!value || typeof value !== 'object' || typeof value.by !== 'string') return null;
  return {
    by: value.by,
    at: typeof value.at === 'string' ? value.at : null,
    comment: typeof value.comment === 'string' ? value.comment : '',
    level: typeof value.level === 'string' ? value.level : null,
  };
}

/** A normalised alert from an event's data or an API record. */
export function toAlert(data, fallbackTimestamp) {
  const timestamp = data.timestamp || fallbackTimestamp || null;
  const startedAt = typeof data.started_at === 'string' && data.started_at !== '' ? data.started_at : timestamp;
  return {
    alert_id: String(data.alert_id),
    level: data.level,
    state: data.state || 'firing',
    rule: data.rule ?? null,
    metric: data.metric ?? null,
    source: typeof data.source === 'string' && data.source !== '' ? data.source : 'livewatch',
    node: typeof data.node === 'string' ? data.node : '',
    message: typeof data.message === 'string' ? data.message : '',
    value: typeof data.value === 'number' ? data.value : null,
    threshold: typeof data.threshold === 'number' ? data.threshold : null,
    labels: stringMap(data.labels),
    annotations: stringMap(data.annotations),
    generator_url: typeof data.generator_url === 'string' ? data.generator_url : '',
    acknowledged: acknowledgement(data.acknowledged),
    silenced_by: Array.isArray(data.silenced_by) ? data.silenced_by.map(String) : [],
    timestamp,
    time: toMillis(timestamp),
    started_at: startedAt,
    started: toMillis(startedAt),
  };
}

/** A normalised silence from an event's data or an API record. */
export function toSilence(data) {
  return {
    silence_id: String(data.silence_id),
    matchers: stringMap(data.matchers),
    starts_at: data.starts_at ?? null,
    ends_at: data.ends_at ?? null,
    ends: toMillis(data.ends_at),
    by: typeof data.by === 'string' ? data.by : '',
    comment: typeof data.comment === 'string' ? data.comment : '',
  };
}

function hasId(data, field = 'alert_id') {
  return data && typeof data === 'object' && data[field] !== undefined && data[field] !== null && data[field] !== '';
}

/** Map a WebSocket event frame to an action, or null if it is not about alerts. */
export function actionForFrame(frame) {
  if (!frame || frame.type !== 'event' || !frame.data || typeof frame.data !== 'object') return null;
  const data = frame.data;
  switch (frame.event) {
    case 'system.alert':
    case 'system.alert_resolved':
      if (!hasId(data)) return null;
      if (frame.event === 'system.alert_resolved' || data.state === 'resolved') {
        return { type: 'resolve', alert_id: String(data.alert_id), alert: toAlert({ ...data, state: 'resolved' }, frame.timestamp) };
      }
      return { type: 'fire', alert: toAlert(data, frame.timestamp) };
    case 'system.alert_acknowledged':
      if (!hasId(data)) return null;
      return { type: 'acknowledge', alert_id: String(data.alert_id), acknowledged: acknowledgement(data.acknowledged) };
    case 'system.silence':
      if (!hasId(data, 'silence_id')) return null;
      return { type: 'silence', silence: toSilence(data), alert_ids: Array.isArray(data.alert_ids) ? data.alert_ids.map(String) : [] };
    case 'system.silence_ended':
      if (!hasId(data, 'silence_id')) return null;
      return { type: 'unsilence', silence_id: String(data.silence_id) };
    default:
      return null;
  }
}

function remember(map, id, rev) {
  const next = new Map(map);
  next.delete(id);
  next.set(id, rev);
  while (next.size > RESOLVED_MEMORY) next.delete(next.keys().next().value);
  return next;
}

function newestFirst(alerts) {
  return alerts
    .map((a, i) => [a, i])
    .sort(([a, i], [b, j]) => (b.time || 0) - (a.time || 0) || i - j)
    .map(([a]) => a)
    .slice(0, RECENT_RESOLVED);
}

function withAlerts(state, ids, change) {
  let active = state.active;
  for (const id of ids) {
    const held = active.get(id);
    if (!held) continue;
    if (active === state.active) active = new Map(active);
    active.set(id, change(held));
  }
  return active;
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
      const held = state.active.get(id);
      const active = new Map(state.active);
      active.delete(id);
      const dismissed = new Map(state.dismissed);
      dismissed.delete(id);
      let recent = state.recent;
      if (action.alert) {
        // The resolve event does not repeat who acknowledged; the held alert knows.
        const acknowledged = action.alert.acknowledged || (held ? held.acknowledged : null);
        const entry = { ...action.alert, acknowledged, rev };
        recent = newestFirst([entry, ...state.recent.filter((a) => a.alert_id !== id)]);
      }
      return { ...state, active, dismissed, recent, resolved: remember(state.resolved, id, rev), rev };
    }
    case 'acknowledge': {
      if (!state.active.has(action.alert_id)) return state;
      const rev = state.rev + 1;
      const active = withAlerts(state, [action.alert_id], (a) => ({ ...a, acknowledged: action.acknowledged, rev }));
      return { ...state, active, rev };
    }
    case 'silence': {
      const silence = action.silence;
      if (state.ended.has(silence.silence_id)) return state;
      const rev = state.rev + 1;
      const silences = new Map(state.silences);
      silences.set(silence.silence_id, { ...silence, rev });
      const active = withAlerts(state, action.alert_ids || [], (a) =>
        a.silenced_by.includes(silence.silence_id) ? a : { ...a, silenced_by: [...a.silenced_by, silence.silence_id], rev },
      );
      return { ...state, active, silences, rev };
    }
    case 'unsilence': {
      const id = action.silence_id;
      const rev = state.rev + 1;
      const silences = new Map(state.silences);
      silences.delete(id);
      const covered = [...state.active.values()].filter((a) => a.silenced_by.includes(id)).map((a) => a.alert_id);
      const active = withAlerts(state, covered, (a) => ({ ...a, silenced_by: a.silenced_by.filter((s) => s !== id), rev }));
      return { ...state, active, silences, ended: remember(state.ended, id, rev), rev };
    }
    case 'dismiss': {
      const current = state.active.get(action.alert_id);
      if (!current) return state;
      const dismissed = new Map(state.dismissed);
      dismissed.set(action.alert_id, current.level);
      return { ...state, dismissed };
    }
    case 'load':
      return load(state, action);
    default:
      return state;
  }
}

/**
 * The answer of GET api/monitoring/alerts (`active`, the resolved `recent`
 * and the active `silences`), asked for when the state was at rev `since`.
 * It is the truth about everything up to `since`; live changes after it win.
 */
function load(state, action) {
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

  let recent = state.recent;
  if (Array.isArray(action.recent)) {
    const loaded = action.recent.filter((r) => hasId(r) && r.state === 'resolved').map((r) => ({ ...toAlert(r), rev: since }));
    const ids = new Set(loaded.map((a) => a.alert_id));
    const later = state.recent.filter((a) => a.rev > since && !ids.has(a.alert_id));
    recent = newestFirst([...later, ...loaded]);
  }

  let silences = state.silences;
  if (Array.isArray(action.silences)) {
    silences = new Map();
    const loaded = action.silences.filter((s) => hasId(s, 'silence_id')).map(toSilence);
    const listedSilences = new Set(loaded.map((s) => s.silence_id));
    for (const [id, held] of state.silences) {
      if (held.rev > since || listedSilences.has(id)) silences.set(id, held);
    }
    for (const silence of loaded) {
      const endedAt = state.ended.get(silence.silence_id);
      if (endedAt !== undefined && endedAt > since) continue;
      const held = state.silences.get(silence.silence_id);
      if (!held || held.rev <= since) silences.set(silence.silence_id, { ...silence, rev: since });
    }
  }
  return { ...state, active, dismissed, recent, silences };
}

function bySeverityThenOrder(alerts) {
  return alerts
    .map((a, i) => [a, i])
    .sort(([a, i], [b, j]) => SEVERITY[b.level] - SEVERITY[a.level] || i - j)
    .map(([a]) => a);
}

/** Is this alert's acknowledgement still good (given at its level or above)? */
export function isAcknowledged(alert) {
  const ack = alert.acknowledged;
  if (!ack) return false;
  return ack.level === null || (SEVERITY[alert.level] ?? 0) <= (SEVERITY[ack.level] ?? 0);
}

export function isSilenced(alert) {
  return alert.silenced_by.length > 0;
}

/**
 * Alerts to show as banners: not silenced, and not dismissed (or escalated
 * above the level they had when dismissed). Critical first, then in the
 * order they were first seen.
 */
export function visibleAlerts(state) {
  const out = [];
  for (const alert of state.active.values()) {
    if (isSilenced(alert)) continue;
    const dismissedAt = state.dismissed.get(alert.alert_id);
    if (dismissedAt !== undefined && SEVERITY[alert.level] <= SEVERITY[dismissedAt]) continue;
    out.push(alert);
  }
  return bySeverityThenOrder(out);
}

/**
 * What the alerts panel lists: the alerts firing now split into `firing`
 * (nobody is on them), `acknowledged` and `silenced`; the `resolved` ones,
 * newest first; the active `silences`, the soonest to end first.
 */
export function panelLists(state) {
  const firing = [];
  const acknowledged = [];
  const silenced = [];
  for (const alert of state.active.values()) {
    if (isSilenced(alert)) silenced.push(alert);
    else if (isAcknowledged(alert)) acknowledged.push(alert);
    else firing.push(alert);
  }
  const silences = [...state.silences.values()].sort((a, b) => (a.ends || 0) - (b.ends || 0));
  return {
    firing: bySeverityThenOrder(firing),
    acknowledged: bySeverityThenOrder(acknowledged),
    silenced: bySeverityThenOrder(silenced),
    resolved: state.recent,
    silences,
  };
}

/** The matchers that silence exactly this alert. */
export function matchersFor(alert) {
  if (alert.source === 'alertmanager') return { source: 'alertmanager', ...alert.labels };
  const matchers = { source: alert.source, rule: String(alert.rule ?? '') };
  if (alert.node) matchers.node = alert.node;
  return matchers;
}

/** "rule=cpu node=web-1" */
export function matchersText(matchers) {
  return Object.entries(matchers || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
