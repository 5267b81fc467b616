// LiveSocket as a whole: the state machine, its timers and how it wires the
// parts in static/js/socket/ (each part has its own socket-*.test.mjs).

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import * as socketModule from '../../static/js/socket.js';
import { DEFAULTS, LiveSocket } from '../../static/js/socket.js';
import * as backoffModule from '../../static/js/socket/backoff.js';
import * as urlModule from '../../static/js/socket/url.js';
import { ALMOST_ONE, FakeClock, FakeWebSocket, FakeWindow, fakeLogger, sequenceRandom } from './fakes.mjs';

const LOCATION = { baseURI: 'http://example.test/watch/', protocol: 'http:', search: '' };

function setup(options = {}) {
  const clock = new FakeClock();
  const win = new FakeWindow();
  const logger = fakeLogger();
  const socket = new LiveSocket({
    WebSocket: FakeWebSocket,
    timers: clock.timerFns,
    now: clock.now,
    random: () => ALMOST_ONE,
    window: win,
    navigator: { onLine: true },
    location: LOCATION,
    logger,
    ...options,
  });
  const states = [];
  socket.on('state', (s) => states.push(s));
  return { socket, clock, win, logger, states };
}

/** The server's first frame; `channels` are the connection's own (none by default). */
function greet(ws, channels = [], extra = {}) {
  ws.receive({ type: 'connected', connection_id: 'c', node: 'n1', epoch: 'boot1', channels, auto_subscribed: false, timestamp: 't', ...extra });
}

/** Drop the current socket (never opened) and return the reconnect delay it got. */
function failAndMeasure(clock, socket) {
  FakeWebSocket.last.drop();
  const { state, nextAttemptAt } = socket.state;
  assert.equal(state, 'reconnecting');
  return nextAttemptAt - clock.time;
}

beforeEach(() => FakeWebSocket.reset());

describe('public API', () => {
  test('socket.js still exports the URL and backoff helpers and the defaults', () => {
    for (const name of ['backoffBound', 'backoffDelay']) assert.equal(socketModule[name], backoffModule[name], name);
    for (const name of ['socketUrl', 'SOCKET_PATH', 'FORWARDED_PARAMS']) assert.equal(socketModule[name], urlModule[name], name);
    assert.deepEqual(
      { ...DEFAULTS },
      { baseDelay: 500, maxDelay: 30000, stableAfter: 10000, pingInterval: 20000, pongTimeout: 10000, connectTimeout: 10000 },
    );
    assert.ok(Object.isFrozen(DEFAULTS));
  });
});

describe('url', () => {
  test('outside a browser, a missing location is a clear error', () => {
    assert.throws(() => new LiveSocket({ WebSocket: FakeWebSocket, window: null, navigator: null }), /options\.url or options\.location/);
    const socket = new LiveSocket({ WebSocket: FakeWebSocket, window: null, navigator: null, url: 'ws://x.test/ws' });
    assert.equal(socket.url, 'ws://x.test/ws');
  });

  test('the client connects to the computed URL', () => {
    const { socket } = setup({ location: { baseURI: 'https://h.test/p/', protocol: 'https:', search: '?user_id=5' } });
    socket.connect();
    assert.equal(FakeWebSocket.last.url, 'wss://h.test/p/api/monitoring/ws?user_id=5&auto_subscribe=false');
  });
});

describe('backoff', () => {
  test('failed connections back off with growing delays up to the cap', () => {
    const { socket, clock } = setup();
    socket.connect();
    const delays = [];
    for (let i = 0; i < 9; i += 1) {
      const delay = failAndMeasure(clock, socket);
      delays.push(delay);
      const count = FakeWebSocket.instances.length;
      clock.advance(delay - 1);
      assert.equal(FakeWebSocket.instances.length, count, 'no attempt before the delay');
      clock.advance(1);
      assert.equal(FakeWebSocket.instances.length, count + 1, 'an attempt when the delay ends');
    }
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  test('each delay uses the injected random source', () => {
    const { socket, clock } = setup({ random: sequenceRandom(0, 0.5, 0.5, 0) });
    socket.connect();
    const delays = [];
    for (let i = 0; i < 4; i += 1) {
      const delay = failAndMeasure(clock, socket);
      delays.push(delay);
      clock.advance(delay);
    }
    assert.deepEqual(delays, [0, 500, 1000, 0]);
  });

  test('a socket that opens and drops at once keeps growing the backoff', () => {
    const { socket, clock } = setup();
    socket.connect();
    const delays = [];
    for (let i = 0; i < 5; i += 1) {
      FakeWebSocket.last.open();
      clock.advance(1000); // open, but not long enough to count as stable
      const delay = failAndMeasure(clock, socket);
      delays.push(delay);
      clock.advance(delay);
    }
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000]);
  });

  test('attempts reset only after the connection stayed open long enough', () => {
    const { socket, clock } = setup();
    socket.connect();
    for (let i = 0; i < 4; i += 1) clock.advance(failAndMeasure(clock, socket));
    // attempt counter is 4 now: 9.999 s open is not enough
    FakeWebSocket.last.open();
    clock.advance(DEFAULTS.stableAfter - 1);
    const notReset = failAndMeasure(clock, socket);
    assert.equal(notReset, 8000);
    clock.advance(notReset);
    FakeWebSocket.last.open();
    clock.advance(DEFAULTS.stableAfter);
    assert.equal(socket.state.attempt, 0);
    assert.equal(failAndMeasure(clock, socket), 500);
  });
});

