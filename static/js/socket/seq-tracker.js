// Per channel: the last seq delivered and the epoch of the stream it was
// counted in. It drops event frames already delivered, notices when a
// channel's numbering started again, and gives each channel's position
// {seq, epoch}: where a later connection could resume. Frame fields:
// docs/protocol.md.
//
// The epoch is an opaque value from the server naming a numbering of seqs.
// Two positions compare only within one epoch. Protocol v1 has no epoch of
// its own, so the caller passes the `node` of the `connected` frame.
//
// Two kinds of reset:
//   'node'     the epoch changed: every channel counts afresh.
//   'restart'  same epoch, but the first `subscribed` of a channel on a new
//              connection reports a seq below the one delivered: the server
//              restarted and counts from 1 again.

export class SeqTracker {
  #streams = new Map(); // channel -> {seq, epoch}
  #epoch = null; // epoch of the current connection, once the server said it
  #awaiting = new Set(); // channels whose first `subscribed` on this connection is due
  #deliveredHere = new Set(); // channels that delivered an event on this connection

  /** A new connection: nothing was asked for or delivered on it yet. */
  newConnection() {
    this.#awaiting = new Set();
    this.#deliveredHere = new Set();
  }

  /** A `subscribe` for `channel` went out on this connection: its answer is a baseline. */
  expect(channel) {
    this.#awaiting.add(channel);
  }

  /** Is the first `subscribed` of `channel` on this connection still due? */
  isExpected(channel) {
    return this.#awaiting.has(channel);
  }

  /** `channel` was given up: a late answer is no baseline. */
  forget(channel) {
    this.#awaiting.delete(channel);
  }

  /**
   * The server named the epoch of its streams. A different epoch from the
   * previous known one means different seq counters: every channel is
   * dropped. Returns the channels dropped.
   */
  setEpoch(epoch) {
    const next = epoch === undefined ? null : epoch;
    let reset = [];
    if (this.#epoch !== null && next !== this.#epoch) {
      reset = [...this.#streams.keys()];
      this.#streams.clear();
    } else if (next !== null) {
      // Seqs seen before the epoch was known belong to this one.
      for (const stream of this.#streams.values()) if (stream.epoch === null) stream.epoch = next;
    }
    this.#epoch = next;
    return reset;
  }

  get epoch() {
    return this.#epoch;
  }

  /** An event frame's seq on `channel`: true if it is new (deliver it), false if it is a duplicate. */
  accept(channel, seq) {
    const last = this.last(channel);
    if (last !== undefined && seq <= last) return false;
    this.#record(channel, seq);
    this.#deliveredHere.add(channel);
    return true;
  }

  /**
   * A `subscribed` frame: the channel's seq on the server now. It moves the
   * position forward, never back, except for a detected restart, for which
   * it returns {channel, reason: 'restart', from, to}; otherwise null.
   */
  subscribed(channel, seq) {
    const last = this.last(channel);
    const first = this.#awaiting.delete(channel);
    if (last === undefined || seq > last) {
      this.#record(channel, seq);
      return null;
    }
    if (first && seq < last && !this.#deliveredHere.has(channel)) {
      // Below what an earlier connection saw, and nothing was delivered for
      // the channel on this connection (so nothing can repeat): the server
      // counts from 1 again. Without this every event would be dropped until
      // the new seqs passed the old ones.
      this.#record(channel, seq);
      return { channel, reason: 'restart', from: last, to: seq };
    }
    // Otherwise never move backwards: that would let duplicates through.
    return null;
  }

  /** Last seq delivered (or announced) on `channel`, or undefined. */
  last(channel) {
    return this.#streams.get(channel)?.seq;
  }

  /** Where `channel` stands: {seq, epoch} (epoch null while unknown), or undefined if nothing was seen. */
  position(channel) {
    const stream = this.#streams.get(channel);
    return stream ? { seq: stream.seq, epoch: stream.epoch } : undefined;
  }

  /** Channels with a known seq. */
  get channels() {
    return [...this.#streams.keys()];
  }

  #record(channel, seq) {
    this.#streams.set(channel, { seq, epoch: this.#epoch });
  }
}
