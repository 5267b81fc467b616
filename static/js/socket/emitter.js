// A tiny event emitter. A listener that throws is logged and does not stop
// the listeners after it.

export class Emitter {
  #listeners = new Map(); // name -> Set<fn>
  #logger;

  constructor(logger = globalThis.console) {
    this.#logger = logger;
  }

  /** Register a listener; returns a function that removes it. */
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

  /** Call every listener of `name` with `args`, in registration order. */
  emit(name, ...args) {
    const set = this.#listeners.get(name);
    if (!set) return;
    // A copy: listeners may add or remove listeners while we go.
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        this.#logger.error(`livewatch: '${name}' handler failed`, err);
      }
    }
  }

  listenerCount(name) {
    return this.#listeners.get(name)?.size ?? 0;
  }
}
