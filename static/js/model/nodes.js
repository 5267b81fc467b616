// The cluster's nodes without DOM, from two sources: GET api/monitoring/nodes
// (each node's heartbeat record, its last sample, and `state`: up, or lapsed
// when its heartbeat stopped) and the live system.metric samples that every
// node publishes on `system`. Times are the page's clock (`now`), so the
// server's clock does not matter.

import { toMillis } from '../format.js';

/** Heartbeats without news before a node is lapsed, and before it is forgotten (the server's rule). */
export const LAPSE_AFTER = 3;
export const FORGET_AFTER = 6;

function finite(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function sampleTime(sample) {
  const t = sample ? toMillis(sample.timestamp) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

function isSample(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class NodesModel {
  /** `heartbeatMs`: the cluster's heartbeat interval (the page config's cluster_heartbeat). */
  constructor({ heartbeatMs }) {
    this.heartbeatMs = heartbeatMs;
    this.nodes = new Map(); // name -> {name, record, recordAt, heardAt, sample, seenAt}
  }

  entry(name) {
    let e = this.nodes.get(name);
    if (!e) {
      e = { name, record: null, recordAt: -Infinity, heardAt: -Infinity, sample: null, seenAt: -Infinity };
      this.nodes.set(name, e);
    }
    return e;
  }

  /** The answer of GET api/monitoring/nodes, received at `now`. Nodes it no longer lists go, unless heard from lately. */
  load(answer, now) {
    const records = Array.isArray(answer && answer.nodes) ? answer.nodes : [];
    const listed = new Set();
    for (const record of records) {
      if (!record || typeof record.node !== 'string' || record.node === '') continue;
      listed.add(record.node);
      const e = this.entry(record.node);
      e.record = record;
      e.recordAt = now;
      const age = finite(record.age_seconds);
      e.heardAt = now - (age !== null && age > 0 ? age * 1000 : 0);
      if (isSample(record.sample) && sampleTime(record.sample) >= sampleTime(e.sample)) e.sample = record.sample;
    }
    for (const [name, e] of this.nodes) {
      if (listed.has(name)) continue;
      e.record = null;
      e.recordAt = -Infinity;
      if (!(now - e.seenAt <= LAPSE_AFTER * this.heartbeatMs)) this.nodes.delete(name);
    }
  }

  /** A live system.metric sample, received at `now`. Returns whether it was used. */
  sample(sample, now) {
    if (!isSample(sample) || typeof sample.node !== 'string' || sample.node === '') return false;
    const e = this.entry(sample.node);
    if (sampleTime(sample) < sampleTime(e.sample)) return false;
    e.sample = sample;
    e.seenAt = now;
    return true;
  }

  /** State of a node: the server's word, unless a live sample came after it; for a node the server does not list, how long ago it was heard. */
  stateOf(e, now) {
    if (e.record) {
      if (e.record.state === 'lapsed' && !(e.seenAt > e.recordAt)) return 'lapsed';
      return 'up';
    }
    return now - e.seenAt <= LAPSE_AFTER * this.heartbeatMs ? 'up' : 'lapsed';
  }

  /**
   * The rows to show at `now`, the page's own node first, then by name:
   * {name, own, state, cpu, memory, connections, heardAt, address, version}.
   * A node only samples told of is forgotten once silent for FORGET_AFTER heartbeats.
   */
  rows(now, ownName = null) {
    const rows = [];
    for (const [name, e] of this.nodes) {
      if (!e.record && !(now - e.seenAt <= FORGET_AFTER * this.heartbeatMs)) {
        this.nodes.delete(name);
        continue;
      }
      const s = e.sample || {};
      const live = e.seenAt >= e.recordAt;
      const fromRecord = e.record ? finite(e.record.connections) : null;
      const fromSample = finite(s.active_connections);
      rows.push({
        name,
        own: name === ownName,
        state: this.stateOf(e, now),
        cpu: finite(s.cpu_percent),
        memory: finite(s.memory_percent),
        connections: live ? (fromSample ?? fromRecord) : (fromRecord ?? fromSample),
        heardAt: Math.max(e.heardAt, e.seenAt),
        address: e.record && typeof e.record.address === 'string' ? e.record.address : null,
        version: e.record && typeof e.record.version === 'string' ? e.record.version : null,
      });
    }
    return rows.sort((a, b) => Number(b.own) - Number(a.own) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
