// The one WebSocket client shared by every widget on the page.
//
// Speaks livewatch wire protocol v1 (see DESIGN.md). Everything that touches
// the outside world (WebSocket class, timers, clock, random source, window,
// navigator, location, logger) can be injected, so `node --test` drives it
// without a browser. Nothing here touches the DOM at import time.

export const SOCKET_PATH = 'api/monitoring/ws';
export const FORWARDED_PARAMS = Object.freeze(['token', 'user_id', 'business_id']);

export const DEFAULTS = Object.freeze({
  baseDelay: 500, // ms, first backoff bound
  maxDelay: 30_000, // ms, backoff cap
  stableAfter: 10_000, // ms a connection must stay open before attempts reset
  pingInterval: 20_000, // ms between client pings
  pongTimeout: 10_000, // ms without any frame after a ping => socket is dead
  connectTimeout: 10_000, // ms a handshake may take before we give up on it
});

const WS_OPEN = 1;
const CLOSE_NORMAL = 1000;
const CLOSE_DEAD = 4000; // application code: we gave up on an unresponsive socket

/** Upper bound of the backoff delay before attempt `attempt` (0-based). */
export function backoffBound(attempt, base = DEFAULTS.baseDelay, cap = DEFAULTS.maxDelay) {
  const n = Math.max(0, Math.floor(attempt));
  return Math.min(cap, base * 2 ** n);
}

/** Full jitter: a delay drawn uniformly from [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt, random = Math.random, base = DEFAULTS.baseDelay, cap = DEFAULTS.maxDelay) {
  let r = Number(random());
  if (!Number.isFinite(r)) r = 0;
  r = Math.min(1, Math.max(0, r));
  return Math.round(r * backoffBound(attempt, base, cap));
}

/**
 * The socket URL: `path` resolved against the document's base URI, with the
 * scheme chosen from the page's protocol and the page's own auth parameters
 * forwarded.
 */
export function socketUrl(loc, path = SOCKET_PATH, forward = FORWARDED_PARAMS) {
  const base = loc.baseURI || loc.href;
  if (!base) throw new TypeError('LiveSocket needs options.url or options.location outside a browser');
  const url = new URL(path, base);
  url.protocol = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  const page = new URLSearchParams(loc.search || '');
  for (const name of forward) {
    const value = page.get(name);
    if (value !== null && value !== '') url.searchParams.set(name, value);
  }
  return url.toString();
}

function defaultLocation() {
  const loc = globalThis.location;
  const doc = globalThis.document;
  return {
    baseURI: (doc && doc.baseURI) || (loc && loc.href) || undefined,
    href: loc && loc.href,
    protocol: loc && loc.protocol,
    search: (loc && loc.search) || '',
  };
}

function defaultTimers() {
  return {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
    clearInterval: (id) => globalThis.clearInterval(id),
  };
}

/**
 * States:
 *   idle          constructed, connect() not called yet
 *   connecting    a handshake is in progress
 *   live          the socket is open
 *   reconnecting  waiting for the next attempt (see nextAttemptAt)
 *   offline       the browser says it is offline (retries go on in the
 *                 background; the `online` event retries at once)
 *   closed        close() was called; nothing reconnects
 *
 * Events for on(name, fn):
 *   'state'       (snapshot)            whenever the state changes
 *   'frame'       (frame)               every accepted frame (duplicates dropped)
 *   'event'       (frame)               every accepted `event` frame
 *   '<event name>' (data, frame)        e.g. 'system.metric'
 *   'connected' | 'subscribed' | 'unsubscribed' | 'pong' | 'error'  (frame)
 *   'duplicate'   (frame)               an event frame dropped by seq dedupe
 *   'reset'       ({channel, reason})   a channel's seqs start again (server
 *                                       restarted or another node); keys of
 *                                       the form channel:seq may repeat
 */
export class LiveSocket {
  #opts;
  #WebSocket;
  #timers;
  #now;
  #random;
  #window;
  #logger;
  #url;

  #ws = null;
  #onOnlineHandler = () => this.#onOnline();
  #onOfflineHandler = () => this.#onOffline();
  #stopped = false;
  #attempt = 0;
  #online = true;
  #windowBound = false;
  #channels = new Map(); // channel -> reference count
  #lastSeq = new Map(); // channel -> last seq delivered
  #baseline = new Set(); // channels whose first `subscribed` on this connection is awaited
  #deliveredHere = new Set(); // channels that delivered an event on this connection
  #listeners = new Map(); // name -> Set<fn>
  #node = null;
  #connectionId = null;
  #state = { state: 'idle', nextAttemptAt: null, attempt: 0, online: true, connectionId: null };

