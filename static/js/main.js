// Page entry point: one LiveSocket shared by every widget.

import { LiveSocket } from './socket.js';
import { AlertBanner } from './widgets/alert-banner.js';
import { HistoryCharts } from './widgets/charts.js';
import { LiveFeed } from './widgets/live-feed.js';
import { SystemStatus } from './widgets/system-status.js';

export const DEFAULT_CONFIG = Object.freeze({
  thresholds: {
    cpu: { warning: 75, critical: 90 },
    memory: { warning: 80, critical: 90 },
    disk: { warning: 80, critical: 90 },
  },
  history_seconds: 900,
  collector_interval: 2.0,
  version: '',
});

/** The server-rendered config, over the defaults. */
export function parseConfig(text) {
  let parsed = {};
  try {
    parsed = JSON.parse(text || '{}') || {};
  } catch (err) {
    console.warn('livewatch: bad page config, using defaults', err);
  }
  return {
    ...DEFAULT_CONFIG,
    ...parsed,
    thresholds: { ...DEFAULT_CONFIG.thresholds, ...(parsed.thresholds || {}) },
  };
}

export function start(doc = globalThis.document, win = globalThis.window) {
  const config = parseConfig(doc.getElementById('livewatch-config')?.textContent);
  const socket = new LiveSocket();
  const mount = (id) => doc.getElementById(id);

  const widgets = [
    new AlertBanner(mount('alerts'), { socket }),
    new SystemStatus(mount('system-status'), { socket, config }),
    new LiveFeed(mount('feed'), { socket }),
    new HistoryCharts(mount('charts'), { socket, config }),
  ];
  for (const w of widgets) w.start();

  // After a reconnect, reload what may have changed while we were away.
  let everLive = false;
  let live = false;
  socket.on('state', (s) => {
    const nowLive = s.state === 'live';
    if (nowLive && !live && everLive) for (const w of widgets) w.refresh();
    if (nowLive) everLive = true;
    live = nowLive;
  });

  socket.subscribe('system');
  socket.connect();

  const app = { socket, config, widgets };
  if (win) win.livewatch = app;
  return app;
}

if (typeof document !== 'undefined' && document.getElementById('livewatch-config')) {
  start();
}
