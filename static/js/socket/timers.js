// Named timers: at most one timer per name, so starting a timer replaces the
// one of the same name and clearing needs only the name. The timer functions
// are injected, so tests can drive them with a fake clock.

function globalTimers() {
  return {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
    clearInterval: (id) => globalThis.clearInterval(id),
  };
}

export class NamedTimers {
  #fns;
  #running = new Map(); // name -> {id, repeat}

  /** `fns`: any of setTimeout/clearTimeout/setInterval/clearInterval; the rest are the global ones. */
  constructor(fns = {}) {
    this.#fns = { ...globalTimers(), ...fns };
  }

  /** Call `fn` once after `ms` under `name` (replacing a timer of that name). */
  after(name, ms, fn) {
    this.clear(name);
    const entry = { id: null, repeat: false };
    entry.id = this.#fns.setTimeout(() => {
      if (this.#running.get(name) === entry) this.#running.delete(name);
      fn();
    }, ms);
    this.#running.set(name, entry);
  }

  /** Call `fn` every `ms` under `name` (replacing a timer of that name). */
  every(name, ms, fn) {
    this.clear(name);
    const id = this.#fns.setInterval(fn, ms);
    this.#running.set(name, { id, repeat: true });
  }

  /** Stop the timers of these names; unknown or finished names are fine. */
  clear(...names) {
    for (const name of names) {
      const entry = this.#running.get(name);
      if (!entry) continue;
      this.#running.delete(name);
      if (entry.repeat) this.#fns.clearInterval(entry.id);
      else this.#fns.clearTimeout(entry.id);
    }
  }

  clearAll() {
    this.clear(...this.#running.keys());
  }

  /** Is a timer of this name pending? */
  has(name) {
    return this.#running.has(name);
  }
}
