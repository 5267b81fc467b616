// Pure formatting helpers. No DOM access: importable from node.

const DASH = '\u2013';

/** Milliseconds since the epoch for an RFC 3339 string, a Date or a number; NaN if unusable. */
export function toMillis(value) {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value === 'string' && value !== '') return Date.parse(value);
  return NaN;
}

/** "just now", "3 s ago", "5 min ago", "2 h ago", "4 d ago" ("in 3 s" for the future). */
export function relativeTime(value, now = Date.now()) {
  const t = toMillis(value);
  if (Number.isNaN(t)) return DASH;
  const diff = Math.round((now - t) / 1000);
  const future = diff < 0;
  const s = Math.abs(diff);
  if (s < 1) return 'just now';
  let text;
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h`;
  else text = `${Math.floor(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units: 0 B, 512 B, 1.5 KiB, 7.8 GiB. */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return DASH;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${BYTE_UNITS[i]}`;
}

/** 42.04 -> "42.0%". */
export function formatPercent(value, digits = 1) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  return `${value.toFixed(digits)}%`;
}

/** A number with fixed digits, or a dash. */
export function formatNumber(value, digits = 0) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  return value.toFixed(digits);
}

/** "0.52 / 0.61 / 0.70" */
export function formatLoad(l1, l5, l15) {
  return [l1, l5, l15].map((v) => formatNumber(v, 2)).join(' / ');
}

/** "12 ms" (one decimal below 10 ms). */
export function formatLatency(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return DASH;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

/** HH:MM:SS of a time, local by default, UTC when asked. */
export function clockTime(value, { utc = false } = {}) {
  const t = toMillis(value);
  if (Number.isNaN(t)) return DASH;
  const d = new Date(t);
  const parts = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds()];
  return parts.map(pad2).join(':');
}

/** ISO 8601 (UTC) for `datetime`/`title` attributes, or '' if unusable. */
export function isoTime(value) {
  const t = toMillis(value);
  return Number.isNaN(t) ? '' : new Date(t).toISOString();
}

/**
 * Threshold level of a percentage: 'critical' at or above critical,
 * 'warning' at or above warning, else 'ok'. Unknown values give 'unknown'.
 */
export function levelFor(value, thresholds) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'unknown';
  const t = thresholds || {};
  if (typeof t.critical === 'number' && value >= t.critical) return 'critical';
  if (typeof t.warning === 'number' && value >= t.warning) return 'warning';
  return 'ok';
}

/** Human word for a level, for text next to colour. */
export function levelLabel(level) {
  switch (level) {
    case 'critical':
      return 'Critical';
    case 'warning':
      return 'Warning';
    case 'ok':
      return 'Normal';
    default:
      return 'Unknown';
  }
}

/** "healthy" -> "Healthy"; anything unknown -> "Unknown". */
export function statusLabel(status) {
  if (status === 'healthy' || status === 'degraded' || status === 'unhealthy') {
    return status[0].toUpperCase() + status.slice(1);
  }
  return 'Unknown';
}

/** Seconds left until `at`, rounded up, never negative. */
export function secondsUntil(at, now = Date.now()) {
  if (typeof at !== 'number' || !Number.isFinite(at)) return 0;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The text of the connection indicator for a LiveSocket state snapshot. */
export function connectionText(snapshot, now = Date.now()) {
  switch (snapshot && snapshot.state) {
    case 'live':
      return 'Live';
    case 'reconnecting':
      return `Reconnecting in ${secondsUntil(snapshot.nextAttemptAt, now)}s`;
    case 'connecting':
      // First handshake of the page, or a retry in flight (counts down to 0).
      return snapshot.attempt > 0 ? 'Reconnecting in 0s' : 'Connecting\u2026';
    case 'offline':
    case 'closed':
      return 'Offline';
    default:
      return 'Connecting\u2026';
  }
}

/** Shorten to `max` characters on one line. */
export function oneLine(text, max = 120) {
  const s = String(text).replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}\u2026` : s;
}

/** A span of time: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return DASH;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return min % 60 ? `${hours} h ${min % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** Bytes per second in binary units: "0 B/s", "1.5 MiB/s". */
export function formatRate(n) {
  const bytes = formatBytes(n);
  return bytes === DASH ? DASH : `${bytes}/s`;
}

const SHORT_UNITS = ['', 'K', 'M', 'G', 'T', 'P'];

/** Short binary units for an axis: 0, 512, 1.5K, 20M (`suffix` after the unit). */
export function formatBytesShort(n, suffix = '') {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return DASH;
  if (n === 0) return '0';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < SHORT_UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = v < 10 && !Number.isInteger(v) ? 1 : 0;
  return `${Number(v.toFixed(digits))}${SHORT_UNITS[i]}${suffix}`;
}

/** HH:MM of a time (local), for axis ticks. */
export function shortTime(value) {
  const t = toMillis(value);
  if (Number.isNaN(t)) return DASH;
  const d = new Date(t);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}
