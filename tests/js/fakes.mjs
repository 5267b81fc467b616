// Test doubles for driving LiveSocket without a browser: a manual clock with
// timers, a scriptable WebSocket, a window that fires online/offline, and a
// logger that records what it was told.

export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.time = start;
    this.nextId = 1;
    this.timers = new Map(); // id -> {at, fn, every}
  }

  now = () => this.time;

  setTimeout = (fn, ms = 0) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn, every: null });
    return id;
  };

  clearTimeout = (id) => {
    this.timers.delete(id);
  };

  setInterval = (fn, ms) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn, every: ms });
    return id;
  };

  clearInterval = (id) => {
    this.timers.delete(id);
  };

  get timerFns() {
    return {
      setTimeout: this.setTimeout,
      clearTimeout: this.clearTimeout,
      setInterval: this.setInterval,
      clearInterval: this.clearInterval,
    };
  }

  /** Move time forward, firing due timers in order. */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, t] of this.timers) {
        if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && id < nextId))) {
          next = t;
          nextId = id;
        }
      }
      if (next === null) break;
      this.time = next.at;
      if (next.every !== null) next.at += next.every;
      else this.timers.delete(nextId);
      next.fn();
    }
    this.time = end;
  }

  pendingCount() {
    return this.timers.size;
  }
}

export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static instances = [];

  static reset() {
    FakeWebSocket.instances = [];
  }

  static get last() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    this.closedWith = null;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    FakeWebSocket.instances.push(this);
  }

  send(data) {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }

  /** Messages sent by the client, parsed. */
  get messages() {
    return this.sent.map((s) => JSON.parse(s));
  }

  close(code = 1000, reason = '') {
    this.closedWith = { code, reason };
    this.readyState = FakeWebSocket.CLOSING;
  }

  // ---- driven by the test ----

  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({ type: 'open' });
  }

  receive(frame) {
    const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.onmessage?.({ type: 'message', data });
  }

  /** The connection ends without the client asking (server gone, network). */
  drop(code = 1006) {
    this.readyState = FakeWebSocket.CLOSED;
    this.onerror?.({ type: 'error' });
    this.onclose?.({ type: 'close', code, reason: '', wasClean: false });
  }
}

export function fakeLogger() {
  const log = { warn: [], error: [], info: [] };
  return {
    log,
    warn: (...args) => log.warn.push(args),
    error: (...args) => log.error.push(args),
    info: (...args) => log.info.push(args),
  };
}

/** A window stand-in: an EventTarget that can announce connectivity changes. */
export class FakeWindow extends EventTarget {
  goOnline() {
    this.dispatchEvent(new Event('online'));
  }

  goOffline() {
    this.dispatchEvent(new Event('offline'));
  }
}

/** A random source that returns the given values in turn (the last one repeats). */
export function sequenceRandom(...values) {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

export const ALMOST_ONE = 1 - 1e-9;

/** fetch() stand-in: answers by method and URL, records every request with its body. */
export function scriptedFetch(routes) {
  const requests = [];
  const fn = async (url, init = {}) => {
    const method = init.method || 'GET';
    requests.push({ method, url, headers: init.headers || {}, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const route = routes[`${method} ${url}`];
    if (!route) return { ok: false, status: 404, json: async () => ({ error: 'not found' }) };
    const [status, body] = typeof route === 'function' ? route(requests.at(-1)) : route;
    return { ok: status >= 200 && status < 300, status, json: async () => structuredClone(body) };
  };
  fn.requests = requests;
  return fn;
}
