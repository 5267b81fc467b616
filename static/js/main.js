// Page entry point: one LiveSocket shared by every widget.

import { needsToken, readConfig, tokenMessage } from './config.js';
import { LiveSocket } from './socket.js';
import { pageLocation } from './socket/url.js';
import { AlertBanner } from './widgets/alert-banner.js';
import { HistoryCharts } from './widgets/charts.js';
import { LiveFeed } from './widgets/live-feed.js';
import { SystemStatus } from './widgets/system-status.js';

export function start(doc = globalThis.document, win = globalThis.window) {
  const config = readConfig(doc);
  const where = pageLocation();
  // The server would refuse the socket: say so instead of retrying forever.
  const tokenMissing = needsToken(config, where.search);
  const socket = new LiveSocket();
  const mount = (id) => doc.getElementById(id);

  const widgets = [
    new AlertBanner(mount('alerts'), { socket }),
    new SystemStatus(mount('system-status'), { socket, config, blocked: tokenMissing ? tokenMessage(where.pathname) : null }),
    new LiveFeed(mount('feed'), { socket, config }),
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
  if (!tokenMissing) socket.connect();

  const app = { socket, config, widgets, tokenMissing };
  if (win) win.livewatch = app;
  return app;
}

// In the page (not when imported by tests). The mount points decide, not the
// config element: a page whose config is missing still starts.
if (typeof document !== 'undefined' && document.getElementById('system-status')) {
  start();
}
