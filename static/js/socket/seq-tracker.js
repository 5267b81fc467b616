// Per channel: the last seq delivered and the epoch of the stream it was
// counted in. It drops event frames already delivered, notices when a
// channel's numbering started again, and gives each channel's position
// {seq, epoch}: what a later `subscribe` sends as `since` to recover what it
// missed. Frame fields and the recovery rules: docs/protocol.md, Recovery.
//
// The epoch is the channel stream's, an opaque string from `subscribed` (or
// from the history endpoint, see startAt()). Seqs compare only within one
// epoch.
//
// The first `subscribed` of a channel on a connection is the answer to this
// connection's `subscribe`: the channel's position on the server. It resets
// the channel (keys of the form channel:seq may repeat) when
//   'epoch'    it names another epoch: the stream's history was lost;
//   'restart'  it reports a seq below the one delivered while nothing was
//              delivered for the channel on this connection: the server
//              counts from 1 again.
// With `recovered: false` the server's position replaces ours (what was
// missed is not coming); with `recovered: true` the replayed events came
// first and the position only moves forward.

function epochOf(value) {
  return typeof value === 'string' && value !== '' ? value : null;
}

export class SeqTracker {
  #streams = new Map(); // channel -> {seq, epoch}
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
   * Start `channel` at `position` ({seq, epoch}, e.g. a history answer) if
   * nothing is known of it yet. Returns whether it was taken.
   */
  startAt(channel, position) {
    if (this.#streams.has(channel) || !position) return false;
    const { seq } = position;
    if (!Number.isInteger(seq) || seq < 0) return false;
    this.#streams.set(channel, { seq, epoch: epochOf(position.epoch) });
    return true;
  }

  /** An event frame's seq on `channel`: true if it is new (deliver it), false if it is a duplicate. */
  accept(channel, seq) {
    const last = this.last(channel);
    if (last !== undefined && seq <= last) return false;
    this.#record(channel, seq, this.#streams.get(channel)?.epoch ?? null);
    this.#deliveredHere.add(channel);
    return true;
  }

  /**
   * A `subscribed` frame ({seq, epoch, recovered} of docs/protocol.md). Returns
   * {channel, reason: 'epoch' | 'restart', from, to} when the channel's seqs
   * start again, otherwise null. Any other answer never moves the position
   * back.
   */
  subscribed(channel, seq, { epoch, recovered } = {}) {
    const known = this.#streams.get(channel);
    const first = this.#awaiting.delete(channel);
    const named = epochOf(epoch);
    if (known === undefined) {
      this.#record(channel, seq, named);
      return null;
    }
    const otherEpoch = named !== null && known.epoch !== null && named !== known.epoch;
    if (!first) {
      // Not this connection's answer: it may only move us forward in our own stream.
      if (!otherEpoch && seq > known.seq) this.#record(channel, seq, named ?? known.epoch);
      return null;
    }
    // Below what an earlier connection saw, and nothing was delivered for
    // the channel on this connection (so nothing can repeat).
    const wentBack = seq < known.seq && !this.#deliveredHere.has(channel);
    if (otherEpoch || wentBack) {
      this.#record(channel, seq, named);
      return { channel, reason: otherEpoch ? 'epoch' : 'restart', from: known.seq, to: seq };
    }
    if (recovered === false || seq > known.seq) this.#record(channel, seq, named ?? known.epoch);
    else if (known.epoch === null && named !== null) this.#record(channel, known.seq, named);
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

  #record(channel, seq, epoch) {
    this.#streams.set(channel, { seq, epoch });
  }
}
