// A page config as the server renders it into #livewatch-config (the shape
// static/js/config.js documents). The numbers and the few catalogue entries
// are test data: the real ones come from the server.

export const PAGE_CONFIG = Object.freeze({
  version: '0.1.0',
  auth: 'open',
  history_seconds: 900,
  collector_interval: 2.0,
  thresholds: {
    cpu: { warning: 75, critical: 90 },
    memory: { warning: 80, critical: 90 },
    disk: { warning: 80, critical: 90 },
  },
  events: {
    'task.started': { label: 'Task started', tone: 'info', glyph: '\u25B6' },
    'task.failed': { label: 'Task failed', tone: 'danger', glyph: '\u2717' },
    'business.updated': { label: 'Business updated', tone: 'business', glyph: '\u270E' },
    'system.alert': { label: 'System alert', tone: 'danger', glyph: '!' },
  },
});
