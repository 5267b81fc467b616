// AlertCenter: the page's one copy of the alert state, shared by the banners
// and the alerts panel. It loads the alerts firing now, the recently resolved
// ones and the active silences over HTTP, keeps them current from the events
// of the `global` channel (docs/protocol.md, Channels), and acknowledges and
// silences through the API.

import { getJSON, postJSON, sendJSON } from './api.js';
import { actionForFrame, emptyAlerts, reduceAlerts, toAlert, toSilence } from './model/alerts.js';

/** Firing now, the last resolved ones and the active silences, in one answer. */
export const ALERTS_URL = 'api/monitoring/alerts?limit=50&state=resolved';
export const SILENCES_URL = 'api/monitoring/silences';
/** The channel of every system.alert* and system.silence* event. */
export const ALERTS_CHANNEL = 'global';

export function ackURL(alertId) {
  return `api/monitoring/alerts/${encodeURIComponent(alertId)}/ack`;
}

export class AlertCenter {
  /**
   * `auth`: the page config's mode. In "open" mode actions name who acts
   * (`by`); in "token" mode the server takes the token's user and refuses `by`.
   */
  constructor({ socket, fetch, token = null, auth = 'open', logger = globalThis.console } = {}) {
    this.socket = socket;
    this.fetchOptions = { fetch, token };
    this.auth = auth;
    this.logger = logger;
    this.state = emptyAlerts();
    this.listeners = new Set();
    this.offs = [];
    this.started = null;
  }

  get namesActor() {
    return this.auth !== 'token';
  }

  /** Start once, however many widgets ask; the first load's promise. */
  start() {
    if (this.started) return this.started;
    if (this.socket) {
      this.offs.push(
        this.socket.on('event', (frame) => {
          const action = actionForFrame(frame);
          if (action) this.dispatch(action);
        }),
        // Missed alert events are not coming: load everything again.
        this.socket.on('stale', ({ channel }) => {
          if (channel === ALERTS_CHANNEL) this.refresh();
        }),
      );
    }
    this.started = this.refresh();
    return this.started;
  }

  destroy() {
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }

  /** Call `listener(state, action)` after every change; returns the unsubscribe. */
  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async refresh() {
    const since = this.state.rev;
    try {
      const body = await getJSON(ALERTS_URL, this.fetchOptions);
      this.dispatch({
        type: 'load',
        since,
        records: Array.isArray(body && body.active) ? body.active : [],
        recent: Array.isArray(body && body.alerts) ? body.alerts : undefined,
        silences: Array.isArray(body && body.silences) ? body.silences : undefined,
      });
    } catch (err) {
      this.logger.warn('livewatch: cannot load alerts', err);
    }
  }

  dispatch(action) {
    const next = reduceAlerts(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const listener of [...this.listeners]) listener(next, action);
  }

  find(alertId) {
    return this.state.active.get(alertId) ?? null;
  }

  withActor(body, by) {
    return this.namesActor ? { by, ...body } : body;
  }

  /** Acknowledge; the answer is shown at once (the event that follows changes nothing). */
  async acknowledge(alertId, { by, comment = '' } = {}) {
    const body = this.withActor(comment ? { comment } : {}, by);
    const view = await postJSON(ackURL(alertId), body, this.fetchOptions);
    if (view && view.acknowledged) {
      this.dispatch({ type: 'acknowledge', alert_id: alertId, acknowledged: toAlert(view).acknowledged });
    }
    return view;
  }

  /** Silence what `matchers` match until `until` (a Date); {silence, matches, alert_ids}. */
  async silence({ matchers, until, by, comment = '' }) {
    const body = this.withActor({ matchers, until: until.toISOString(), ...(comment ? { comment } : {}) }, by);
    const answer = await postJSON(SILENCES_URL, body, this.fetchOptions);
    if (answer && answer.silence) {
      this.dispatch({ type: 'silence', silence: toSilence(answer.silence), alert_ids: answer.alert_ids || [] });
    }
    return answer;
  }

  /** End a silence now. */
  async endSilence(silenceId, { by } = {}) {
    const query = this.namesActor && by ? `?by=${encodeURIComponent(by)}` : '';
    const answer = await sendJSON('DELETE', `${SILENCES_URL}/${encodeURIComponent(silenceId)}${query}`, undefined, this.fetchOptions);
    this.dispatch({ type: 'unsilence', silence_id: silenceId });
    return answer;
  }
}