describe('state', () => {
  test('goes connecting -> live -> reconnecting with the time of the next attempt', () => {
    const { socket, clock, states } = setup();
    assert.equal(socket.state.state, 'idle');
    socket.connect();
    assert.equal(socket.state.state, 'connecting');
    FakeWebSocket.last.open();
    assert.equal(socket.state.state, 'live');
    assert.equal(socket.isLive, true);
    clock.advance(3000);
    FakeWebSocket.last.drop();
    assert.equal(socket.state.state, 'reconnecting');
    assert.equal(socket.state.nextAttemptAt, clock.time + 500);
    assert.deepEqual(
      states.map((s) => s.state),
      ['connecting', 'live', 'reconnecting'],
    );
  });

  test('a handshake that never completes times out and is retried', () => {
    const { socket, clock } = setup();
    socket.connect();
    const first = FakeWebSocket.last;
    clock.advance(DEFAULTS.connectTimeout);
    assert.equal(first.closedWith?.code, 4000);
    assert.equal(socket.state.state, 'reconnecting');
    clock.advance(500);
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  test('a WebSocket constructor that throws schedules a retry instead of throwing', () => {
    let calls = 0;
    class Throwing extends FakeWebSocket {
      constructor(url) {
        calls += 1;
        if (calls === 1) throw new SyntaxError('bad url');
        super(url);
      }
    }
    const { socket, clock } = setup({ WebSocket: Throwing });
    socket.connect();
    assert.equal(socket.state.state, 'reconnecting');
    clock.advance(500);
    assert.equal(FakeWebSocket.instances.length, 1);
  });
});

describe('timers', () => {
  test('a live connection runs the ping and stable timers; losing it leaves only the reconnect timer', () => {
    const { socket, clock } = setup();
    socket.connect();
    assert.equal(clock.pendingCount(), 1, 'connect timeout');
    FakeWebSocket.last.open();
    assert.equal(clock.pendingCount(), 2, 'ping interval and stable timer');
    clock.advance(DEFAULTS.pingInterval);
    assert.equal(clock.pendingCount(), 2, 'ping interval and pong timeout (stable has fired)');
    FakeWebSocket.last.drop();
    assert.equal(clock.pendingCount(), 1, 'only the reconnect timer');
    assert.equal(socket.state.state, 'reconnecting');
  });

  test('timing options are honoured', () => {
    const { socket, clock } = setup({ baseDelay: 100, maxDelay: 150, connectTimeout: 50, pingInterval: 30, pongTimeout: 5 });
    socket.connect();
    clock.advance(50);
    assert.equal(FakeWebSocket.last.closedWith?.code, 4000, 'connect timeout');
    assert.equal(socket.state.nextAttemptAt - clock.time, 100);
    clock.advance(100);
    FakeWebSocket.last.drop();
    assert.equal(socket.state.nextAttemptAt - clock.time, 150, 'capped');
    clock.advance(150);
    const ws = FakeWebSocket.last;
    ws.open();
    clock.advance(30);
    assert.deepEqual(ws.messages, [{ type: 'ping' }]);
    clock.advance(5);
    assert.equal(ws.closedWith?.code, 4000, 'pong timeout');
  });
});

describe('subscriptions', () => {
  test('every requested channel is sent once connected, and again after each reconnect', () => {
    const { socket, clock } = setup();
    socket.subscribe('system');
    socket.subscribe('business:9');
    socket.connect();
    const first = FakeWebSocket.last;
    first.open();
    assert.deepEqual(first.messages, [], 'nothing before the server said connected');
    greet(first);
    assert.deepEqual(first.messages, [
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'business:9' },
    ]);
    first.drop();
    clock.advance(500);
    const second = FakeWebSocket.last;
    assert.notEqual(second, first);
    second.open();
    greet(second);
    assert.deepEqual(second.messages, [
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'business:9' },
    ]);
  });

  test('subscribe while open is sent at once; unsubscribe is sent and not replayed', () => {
    const { socket, clock } = setup();
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    greet(ws);
    socket.subscribe('user:3');
    socket.unsubscribe('user:3');
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'user:3' },
      { type: 'unsubscribe', channel: 'user:3' },
    ]);
    ws.drop();
    clock.advance(500);
    FakeWebSocket.last.open();
    greet(FakeWebSocket.last);
    assert.deepEqual(FakeWebSocket.last.messages, []);
  });

  test('subscriptions are reference counted', () => {
    const { socket } = setup();
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    greet(ws);
    const offA = socket.subscribe('system');
    const offB = socket.subscribe('system');
    offA();
    offA(); // a second call of the same handle does nothing
    assert.deepEqual(socket.channels, ['system']);
    offB();
    assert.deepEqual(socket.channels, []);
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'system' },
      { type: 'unsubscribe', channel: 'system' },
    ]);
  });
});

