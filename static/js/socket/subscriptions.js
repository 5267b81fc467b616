// Which channels the page wants, reference counted: several widgets may ask
// for the same channel, and the server hears about it once. The first
// reference tells the server to subscribe, the last release tells it to
// unsubscribe; after a reconnect the socket asks again for every channel in
// `channels`. Message shapes: docs/protocol.md.

export class Subscriptions {
  #counts = new Map(); // channel -> references
  #subscribe;
  #unsubscribe;

  /**
   * `subscribe(channel)` / `unsubscribe(channel)` tell the server; they are
   * called on the first reference and on the last release.
   */
  constructor({ subscribe, unsubscribe }) {
    this.#subscribe = subscribe;
    this.#unsubscribe = unsubscribe;
  }

  /** Take a reference to `channel`. Returns a release function for this one reference. */
  add(channel) {
    if (typeof channel !== 'string' || channel === '') throw new TypeError('channel must be a non-empty string');
    const count = this.#counts.get(channel) || 0;
    this.#counts.set(channel, count + 1);
    if (count === 0) this.#subscribe(channel);
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.remove(channel);
      }
    };
  }

  /** Drop one reference to `channel`; unknown channels are ignored. */
  remove(channel) {
    const count = this.#counts.get(channel) || 0;
    if (count === 0) return;
    if (count > 1) {
      this.#counts.set(channel, count - 1);
      return;
    }
    this.#counts.delete(channel);
    this.#unsubscribe(channel);
  }

  has(channel) {
    return this.#counts.has(channel);
  }

  /** References held on `channel`. */
  count(channel) {
    return this.#counts.get(channel) || 0;
  }

  /** The wanted channels, in the order they were first asked for. */
  get channels() {
    return [...this.#counts.keys()];
  }
}
