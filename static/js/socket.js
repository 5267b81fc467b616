// The one WebSocket client shared by every widget on the page.
//
// Speaks livewatch wire protocol v1 (docs/protocol.md). This module is the
// connection state machine and its timers; the parts live in ./socket/:
// backoff, event emitter, subscriptions, seq tracking and the URL.
// Everything that touches the outside world (WebSocket class, timers,
// clock, random source, window, navigator, location, logger) can be
// injected, so `node --test` drives it without a browser. Nothing here
// touches the DOM at import time.
//
// Recovery (docs/protocol.md, Recovery): the socket connects with
// `auto_subscribe=false` and, once `connected` has arrived, subscribes every
// channel itself: those asked for with subscribe() and the connection's own
// channels that `connected` lists. A channel whose position {seq, epoch} is
// known is subscribed with it as `since`, so the server replays what was
// missed as ordinary event frames (deduped like any other). A channel seen
// for the first time can be started from a position found elsewhere (the
// `startFrom` option, e.g. the history endpoint), so nothing falls between
// that and the live events.

import { BACKOFF_BASE, BACKOFF_CAP, Backoff } from './socket/backoff.js';
import { Emitter } from './socket/emitter.js';
import { SeqTracker } from './socket/seq-tracker.js';
import { Subscriptions } from './socket/subscriptions.js';
import { NamedTimers } from './socket/timers.js';
import { FORWARDED_PARAMS, RECOVERY_PARAMS, SOCKET_PATH, pageLocation, socketUrl } from './socket/url.js';

export { backoffBound, backoffDelay } from './socket/backoff.js';
export { FORWARDED_PARAMS, RECOVERY_PARAMS, SOCKET_PATH, socketUrl } from './socket/url.js';

export const DEFAULTS = Object.freeze({
  baseDelay: BACKOFF_BASE, // ms, first backoff bound
  maxDelay: BACKOFF_CAP, // ms, backoff cap
  stableAfter: 10_000, // ms a connection must stay open before attempts reset
  pingInterval: 20_000, // ms between client pings
  pongTimeout: 10_000, // ms without any frame after a ping => socket is dead
  connectTimeout: 10_000, // ms a handshake may take before we give up on it
});

const WS_OPEN = 1;
const CLOSE_NORMAL = 1000;
const CLOSE_DEAD = 4000; // application code: we gave up on an unresponsive socket

/** Server frames emitted under their own type as well as 'frame'. */
const TYPED_FRAMES = new Set(['connected', 'subscribed', 'unsubscribed', 'pong', 'error']);

/** Timers that belong to one connection; 'reconnect' belongs to the gap between two. */
const CONNECTION_TIMERS = ['connect', 'stable', 'ping', 'pong'];

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
 *   'reset'       ({channel, reason, from, to})
 *                                       a channel's seqs start again (its
 *                                       stream has another epoch, or the
 *                                       server counts from 1 again); keys of
 *                                       the form channel:seq may repeat
 *   'stale'       ({channel, reason, seq, epoch})
 *                                       `subscribed` said `recovered: false`:
 *                                       events of the channel were missed and
 *                                       are not coming; what was built from
 *                                       them must be fetched again
 *
 * Options besides the injected world and the DEFAULTS timings:
 *   url           the socket URL as is (default: from the page's location,
 *                 with RECOVERY_PARAMS; a URL without them gets the server's
 *                 auto-subscriptions, and those channels are not recovered)
 *   startFrom     (channel) => {seq, epoch} | null, or a promise of one:
 *                 called once for a channel with no known position, before
 *                 its first `subscribe`; the answer is used as `since`
 */
export class LiveSocket {
  #opts;
  #WebSocket;
  #timers;
  #now;
  #window;
  #logger;
  #url;
  #backoff;
  #events;
  #subs;
  #seqs = new SeqTracker();
  #startFrom;
  #starting = new Map(); // channel -> promise of its startFrom() answer
  #startAsked = new Set(); // channels startFrom() was called for
  #asked = new Set(); // channels a `subscribe` was sent (or is queued) for on this connection
  #own = new Set(); // the connection's own channels, from `connected`
  #greeted = false; // `connected` arrived on this connection

  #ws = null;
  #onOnlineHandler = () => this.#onOnline();
  #onOfflineHandler = () => this.#onOffline();
  #stopped = false;
  #online = true;
  #windowBound = false;
  #connectionId = null;
  #state = { state: 'idle', nextAttemptAt: null, attempt: 0, online: true, connectionId: null };