  #reconnectTimer = null;
  #connectTimer = null;
  #stableTimer = null;
  #pingTimer = null;
  #pongTimer = null;

  constructor(options = {}) {
    this.#opts = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) {
      if (typeof options[key] === 'number') this.#opts[key] = options[key];
    }
    this.#WebSocket = options.WebSocket || globalThis.WebSocket;
    this.#timers = { ...defaultTimers(), ...(options.timers || {}) };
    this.#now = options.now || (() => Date.now());
    this.#random = options.random || Math.random;
    this.#window = options.window !== undefined ? options.window : globalThis.window || null;
    this.#logger = options.logger || globalThis.console;
    const nav = options.navigator !== undefined ? options.navigator : globalThis.navigator;
    this.#online = !(nav && nav.onLine === false);
    this.#url = options.url || socketUrl(options.location || defaultLocation(), options.path || SOCKET_PATH);
    this.#state = { ...this.#state, online: this.#online };
  }

  // ---- public API -------------------------------------------------------

  get url() {
    return this.#url;
  }

  /** A copy of the current state: {state, nextAttemptAt, attempt, online, connectionId}. */
  get state() {
    return { ...this.#state };
  }

  get isLive() {
    return this.#ws !== null && this.#ws.readyState === WS_OPEN;
  }

  /** Channels some widget asked for. */
  get channels() {
    return [...this.#channels.keys()];
  }

  /** Last seq delivered on `channel`, or undefined. */
  lastSeq(channel) {
    return this.#lastSeq.get(channel);
  }

  /** Register a handler; returns a function that removes it. */
  on(name, fn) {
    if (typeof fn !== 'function') throw new TypeError('handler must be a function');
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => this.off(name, fn);
  }

  off(name, fn) {
    const set = this.#listeners.get(name);
    if (set) {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(name);
    }
  }

  /** Start (or restart after close()) connecting. */
  connect() {
    this.#stopped = false;
    this.#bindWindow();
    if (this.#ws) return;
    this.#clearTimer('reconnect');
    this.#open();
  }

  /** Intentional close: no reconnect until connect() is called again. */
  close() {
    this.#stopped = true;
    this.#clearTimer('reconnect');
    const ws = this.#ws;
    this.#teardown();
    if (ws) {
      try {
        ws.close(CLOSE_NORMAL, 'client closing');
      } catch (err) {
        this.#logger.warn('livewatch: closing the socket failed', err);
      }
    }
    this.#unbindWindow();
    this.#setState('closed');
  }

  /** Send a JSON message if the socket is open. Returns whether it was sent. */
  send(message) {
    if (!this.isLive) return false;
    try {
      this.#ws.send(JSON.stringify(message));
      return true;
    } catch (err) {
      this.#logger.warn('livewatch: send failed', err);
      return false;
    }
  }

  /**
   * Ask for a channel. Reference counted: the server is told once, and the
   * subscription is re-sent after every reconnect. Returns an unsubscribe
   * function for this one reference.
   */
  subscribe(channel) {
    if (typeof channel !== 'string' || channel === '') throw new TypeError('channel must be a non-empty string');
    const count = this.#channels.get(channel) || 0;
    this.#channels.set(channel, count + 1);
    if (count === 0 && this.send({ type: 'subscribe', channel })) this.#baseline.add(channel);
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.unsubscribe(channel);
      }
    };
  }

  unsubscribe(channel) {
    const count = this.#channels.get(channel) || 0;
    if (count === 0) return;
    if (count > 1) {
      this.#channels.set(channel, count - 1);
      return;
    }
    this.#channels.delete(channel);
    this.#baseline.delete(channel);
    this.send({ type: 'unsubscribe', channel });
  }

  // ---- connection lifecycle ---------------------------------------------

  #open() {
    if (this.#stopped || this.#ws) return;
    this.#clearTimer('reconnect');
    let ws;
    try {
      ws = new this.#WebSocket(this.#url);
    } catch (err) {
      this.#logger.warn('livewatch: cannot create WebSocket', err);
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (ws === this.#ws) this.#handleOpen();
    };
    ws.onmessage = (ev) => {
      if (ws === this.#ws) this.#handleMessage(ev);
    };
    ws.onclose = () => {
      if (ws === this.#ws) this.#lost();
    };
    ws.onerror = () => {
      // A close event always follows; nothing to do here.
    };
    this.#connectTimer = this.#timers.setTimeout(() => {
      this.#connectTimer = null;
      if (ws === this.#ws && ws.readyState !== WS_OPEN) this.#giveUp('connect timeout');
    }, this.#opts.connectTimeout);
    // navigator.onLine can be wrong (it only knows about interfaces), so we
    // still try while it says offline, but we show the page as offline.
    this.#setState(this.#online ? 'connecting' : 'offline');
  }

  #handleOpen() {
    this.#clearTimer('connect');
    this.#pingTimer = this.#timers.setInterval(() => this.#ping(), this.#opts.pingInterval);
    this.#stableTimer = this.#timers.setTimeout(() => {
      this.#stableTimer = null;
      this.#attempt = 0;
      this.#emitState();
    }, this.#opts.stableAfter);
    this.#baseline = new Set(this.#channels.keys());
    this.#deliveredHere = new Set();
    for (const channel of this.#channels.keys()) this.send({ type: 'subscribe', channel });
    this.#setState('live');
  }

  /** The socket closed on its own (server, network, handshake refused). */
  #lost() {
    this.#teardown();
    this.#scheduleReconnect();
  }

  /** We decided the socket is dead: close it without waiting, then reconnect. */
  #giveUp(reason) {
    const ws = this.#ws;
    this.#logger.warn(`livewatch: ${reason}, reconnecting`);
    this.#teardown();
    if (ws) {
      try {
        ws.close(CLOSE_DEAD, reason);
      } catch {
        // already closing; the handlers are detached anyway
      }
    }
    this.#scheduleReconnect();
  }

  #teardown() {
    const ws = this.#ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    }
    this.#ws = null;
    this.#connectionId = null;
    this.#clearTimer('connect');
    this.#clearTimer('stable');
    this.#clearTimer('ping');
    this.#clearTimer('pong');
  }

  #scheduleReconnect() {
    if (this.#stopped) return;
    this.#clearTimer('reconnect');
    const delay = backoffDelay(this.#attempt, this.#random, this.#opts.baseDelay, this.#opts.maxDelay);
    this.#attempt += 1;
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open();
    }, delay);
    this.#setState(this.#online ? 'reconnecting' : 'offline', this.#now() + delay);
  }

  #ping() {
    if (!this.isLive || this.#pongTimer !== null) return;
    this.send({ type: 'ping' });
    this.#pongTimer = this.#timers.setTimeout(() => {
      this.#pongTimer = null;
      this.#giveUp('no pong within timeout');
    }, this.#opts.pongTimeout);
  }

  // ---- browser connectivity ---------------------------------------------

  #bindWindow() {
    const w = this.#window;
    if (this.#windowBound || !w || typeof w.addEventListener !== 'function') return;
    w.addEventListener('online', this.#onOnlineHandler);
    w.addEventListener('offline', this.#onOfflineHandler);
    this.#windowBound = true;
  }

  #unbindWindow() {
    const w = this.#window;
    if (!this.#windowBound || !w) return;
    w.removeEventListener('online', this.#onOnlineHandler);
    w.removeEventListener('offline', this.#onOfflineHandler);
    this.#windowBound = false;
  }

  #onOnline() {
    this.#online = true;
    if (this.#stopped) return;
    if (this.isLive) {
      // The network changed under an open socket: check it is still alive.
      this.#setState('live');
      this.#ping();
    } else if (this.#ws) {
      this.#setState('connecting');
    } else {
      this.#clearTimer('reconnect');
      this.#open();
    }
  }

  #onOffline() {
    this.#online = false;
    if (this.#stopped) return;
    // Keep any pending retry (it is cheap and navigator.onLine may be wrong);
    // `online` will cut the wait short.
    this.#setState('offline', this.#state.nextAttemptAt);
    if (this.isLive) this.#ping();
  }

  // ---- frames -----------------------------------------------------------

  #handleMessage(ev) {
    // Any frame proves the connection is alive.
    this.#clearTimer('pong');
    const raw = ev && ev.data;
    if (typeof raw !== 'string') {
      this.#logger.warn('livewatch: ignoring non-text frame');
      return;
    }
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch (err) {
      this.#logger.warn('livewatch: ignoring invalid JSON frame', err && err.message);
      return;
    }
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame) || typeof frame.type !== 'string') {
      this.#logger.warn('livewatch: ignoring frame without a type');
      return;
    }
    switch (frame.type) {
      case 'event':
        this.#handleEvent(frame);
        return;
      case 'connected':
        if (this.#node !== null && frame.node !== this.#node) {
          // Another server: its seq counters are not ours.
          const channels = [...this.#lastSeq.keys()];
          this.#lastSeq.clear();
          for (const channel of channels) this.#emit('reset', { channel, reason: 'node' });
        }
        this.#node = frame.node === undefined ? null : frame.node;
        this.#connectionId = frame.connection_id === undefined ? null : frame.connection_id;
        this.#askBaselines(frame.channels);
        this.#emitState();
        break;
      case 'subscribed':
        if (typeof frame.channel === 'string' && Number.isFinite(frame.seq)) this.#onSubscribed(frame.channel, frame.seq);
        break;
      case 'error':
        this.#logger.warn(`livewatch: server error ${frame.code}: ${frame.message}`);
        break;
      default:
        break;
    }
    this.#emit('frame', frame);
    if (frame.type === 'connected' || frame.type === 'subscribed' || frame.type === 'unsubscribed' || frame.type === 'pong' || frame.type === 'error') {
      this.#emit(frame.type, frame);
    }
  }

  /**
   * The server auto-subscribes some channels (`global`, ...) and sends no
   * `subscribed` for them. Ask for them once per connection anyway (the
   * server treats it as a no-op) to learn their current seq.
   */
  #askBaselines(channels) {
    if (!Array.isArray(channels)) return;
    for (const channel of channels) {
      if (typeof channel !== 'string' || this.#channels.has(channel) || this.#baseline.has(channel)) continue;
      this.#baseline.add(channel);
      this.send({ type: 'subscribe', channel });
    }
  }

  #onSubscribed(channel, seq) {
    const last = this.#lastSeq.get(channel);
    const first = this.#baseline.delete(channel);
    if (last === undefined || seq > last) {
      this.#lastSeq.set(channel, seq);
    } else if (first && seq < last && !this.#deliveredHere.has(channel)) {
      // The channel's counter is below what an earlier connection saw: the
      // server restarted (seqs begin again at 1). Without this the page would
      // drop every event until the new seqs passed the old ones. Nothing was
      // delivered on this connection for the channel, so nothing can repeat.
      this.#logger.warn(`livewatch: seq of '${channel}' went back from ${last} to ${seq}; the server restarted`);
      this.#lastSeq.set(channel, seq);
      this.#emit('reset', { channel, reason: 'restart', from: last, to: seq });
    }
    // Otherwise never move backwards: that would let duplicates through.
  }

  #handleEvent(frame) {
    const { channel, seq } = frame;
    if (typeof channel === 'string' && Number.isFinite(seq)) {
      const last = this.#lastSeq.get(channel);
      if (last !== undefined && seq <= last) {
        this.#emit('duplicate', frame);
        return;
      }
      this.#lastSeq.set(channel, seq);
      this.#deliveredHere.add(channel);
    }
    this.#emit('frame', frame);
    this.#emit('event', frame);
    if (typeof frame.event === 'string') this.#emit(frame.event, frame.data, frame);
  }

  // ---- helpers ----------------------------------------------------------

  #emit(name, ...args) {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        this.#logger.error(`livewatch: '${name}' handler failed`, err);
      }
    }
  }

  #setState(name, nextAttemptAt = null) {
    const prev = this.#state;
    const next = {
      state: name,
      nextAttemptAt,
      attempt: this.#attempt,
      online: this.#online,
      connectionId: this.#connectionId,
    };
    this.#state = next;
    if (prev.state !== next.state || prev.nextAttemptAt !== next.nextAttemptAt || prev.online !== next.online) {
      this.#emit('state', { ...next });
    }
  }

  /** Refresh attempt/connectionId in the snapshot and tell listeners. */
  #emitState() {
    this.#state = { ...this.#state, attempt: this.#attempt, connectionId: this.#connectionId };
    this.#emit('state', { ...this.#state });
  }

  #clearTimer(which) {
    switch (which) {
      case 'reconnect':
        if (this.#reconnectTimer !== null) this.#timers.clearTimeout(this.#reconnectTimer);
        this.#reconnectTimer = null;
        break;
      case 'connect':
        if (this.#connectTimer !== null) this.#timers.clearTimeout(this.#connectTimer);
        this.#connectTimer = null;
        break;
      case 'stable':
        if (this.#stableTimer !== null) this.#timers.clearTimeout(this.#stableTimer);
        this.#stableTimer = null;
        break;
      case 'ping':
        if (this.#pingTimer !== null) this.#timers.clearInterval(this.#pingTimer);
        this.#pingTimer = null;
        break;
      case 'pong':
        if (this.#pongTimer !== null) this.#timers.clearTimeout(this.#pongTimer);
        this.#pongTimer = null;
        break;
      default:
        throw new Error(`unknown timer ${which}`);
    }
  }
}