describe('frames', () => {
  function liveSocket() {
    const ctx = setup();
    ctx.socket.connect();
    FakeWebSocket.last.open();
    ctx.delivered = [];
    ctx.socket.on('event', (f) => ctx.delivered.push(`${f.channel}:${f.seq}`));
    return ctx;
  }

  const ev = (channel, seq, event = 'task.started', data = {}) => ({
    type: 'event',
    channel,
    seq,
    event,
    data,
    timestamp: '2026-01-01T00:00:00Z',
  });

  test('dedupe drops a repeated and an older seq but delivers the next', () => {
    const { socket, delivered } = liveSocket();
    const dropped = [];
    socket.on('duplicate', (f) => dropped.push(f.seq));
    const ws = FakeWebSocket.last;
    for (const seq of [1, 2, 2, 1, 3]) ws.receive(ev('global', seq));
    assert.deepEqual(delivered, ['global:1', 'global:2', 'global:3']);
    assert.deepEqual(dropped, [2, 1]);
    assert.equal(socket.lastSeq('global'), 3);
  });

  test('seqs are tracked per channel', () => {
    const { delivered } = liveSocket();
    const ws = FakeWebSocket.last;
    ws.receive(ev('global', 5));
    ws.receive(ev('system', 1));
    ws.receive(ev('system', 2));
    ws.receive(ev('global', 5));
    assert.deepEqual(delivered, ['global:5', 'system:1', 'system:2']);
  });

  test('a subscribed frame never moves the last seq downwards', () => {
    const { socket, delivered } = liveSocket();
    const ws = FakeWebSocket.last;
    for (const seq of [1, 2, 3, 4, 5]) ws.receive(ev('system', seq));
    ws.receive({ type: 'subscribed', channel: 'system', seq: 2 });
    assert.equal(socket.lastSeq('system'), 5);
    ws.receive(ev('system', 3));
    ws.receive(ev('system', 6));
    assert.deepEqual(delivered.slice(5), ['system:6']);
  });

  test('a subscribed frame sets the starting seq of a new channel', () => {
    const { socket, delivered } = liveSocket();
    const ws = FakeWebSocket.last;
    ws.receive({ type: 'subscribed', channel: 'system', seq: 41 });
    assert.equal(socket.lastSeq('system'), 41);
    ws.receive(ev('system', 41));
    ws.receive(ev('system', 42));
    assert.deepEqual(delivered, ['system:42']);
  });

  test('dedupe holds across a reconnect to the same node', () => {
    const { clock, delivered } = liveSocket();
    let ws = FakeWebSocket.last;
    ws.receive({ type: 'connected', connection_id: 'c1', node: 'n1', channels: ['global'], timestamp: 'x' });
    ws.receive(ev('global', 1));
    ws.receive(ev('global', 2));
    ws.drop();
    clock.advance(500);
    ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'connected', connection_id: 'c2', node: 'n1', channels: ['global'], timestamp: 'x' });
    ws.receive(ev('global', 2));
    ws.receive(ev('global', 3));
    assert.deepEqual(delivered, ['global:1', 'global:2', 'global:3']);
  });

  test('a stream with another epoch starts its seqs afresh; another node alone does not', () => {
    const { socket, clock, delivered } = liveSocket();
    let ws = FakeWebSocket.last;
    ws.receive({ type: 'connected', connection_id: 'c1', node: 'n1', channels: ['global'], timestamp: 'x' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 6, epoch: 'e1' });
    ws.receive(ev('global', 7));
    const resets = [];
    socket.on('reset', (r) => resets.push(r));
    ws.drop();
    clock.advance(500);
    ws = FakeWebSocket.last;
    ws.open();
    // Another node of a shared broker: the same stream, so the seqs go on.
    ws.receive({ type: 'connected', connection_id: 'c2', node: 'n2', channels: ['global'], timestamp: 'x' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 7, epoch: 'e1', recovered: true });
    ws.receive(ev('global', 7));
    assert.deepEqual(resets, []);
    ws.drop();
    clock.advance(1000);
    ws = FakeWebSocket.last;
    ws.open();
    ws.receive({ type: 'connected', connection_id: 'c3', node: 'n2', channels: ['global'], timestamp: 'x' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 0, epoch: 'e2', recovered: false, reason: 'epoch_changed' });
    ws.receive(ev('global', 1));
    assert.deepEqual(delivered, ['global:7', 'global:1']);
    assert.deepEqual(resets, [{ channel: 'global', reason: 'epoch', from: 7, to: 0 }]);
  });

  const connected = (node = 'n1', channels = ['global']) => ({ type: 'connected', connection_id: 'c', node, channels, timestamp: 't' });

  function reconnect(clock) {
    FakeWebSocket.last.drop();
    clock.advance(500);
    const next = FakeWebSocket.last;
    next.open();
    return next;
  }

  test('a restarted server on the same node (seqs from 1 again) is detected by the subscribed seq', () => {
    const ctx = setup();
    const { socket, clock, logger } = ctx;
    const delivered = [];
    const resets = [];
    socket.on('event', (f) => delivered.push(`${f.channel}:${f.seq}`));
    socket.on('reset', (r) => resets.push(r));
    socket.subscribe('system');
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    ws.receive(connected());
    ws.receive({ type: 'subscribed', channel: 'system', seq: 0 });
    assert.deepEqual(resets, [], 'a first subscription is no reset');
    for (let seq = 1; seq <= 50; seq += 1) ws.receive(ev('system', seq, 'system.metric'));
    ws = reconnect(clock);
    ws.receive(connected());
    ws.receive({ type: 'subscribed', channel: 'system', seq: 0 });
    ws.receive(ev('system', 1, 'system.metric'));
    ws.receive(ev('system', 1, 'system.metric'));
    assert.equal(delivered.length, 51);
    assert.equal(delivered[50], 'system:1');
    assert.equal(socket.lastSeq('system'), 1);
    assert.ok(logger.log.warn.some((a) => String(a[0]).includes('restarted')));
    assert.deepEqual(resets, [{ channel: 'system', reason: 'restart', from: 50, to: 0 }]);
  });

  test('the channels connected lists are subscribed once per connection; a stale early frame is no baseline', () => {
    const ctx = setup();
    const { socket, clock } = ctx;
    const delivered = [];
    socket.on('event', (f) => delivered.push(`${f.channel}:${f.seq}`));
    socket.subscribe('system');
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    ws.receive(connected('n1', ['global', 'user:3']));
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'global' },
      { type: 'subscribe', channel: 'user:3' },
    ]);
    ws.receive({ type: 'subscribed', channel: 'global', seq: 40 });
    ws.receive(ev('global', 41));
    ws.receive(ev('global', 42));
    ws = reconnect(clock);
    ws.receive(connected('n1', ['global', 'user:3']));
    // The restarted server sends its first global event before our answer arrives.
    ws.receive(ev('global', 1));
    ws.receive({ type: 'subscribed', channel: 'global', seq: 1 });
    ws.receive(ev('global', 2));
    assert.deepEqual(delivered, ['global:41', 'global:42', 'global:2']);
  });

  test('a subscribed seq below what this same connection delivered is never taken', () => {
    const ctx = setup();
    const { socket, clock } = ctx;
    const delivered = [];
    socket.on('event', (f) => delivered.push(`${f.channel}:${f.seq}`));
    socket.subscribe('system');
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    for (let seq = 1; seq <= 10; seq += 1) ws.receive(ev('system', seq));
    ws = reconnect(clock);
    ws.receive(ev('system', 11));
    ws.receive({ type: 'subscribed', channel: 'system', seq: 3 });
    ws.receive(ev('system', 4));
    ws.receive(ev('system', 11));
    ws.receive(ev('system', 12));
    assert.deepEqual(delivered.slice(10), ['system:11', 'system:12']);
    assert.equal(socket.lastSeq('system'), 12);
  });

  test('handlers keyed by event name get data and frame; off() removes them', () => {
    const { socket } = liveSocket();
    const got = [];
    const off = socket.on('system.metric', (data, frame) => got.push([data.cpu_percent, frame.seq]));
    const ws = FakeWebSocket.last;
    ws.receive(ev('system', 1, 'system.metric', { cpu_percent: 12.5 }));
    ws.receive(ev('global', 1, 'task.started', {}));
    off();
    ws.receive(ev('system', 2, 'system.metric', { cpu_percent: 50 }));
    assert.deepEqual(got, [[12.5, 1]]);
  });

  test('a throwing handler does not stop the others', () => {
    const { socket, logger } = liveSocket();
    const got = [];
    socket.on('task.failed', () => {
      throw new Error('widget bug');
    });
    socket.on('task.failed', (data) => got.push(data.task_id));
    FakeWebSocket.last.receive(ev('global', 1, 'task.failed', { task_id: 't-1' }));
    assert.deepEqual(got, ['t-1']);
    assert.equal(logger.log.error.length, 1);
  });

  test('invalid JSON is logged with warn and ignored', () => {
    const { socket, logger, delivered } = liveSocket();
    const frames = [];
    socket.on('frame', (f) => frames.push(f.type));
    const ws = FakeWebSocket.last;
    assert.doesNotThrow(() => ws.receive('{"type": "event", oops'));
    assert.doesNotThrow(() => ws.receive('42'));
    assert.doesNotThrow(() => ws.receive('null'));
    assert.equal(logger.log.warn.length, 3);
    assert.equal(socket.state.state, 'live');
    ws.receive(ev('global', 1));
    assert.deepEqual(delivered, ['global:1']);
    assert.deepEqual(frames, ['event']);
  });

  test('server frames are emitted by type', () => {
    const { socket, logger } = liveSocket();
    const seen = [];
    for (const type of ['connected', 'subscribed', 'unsubscribed', 'pong', 'error']) {
      socket.on(type, (f) => seen.push(f.type));
    }
    const ws = FakeWebSocket.last;
    ws.receive({ type: 'connected', connection_id: 'abc', node: 'n', channels: ['global'], timestamp: 't' });
    ws.receive({ type: 'subscribed', channel: 'system', seq: 0 });
    ws.receive({ type: 'unsubscribed', channel: 'system' });
    ws.receive({ type: 'pong', timestamp: 't' });
    ws.receive({ type: 'error', code: 'forbidden', message: 'no', ref: 'subscribe' });
    assert.deepEqual(seen, ['connected', 'subscribed', 'unsubscribed', 'pong', 'error']);
    assert.equal(socket.state.connectionId, 'abc');
    assert.equal(logger.log.warn.length, 1);
  });
});

