// The page's LiveSocket over the fakes, the way the widget tests start: subscribed to one
// channel, connected and open, at a fixed random jitter.

import { LiveSocket } from '../../static/js/socket.js';
import { FakeWebSocket, FakeWindow, fakeLogger } from './fakes.mjs';

export function openSocket(clock, channel) {
  FakeWebSocket.reset();
  const socket = new LiveSocket({
    WebSocket: FakeWebSocket,
    timers: clock.timerFns,
    now: clock.now,
    random: () => 0.5,
    window: new FakeWindow(),
    navigator: { onLine: true },
    location: { baseURI: 'http://t.test/', protocol: 'http:', search: '' },
    logger: fakeLogger(),
  });
  socket.subscribe(channel);
  socket.connect();
  const ws = FakeWebSocket.last;
  ws.open();
  return { socket, ws };
}

/** Let pending fetches and their handlers finish. */
export const flush = () => new Promise((r) => setImmediate(r));
