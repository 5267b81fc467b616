// A channel's latest events over HTTP: GET api/channels/{channel}/history
// (docs/protocol.md, History over HTTP). The answer's `seq` and `epoch` are
// the channel's position: subscribing with them as `since` continues with no
// gap and no duplicate.

import { getJSON } from './api.js';

export const HISTORY_LIMIT = 50;

/** The relative URL of the latest `limit` events of `channel`. */
export function historyUrl(channel, limit = HISTORY_LIMIT) {
  return `api/channels/${encodeURIComponent(channel)}/history?limit=${encodeURIComponent(limit)}`;
}

function isEvent(e) {
  return e !== null && typeof e === 'object' && Number.isInteger(e.seq) && typeof e.event === 'string';
}

/**
 * Fetch the latest `limit` events of `channel`: {channel, seq, epoch,
 * complete, events}, the events as event frames, oldest first. Throws on an
 * HTTP error or an answer without a usable position.
 */
export async function loadHistory(channel, { fetch, token = null, limit = HISTORY_LIMIT } = {}) {
  const body = await getJSON(historyUrl(channel, limit), { fetch, token });
  if (!body || typeof body !== 'object' || !Number.isInteger(body.seq) || body.seq < 0 || typeof body.epoch !== 'string' || body.epoch === '') {
    throw new TypeError(`history of '${channel}': no seq and epoch in the answer`);
  }
  const events = (Array.isArray(body.events) ? body.events : [])
    .filter(isEvent)
    .map((e) => ({ ...e, type: 'event', channel }))
    .sort((a, b) => a.seq - b.seq);
  return { channel, seq: body.seq, epoch: body.epoch, complete: body.complete !== false, events };
}