  constructor(options = {}) {
    this.#opts = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) {
      if (typeof options[key] === 'number') this.#opts[key] = options[key];
    }
    this.#WebSocket = options.WebSocket || globalThis.WebSocket;
    this.#timers = new NamedTimers(options.timers);
    this.#now = options.now || (() => Date.now());
    this.#window = options.window !== undefined ? options.window : globalThis.window || null;
    this.#logger = options.logger || globalThis.console;
    this.#backoff = new Backoff({ base: this.#opts.baseDelay, cap: this.#opts.maxDelay, random: options.random || Math.random });
    this.#events = new Emitter(this.#logger);
    this.#startFrom = typeof options.startFrom === 'function' ? options.startFrom : null;
    this.#subs = new Subscriptions({
      subscribe: (channel) => this.#want(channel),
      unsubscribe: (channel) => {
        // The connection's own channels stay: the socket holds them itself.
        if (this.#own.has(channel)) return;
        this.#asked.delete(channel);
        this.#seqs.forget(channel);
        this.send({ type: 'unsubscribe', channel });
      },
    });
    const nav = options.navigator !== undefined ? options.navigator : globalThis.navigator;
    this.#online = !(nav && nav.onLine === false);
    this.#url =
      options.url || socketUrl(options.location || pageLocation(), options.path || SOCKET_PATH, FORWARDED_PARAMS, RECOVERY_PARAMS);
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
    return this.#subs.channels;
  }

  /** Last seq delivered on `channel`, or undefined. */
  lastSeq(channel) {
    return this.#seqs.last(channel);
  }

  /** Where `channel` stands, {seq, epoch}: what a reconnect recovers from; undefined if unknown. */
  position(channel) {
    return this.#seqs.position(channel);
  }

  /** Register a handler; returns a function that removes it. */
  on(name, fn) {
    return this.#events.on(name, fn);
  }

  off(name, fn) {
    this.#events.off(name, fn);
  }

  /** Start (or restart after close()) connecting. */
  connect() {
    this.#stopped = false;
    this.#bindWindow();
    if (this.#ws) return;
    this.#open();
  }

  /** Intentional close: no reconnect until connect() is called again. */
  close() {
    this.#stopped = true;
    this.#timers.clear('reconnect');
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
   * subscription is re-sent (with `since`) after every reconnect. Returns an
   * unsubscribe function for this one reference.
   */
  subscribe(channel) {
    return this.#subs.add(channel);
  }

  unsubscribe(channel) {
    this.#subs.remove(channel);
  }

  // ---- connection lifecycle ---------------------------------------------

  #open() {
    if (this.#stopped || this.#ws) return;
    this.#timers.clear('reconnect');
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
    this.#timers.after('connect', this.#opts.connectTimeout, () => {
      if (ws === this.#ws && ws.readyState !== WS_OPEN) this.#giveUp('connect timeout');
    });
    // navigator.onLine can be wrong (it only knows about interfaces), so we
    // still try while it says offline, but we show the page as offline.
    this.#setState(this.#online ? 'connecting' : 'offline');
  }

  #handleOpen() {
    this.#timers.clear('connect');
    this.#timers.every('ping', this.#opts.pingInterval, () => this.#ping());
    this.#timers.after('stable', this.#opts.stableAfter, () => {
      this.#backoff.reset();
      this.#emitState();
    });
    this.#seqs.newConnection();
    this.#asked = new Set();
    // Subscriptions go out once `connected` has named the connection's own channels.
    this.#setState('live');
  }

  /** A channel is wanted: find where it starts if need be, and ask for it if connected. */
  #want(channel) {
    this.#start(channel);
    this.#askFor(channel);
  }

  /** Call startFrom() once for a channel with no known position; its answer becomes the position. */
  #start(channel) {
    if (!this.#startFrom || this.#startAsked.has(channel) || this.#seqs.position(channel)) return;
    this.#startAsked.add(channel);
    let answer;
    try {
      answer = this.#startFrom(channel);
    } catch (err) {
      this.#logger.warn(`livewatch: cannot find where '${channel}' starts`, err);
      return;
    }
    if (!answer || typeof answer.then !== 'function') {
      this.#seqs.startAt(channel, answer);
      return;
    }
    const done = Promise.resolve(answer)
      .then(
        (position) => this.#seqs.startAt(channel, position),
        (err) => this.#logger.warn(`livewatch: cannot find where '${channel}' starts`, err),
      )
      .finally(() => this.#starting.delete(channel));
    this.#starting.set(channel, done);
  }

  /** Subscribe on this connection, once, after `connected` and after the channel's start is known. */
  #askFor(channel) {
    if (!this.isLive || !this.#greeted || this.#asked.has(channel)) return;
    this.#asked.add(channel);
    const starting = this.#starting.get(channel);
    if (!starting) {
      this.#sendSubscribe(channel);
      return;
    }
    const ws = this.#ws;
    starting.then(() => {
      if (ws === this.#ws && this.#asked.has(channel)) this.#sendSubscribe(channel);
    });
  }

  /** Send `subscribe`, with `since` when the position is known; its first answer is the baseline. */
  #sendSubscribe(channel) {
    const message = { type: 'subscribe', channel };
    const at = this.#seqs.position(channel);
    if (at && at.epoch !== null) message.since = { seq: at.seq, epoch: at.epoch };
    if (this.send(message)) this.#seqs.expect(channel);
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
    this.#greeted = false;
    this.#timers.clear(...CONNECTION_TIMERS);
  }

  #scheduleReconnect() {
    if (this.#stopped) return;
    const delay = this.#backoff.next();
    this.#timers.after('reconnect', delay, () => this.#open());
    this.#setState(this.#online ? 'reconnecting' : 'offline', this.#now() + delay);
  }

  #ping() {
    if (!this.isLive || this.#timers.has('pong')) return;
    this.send({ type: 'ping' });
    this.#timers.after('pong', this.#opts.pongTimeout, () => this.#giveUp('no pong within timeout'));
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
    this.#timers.clear('pong');
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
        this.#connectionId = frame.connection_id === undefined ? null : frame.connection_id;
        this.#onConnected(frame);
        this.#emitState();
        break;
      case 'subscribed':
        if (typeof frame.channel === 'string' && Number.isFinite(frame.seq)) this.#onSubscribed(frame);
        break;
      case 'error':
        this.#logger.warn(`livewatch: server error ${frame.code}: ${frame.message}`);
        break;
      default:
        break;
    }
    this.#events.emit('frame', frame);
    if (TYPED_FRAMES.has(frame.type)) this.#events.emit(frame.type, frame);
  }

  /**
   * Subscribe every wanted channel and the connection's own ones. With
   * `auto_subscribed` the server holds the own channels already: `since` on
   * them would be refused, so they are left as they are.
   */
  #onConnected(frame) {
    const own = Array.isArray(frame.channels) ? frame.channels.filter((c) => typeof c === 'string' && c !== '') : [];
    this.#own = new Set(own);
    this.#greeted = true;
    if (frame.auto_subscribed === true) for (const channel of own) this.#asked.add(channel);
    for (const channel of new Set([...this.#subs.channels, ...own])) this.#want(channel);
  }

  #onSubscribed(frame) {
    const { channel, seq, epoch, recovered, reason } = frame;
    const reset = this.#seqs.subscribed(channel, seq, { epoch, recovered });
    if (reset) {
      this.#logger.warn(`livewatch: '${channel}' starts again at seq ${reset.to} (was ${reset.from}): ${reset.reason === 'epoch' ? 'its history was lost' : 'the server restarted'}`);
      this.#events.emit('reset', reset);
    }
    if (recovered === false) {
      const why = typeof reason === 'string' ? reason : 'unknown';
      this.#logger.warn(`livewatch: missed events of '${channel}' could not be recovered (${why})`);
      this.#events.emit('stale', { channel, reason: why, seq, epoch: typeof epoch === 'string' ? epoch : null });
    }
  }

  #handleEvent(frame) {
    const { channel, seq } = frame;
    if (typeof channel === 'string' && Number.isFinite(seq) && !this.#seqs.accept(channel, seq)) {
      this.#events.emit('duplicate', frame);
      return;
    }
    this.#events.emit('frame', frame);
    this.#events.emit('event', frame);
    if (typeof frame.event === 'string') this.#events.emit(frame.event, frame.data, frame);
  }

  // ---- state snapshot ---------------------------------------------------

  #setState(name, nextAttemptAt = null) {
    const prev = this.#state;
    const next = {
      state: name,
      nextAttemptAt,
      attempt: this.#backoff.attempt,
      online: this.#online,
      connectionId: this.#connectionId,
    };
    this.#state = next;
    if (prev.state !== next.state || prev.nextAttemptAt !== next.nextAttemptAt || prev.online !== next.online) {
      this.#events.emit('state', { ...next });
    }
  }

  /** Refresh attempt/connectionId in the snapshot and tell listeners. */
  #emitState() {
    this.#state = { ...this.#state, attempt: this.#backoff.attempt, connectionId: this.#connectionId };
    this.#events.emit('state', { ...this.#state });
  }
}