describe('recovery', () => {
  const ev = (channel, seq, event = 'task.started') => ({ type: 'event', channel, seq, event, data: {}, timestamp: '2026-01-01T00:00:00Z' });

  function recorder(socket) {
    const seen = { delivered: [], stale: [], resets: [], duplicates: [] };
    socket.on('event', (f) => seen.delivered.push(`${f.channel}:${f.seq}`));
    socket.on('stale', (s) => seen.stale.push(s));
    socket.on('reset', (r) => seen.resets.push(r));
    socket.on('duplicate', (f) => seen.duplicates.push(`${f.channel}:${f.seq}`));
    return seen;
  }

  /** Lose the connection and open the next one when the backoff says. */
  function reconnect(clock, socket) {
    FakeWebSocket.last.drop();
    clock.advance(socket.state.nextAttemptAt - clock.time);
    const next = FakeWebSocket.last;
    next.open();
    return next;
  }

  test('the own channels of connected are subscribed by the socket, each once, wanted ones first', () => {
    const { socket } = setup();
    socket.subscribe('system');
    socket.subscribe('global');
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['user:7', 'business:acme', 'global']);
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'system' },
      { type: 'subscribe', channel: 'global' },
      { type: 'subscribe', channel: 'user:7' },
      { type: 'subscribe', channel: 'business:acme' },
    ]);
    socket.subscribe('user:7'); // a widget asking for an own channel sends nothing more
    socket.unsubscribe('user:7'); // and releasing it keeps the connection's own channel
    assert.equal(ws.messages.length, 4);
  });

  test('with auto_subscribed the server holds the own channels: they are not subscribed again', () => {
    const { socket } = setup();
    socket.subscribe('system');
    socket.subscribe('global');
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['global'], { auto_subscribed: true });
    assert.deepEqual(ws.messages, [{ type: 'subscribe', channel: 'system' }]);
  });

  test('every reconnect resubscribes every channel with since = {seq, epoch} of the last event handled', () => {
    const { socket, clock } = setup();
    socket.subscribe('system');
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['business:9', 'global']);
    ws.receive({ type: 'subscribed', channel: 'system', seq: 100, epoch: 'es' });
    ws.receive({ type: 'subscribed', channel: 'business:9', seq: 0, epoch: 'eb' });
    ws.receive({ type: 'subscribed', channel: 'global', seq: 3, epoch: 'eg' });
    ws.receive(ev('system', 101, 'system.metric'));
    ws.receive(ev('global', 4));
    ws.receive(ev('global', 5));
    assert.deepEqual(socket.position('global'), { seq: 5, epoch: 'eg' });
    ws = reconnect(clock, socket);
    greet(ws, ['business:9', 'global']);
    assert.deepEqual(ws.messages, [
      { type: 'subscribe', channel: 'system', since: { seq: 101, epoch: 'es' } },
      { type: 'subscribe', channel: 'business:9', since: { seq: 0, epoch: 'eb' } },
      { type: 'subscribe', channel: 'global', since: { seq: 5, epoch: 'eg' } },
    ]);
    // And again from where the next connection got to.
    ws.receive(ev('global', 6));
    ws.receive({ type: 'subscribed', channel: 'global', seq: 6, epoch: 'eg', recovered: true });
    ws = reconnect(clock, socket);
    greet(ws, ['global']);
    assert.deepEqual(ws.messages.find((m) => m.channel === 'global'), { type: 'subscribe', channel: 'global', since: { seq: 6, epoch: 'eg' } });
  });

  test('a channel never answered is subscribed without since', () => {
    const { socket, clock } = setup();
    socket.subscribe('system');
    socket.connect();
    FakeWebSocket.last.open();
    greet(FakeWebSocket.last);
    const ws = reconnect(clock, socket);
    greet(ws);
    assert.deepEqual(ws.messages, [{ type: 'subscribe', channel: 'system' }]);
  });

  test('replayed events go through the same dedupe and handlers; recovered: true shows nothing twice', () => {
    const { socket, clock } = setup();
    const seen = recorder(socket);
    const tasks = [];
    socket.on('task.started', (data, frame) => tasks.push(frame.seq));
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['global']);
    ws.receive({ type: 'subscribed', channel: 'global', seq: 0, epoch: 'eg' });
    for (const seq of [1, 2, 3]) ws.receive(ev('global', seq));
    ws = reconnect(clock, socket);
    greet(ws, ['global']);
    // Replayed (one already seen, as a server racing a publish might), then live.
    for (const seq of [3, 4, 5]) ws.receive(ev('global', seq));
    ws.receive({ type: 'subscribed', channel: 'global', seq: 5, epoch: 'eg', recovered: true });
    ws.receive(ev('global', 5));
    ws.receive(ev('global', 6));
    assert.deepEqual(seen.delivered, ['global:1', 'global:2', 'global:3', 'global:4', 'global:5', 'global:6']);
    assert.deepEqual(tasks, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(seen.duplicates, ['global:3', 'global:5']);
    assert.deepEqual(seen.stale, []);
    assert.deepEqual(seen.resets, []);
  });

  test('recovered: false is reported as stale with its reason, and live events go on from the new position', () => {
    const { socket, clock, logger } = setup();
    const seen = recorder(socket);
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['global', 'user:1']);
    ws.receive({ type: 'subscribed', channel: 'global', seq: 10, epoch: 'eg' });
    ws.receive({ type: 'subscribed', channel: 'user:1', seq: 4, epoch: 'eu' });
    ws.receive(ev('global', 11));
    ws = reconnect(clock, socket);
    greet(ws, ['global', 'user:1']);
    ws.receive({ type: 'subscribed', channel: 'global', seq: 1500, epoch: 'eg', recovered: false, reason: 'too_many' });
    ws.receive({ type: 'subscribed', channel: 'user:1', seq: 0, epoch: 'eu2', recovered: false, reason: 'epoch_changed' });
    ws.receive(ev('global', 1501));
    ws.receive(ev('user:1', 1));
    assert.deepEqual(seen.stale, [
      { channel: 'global', reason: 'too_many', seq: 1500, epoch: 'eg' },
      { channel: 'user:1', reason: 'epoch_changed', seq: 0, epoch: 'eu2' },
    ]);
    assert.deepEqual(seen.resets, [{ channel: 'user:1', reason: 'epoch', from: 4, to: 0 }], 'only a new epoch lets keys repeat');
    assert.deepEqual(seen.delivered, ['global:11', 'global:1501', 'user:1:1']);
    assert.deepEqual(socket.position('user:1'), { seq: 1, epoch: 'eu2' });
    assert.ok(logger.log.warn.some((a) => String(a[0]).includes('too_many')));
  });

  test('startFrom: asked once for a new channel; the subscribe waits for it and uses it as since', async () => {
    const asked = [];
    const answers = {};
    const startFrom = (channel) => {
      asked.push(channel);
      if (channel === 'system') return null;
      return new Promise((resolve, reject) => {
        answers[channel] = { resolve, reject };
      });
    };
    const { socket, clock } = setup({ startFrom });
    const seen = recorder(socket);
    socket.subscribe('system');
    socket.subscribe('global');
    assert.deepEqual(asked, ['system', 'global'], 'asked before connecting, so it runs during the handshake');
    socket.connect();
    let ws = FakeWebSocket.last;
    ws.open();
    greet(ws, ['global', 'user:2']);
    assert.deepEqual(asked, ['system', 'global', 'user:2']);
    assert.deepEqual(ws.messages, [{ type: 'subscribe', channel: 'system' }], 'the others wait');
    answers.global.resolve({ seq: 42, epoch: 'eg' });
    answers['user:2'].reject(new Error('HTTP 403'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ws.messages.slice(1), [
      { type: 'subscribe', channel: 'global', since: { seq: 42, epoch: 'eg' } },
      { type: 'subscribe', channel: 'user:2' },
    ]);
    ws.receive(ev('global', 42)); // already in what startFrom found
    ws.receive(ev('global', 43));
    assert.deepEqual(seen.delivered, ['global:43']);
    ws = reconnect(clock, socket);
    greet(ws, ['global', 'user:2']);
    assert.deepEqual(asked, ['system', 'global', 'user:2'], 'never asked twice');
    assert.deepEqual(ws.messages.find((m) => m.channel === 'global').since, { seq: 43, epoch: 'eg' });
  });

  test('startFrom: a connection lost while it runs leaves the subscribe to the next connection', async () => {
    let resolve;
    const { socket, clock } = setup({ startFrom: () => new Promise((r) => (resolve = r)) });
    socket.subscribe('global');
    socket.connect();
    const first = FakeWebSocket.last;
    first.open();
    greet(first);
    first.drop();
    clock.advance(500);
    const second = FakeWebSocket.last;
    second.open();
    greet(second);
    resolve({ seq: 7, epoch: 'eg' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(first.messages, []);
    assert.deepEqual(second.messages, [{ type: 'subscribe', channel: 'global', since: { seq: 7, epoch: 'eg' } }]);
  });

  test('startFrom that throws is logged; the channel is subscribed without since', () => {
    const { socket, logger } = setup({
      startFrom: () => {
        throw new Error('nope');
      },
    });
    socket.subscribe('global');
    socket.connect();
    FakeWebSocket.last.open();
    greet(FakeWebSocket.last);
    assert.deepEqual(FakeWebSocket.last.messages, [{ type: 'subscribe', channel: 'global' }]);
    assert.equal(logger.log.warn.length, 1);
  });
});

describe('intentional close', () => {
  test('close() closes with 1000 and never reconnects', () => {
    const { socket, clock, win } = setup();
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    socket.close();
    assert.deepEqual(ws.closedWith, { code: 1000, reason: 'client closing' });
    assert.equal(socket.state.state, 'closed');
    ws.drop(); // the browser's close event arrives later: ignored
    win.goOnline();
    clock.advance(10 * 60 * 1000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(socket.state.state, 'closed');
    assert.equal(clock.pendingCount(), 0, 'no timer left behind');
  });

  test('close() while waiting to reconnect cancels the attempt', () => {
    const { socket, clock } = setup();
    socket.connect();
    FakeWebSocket.last.drop();
    assert.equal(socket.state.state, 'reconnecting');
    socket.close();
    clock.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('connect() after close() starts again', () => {
    const { socket } = setup();
    socket.connect();
    socket.close();
    socket.connect();
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(socket.state.state, 'connecting');
  });
});

describe('browser connectivity', () => {
  test('the online event reconnects at once instead of waiting for the backoff', () => {
    const { socket, clock, win } = setup();
    socket.connect();
    for (let i = 0; i < 6; i += 1) clock.advance(failAndMeasure(clock, socket));
    FakeWebSocket.last.drop();
    assert.equal(socket.state.nextAttemptAt - clock.time, 30000);
    const count = FakeWebSocket.instances.length;
    win.goOnline();
    assert.equal(FakeWebSocket.instances.length, count + 1);
    assert.equal(socket.state.state, 'connecting');
    FakeWebSocket.last.open();
    clock.advance(30000);
    assert.equal(FakeWebSocket.instances.length, count + 1, 'the old timer was cancelled');
  });

  test('offline: shown as offline while retries go on; online reconnects at once', () => {
    const { socket, clock, win } = setup();
    socket.connect();
    FakeWebSocket.last.open();
    win.goOffline();
    assert.equal(socket.state.state, 'offline');
    FakeWebSocket.last.drop();
    assert.equal(socket.state.state, 'offline');
    assert.equal(socket.state.nextAttemptAt, clock.time + 500);
    clock.advance(500);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(socket.state.state, 'offline', 'an attempt while offline still reads offline');
    FakeWebSocket.last.drop();
    assert.equal(socket.state.nextAttemptAt - clock.time, 1000, 'the backoff keeps growing');
    win.goOnline();
    assert.equal(FakeWebSocket.instances.length, 3, 'no waiting for the backoff');
    assert.equal(socket.state.state, 'connecting');
    FakeWebSocket.last.open();
    assert.equal(socket.state.state, 'live');
    clock.advance(5_000); // well past the old retry time (+1 s)
    assert.equal(FakeWebSocket.instances.length, 3, 'the old retry timer was cancelled');
  });

  test('navigator.onLine false at start: shows offline, still tries, and goes live if it can', () => {
    const { socket, win } = setup({ navigator: { onLine: false } });
    socket.connect();
    assert.equal(socket.state.state, 'offline');
    assert.equal(FakeWebSocket.instances.length, 1);
    FakeWebSocket.last.open();
    assert.equal(socket.state.state, 'live');
    win.goOnline(); // an open socket is kept and checked with a ping
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.deepEqual(FakeWebSocket.last.messages, [{ type: 'ping' }]);
  });
});

describe('heartbeat', () => {
  test('sends a ping each interval and keeps a socket that answers', () => {
    const { socket, clock } = setup();
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    clock.advance(DEFAULTS.pingInterval);
    assert.deepEqual(ws.messages, [{ type: 'ping' }]);
    clock.advance(3000);
    ws.receive({ type: 'pong', timestamp: '2026-01-01T00:00:00Z' });
    clock.advance(DEFAULTS.pingInterval - 3000); // past the first pong timeout, at the second ping
    assert.equal(ws.closedWith, null);
    assert.deepEqual(ws.messages, [{ type: 'ping' }, { type: 'ping' }]);
    ws.receive({ type: 'pong', timestamp: '2026-01-01T00:00:20Z' });
    clock.advance(DEFAULTS.pongTimeout * 1.5);
    assert.equal(ws.closedWith, null);
    assert.equal(socket.state.state, 'live');
  });

  test('any frame counts as a sign of life', () => {
    const { socket, clock } = setup();
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    clock.advance(DEFAULTS.pingInterval);
    ws.receive({ type: 'event', channel: 'system', seq: 1, event: 'system.metric', data: {}, timestamp: 't' });
    clock.advance(DEFAULTS.pongTimeout + 1);
    assert.equal(ws.closedWith, null);
    assert.equal(socket.state.state, 'live');
  });

  test('no pong within the timeout: close the socket and reconnect', () => {
    const { socket, clock, logger } = setup();
    socket.subscribe('system');
    socket.connect();
    const ws = FakeWebSocket.last;
    ws.open();
    clock.advance(DEFAULTS.pingInterval);
    clock.advance(DEFAULTS.pongTimeout - 1);
    assert.equal(ws.closedWith, null);
    clock.advance(1);
    assert.equal(ws.closedWith?.code, 4000);
    assert.equal(socket.state.state, 'reconnecting');
    assert.ok(logger.log.warn.some((args) => String(args[0]).includes('pong')));
    ws.drop(); // a late close event of the dead socket changes nothing
    assert.equal(FakeWebSocket.instances.length, 1);
    clock.advance(500);
    assert.equal(FakeWebSocket.instances.length, 2);
    FakeWebSocket.last.open();
    greet(FakeWebSocket.last);
    assert.deepEqual(FakeWebSocket.last.messages, [{ type: 'subscribe', channel: 'system' }]);
  });
});
