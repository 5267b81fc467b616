// Page entry point: one LiveSocket shared by every widget.

import { AlertCenter } from './alert-center.js';
import { needsToken, readConfig, tokenMessage } from './config.js';
import { OwnNode } from './model/own-node.js';
import { LiveSocket } from './socket.js';
import { pageLocation, pageParam } from './socket/url.js';
import { AlertBanner } from './widgets/alert-banner.js';
import { AlertDialog } from './widgets/alert-dialog.js';
import { AlertsPanel } from './widgets/alerts-panel.js';
import { HistoryCharts } from './widgets/charts.js';
import { ClusterNodes } from './widgets/cluster-nodes.js';
import { CpuCores } from './widgets/cpu-cores.js';
import { LiveFeed } from './widgets/live-feed.js';
import { SystemStatus } from './widgets/system-status.js';
import { TopProcesses } from './widgets/top-processes.js';

/**
 * The channels the page subscribes itself: `global`, `system` and, in open
 * mode, the `user:{id}` / `business:{id}` of the page's own query (the ids the
 * socket passes on). In token mode the token's channels come from `connected`
 * (docs/protocol.md, Connecting and Channels).
 */
export function pageChannels(config, search) {
  const channels = ['global', 'system'];
  if (config && config.auth === 'token') return channels;
  const user = pageParam(search, 'user_id');
  const business = pageParam(search, 'business_id');
  if (user !== null) channels.push(`user:${user}`);
  if (business !== null) channels.push(`business:${business}`);
  return channels;
}

export function start(doc = globalThis.document, win = globalThis.window) {
  const config = readConfig(doc);
  const where = pageLocation();
  // The server would refuse the socket: say so instead of retrying forever.
  const tokenMissing = needsToken(config, where.search);
  const token = pageParam(where.search, 'token');
  const mount = (id) => doc.getElementById(id);

  // Feed channels start from their history, so the socket goes on from there.
  let feed = null;
  const socket = new LiveSocket({ startFrom: (channel) => (feed ? feed.loadChannel(channel) : null) });
  feed = new LiveFeed(mount('feed'), { socket, config, token });
  // The gauges, charts, cores and processes show the node of `connected` only.
  const ownNode = new OwnNode(socket);
  const cores = new CpuCores(mount('cpu-cores'), { config });
  const processes = new TopProcesses(mount('top-processes'));
  const onSample = (sample) => {
    cores.apply(sample);
    processes.apply(sample);
  };

  // Banners and the panel share one alert state; in open mode the page's user_id is the
  // name an acknowledgement or silence starts with.
  const alerts = new AlertCenter({ socket, token, auth: config.auth });
  const name = config.auth === 'token' ? '' : pageParam(where.search, 'user_id') || '';
  const dialog = new AlertDialog({ center: alerts, name, doc });
  const widgets = [
    new AlertBanner(mount('alerts'), { center: alerts, dialog }),
    new SystemStatus(mount('system-status'), { socket, config, token, ownNode, onSample, blocked: tokenMissing ? tokenMessage(where.pathname) : null }),
    cores,
    feed,
    new HistoryCharts(mount('charts'), { socket, config, token, ownNode }),
    processes,
    new ClusterNodes(mount('cluster'), { socket, config, token, ownNode }),
  ];
  if (mount('alerts-panel')) widgets.push(new AlertsPanel(mount('alerts-panel'), { center: alerts, name }));
  for (const w of widgets) w.start();

  // After a reconnect the socket recovers what was missed; where it cannot,
  // it reports the channel stale and the widgets that show it load again.
  if (tokenMissing) {
    socket.subscribe('system');
  } else {
    for (const channel of pageChannels(config, where.search)) socket.subscribe(channel);
    socket.connect();
  }

  const app = { socket, config, widgets, alerts, dialog, tokenMissing, ownNode };
  if (win) win.livewatch = app;
  return app;
}

// In the page (not when imported by tests). The mount points decide, not the
// config element: a page whose config is missing still starts.
if (typeof document !== 'undefined' && document.getElementById('system-status')) {
  start();
}
