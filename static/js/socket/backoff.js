// Reconnect delays: exponential backoff with full jitter. A delay is drawn
// uniformly from [0, min(cap, base * 2^attempt)], so clients that lost the
// server together do not come back together.

export const BACKOFF_BASE = 500; // ms, bound of the first delay
export const BACKOFF_CAP = 30_000; // ms, no delay is longer

/** Upper bound of the backoff delay before attempt `attempt` (0-based). */
export function backoffBound(attempt, base = BACKOFF_BASE, cap = BACKOFF_CAP) {
  const n = Math.max(0, Math.floor(attempt));
  return Math.min(cap, base * 2 ** n);
}

/** Full jitter: a delay drawn uniformly from [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt, random = Math.random, base = BACKOFF_BASE, cap = BACKOFF_CAP) {
  let r = Number(random());
  if (!Number.isFinite(r)) r = 0;
  r = Math.min(1, Math.max(0, r));
  return Math.round(r * backoffBound(attempt, base, cap));
}

/** The attempt counter: each next() gives a delay and grows the bound. */
export class Backoff {
  #base;
  #cap;
  #random;
  #attempt = 0;

  constructor({ base = BACKOFF_BASE, cap = BACKOFF_CAP, random = Math.random } = {}) {
    this.#base = base;
    this.#cap = cap;
    this.#random = random;
  }

  /** Failed attempts since the last reset(). */
  get attempt() {
    return this.#attempt;
  }

  /** The delay before the next attempt; counts one more attempt. */
  next() {
    const delay = backoffDelay(this.#attempt, this.#random, this.#base, this.#cap);
    this.#attempt += 1;
    return delay;
  }

  /** A connection held: start again from the smallest bound. */
  reset() {
    this.#attempt = 0;
  }
}
