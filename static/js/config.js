// The page config: the JSON the server renders into
// <script type="application/json" id="livewatch-config">. It is the only
// source of thresholds and of the event catalogue; nothing here repeats the
// server's defaults. Without a usable config the page still loads, with no
// thresholds and only the generic event icon.
//
//   version             string, shown in the header
//   auth                "open", or "token": the socket needs ?token=... on the page URL
//   history_seconds     window of the history charts
//   collector_interval  seconds between samples
//   thresholds          {cpu|memory|disk: {warning, critical}} in percent
//   events              {"<event type>": {label, tone, glyph}}

import { pageParam } from './socket/url.js';

export const CONFIG_ELEMENT_ID = 'livewatch-config';

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function positive(v) {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

/** Keep only finite numeric warning/critical levels. */
function cleanThresholds(raw) {
  const out = {};
  if (!isPlainObject(raw)) return out;
  for (const [metric, levels] of Object.entries(raw)) {
    if (!isPlainObject(levels)) continue;
    const kept = {};
    for (const level of ['warning', 'critical']) {
      if (typeof levels[level] === 'number' && Number.isFinite(levels[level])) kept[level] = levels[level];
    }
    out[metric] = kept;
  }
  return out;
}

/**
 * The config from its JSON text. Missing, unparseable or non-object JSON is
 * warned about and gives the empty config: no thresholds, no events.
 */
export function parseConfig(text, logger = globalThis.console) {
  let raw = {};
  if (typeof text !== 'string' || text.trim() === '') {
    logger.warn('livewatch: no page config; showing no thresholds');
  } else {
    try {
      const parsed = JSON.parse(text);
      if (isPlainObject(parsed)) raw = parsed;
      else logger.warn('livewatch: page config is not a JSON object; showing no thresholds');
    } catch (err) {
      logger.warn('livewatch: bad page config; showing no thresholds', err);
    }
  }
  return {
    ...raw,
    version: typeof raw.version === 'string' ? raw.version : '',
    auth: raw.auth === 'token' ? 'token' : 'open',
    history_seconds: positive(raw.history_seconds),
    collector_interval: positive(raw.collector_interval),
    thresholds: cleanThresholds(raw.thresholds),
    events: isPlainObject(raw.events) ? raw.events : {},
  };
}

/** The config of the page `doc`. */
export function readConfig(doc, logger = globalThis.console) {
  const el = doc && typeof doc.getElementById === 'function' ? doc.getElementById(CONFIG_ELEMENT_ID) : null;
  return parseConfig(el ? el.textContent : undefined, logger);
}

/** Does the server want a token that the page URL (its `search`) does not carry? */
export function needsToken(config, search) {
  return Boolean(config) && config.auth === 'token' && pageParam(search, 'token') === null;
}

/** What to tell the user when needsToken(): how to open the page. */
export function tokenMessage(pathname) {
  return `This page needs a token: open it as ${pathname || ''}?token=\u2026`;
}
