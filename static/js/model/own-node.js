// The page's own node: the `node` of the socket's `connected` frame
// (docs/protocol.md, Connecting). Every node's system.metric arrives on the
// `system` channel; the gauges and charts show this one's only.

export class OwnNode {
  /** `socket`: anything with on('connected', fn) returning an off function (optional). */
  constructor(socket = null) {
    this.name = null;
    this.listeners = new Set();
    this.off = socket ? socket.on('connected', (frame) => this.set(frame && frame.node)) : () => {};
  }

  /** Take `name` as the page's node; listeners hear (name, previous) when it changes. */
  set(name) {
    if (typeof name !== 'string' || name === '' || name === this.name) return;
    const previous = this.name;
    this.name = name;
    for (const fn of [...this.listeners]) fn(name, previous);
  }

  /** Call `fn(name, previous)` whenever the page's node changes; returns an off function. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Is `sample` the page's own node's? Until `connected` names the node, and
   * for a sample that names none, yes.
   */
  accepts(sample) {
    if (!sample || typeof sample !== 'object') return false;
    return this.name === null || typeof sample.node !== 'string' || sample.node === this.name;
  }

  destroy() {
    this.off();
    this.listeners.clear();
  }
}
