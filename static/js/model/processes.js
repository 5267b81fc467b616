// The top processes of a sample without DOM: `top_processes` is
// {by_cpu: [...], by_memory: [...]}, busiest first, each
// {pid, name, cpu_percent, memory_percent, rss_bytes}.

export const TOP_LIMIT = 10;

/** The two orders the table offers: the key in `top_processes`, and its words. */
export const ORDERS = Object.freeze([
  { key: 'by_cpu', label: 'CPU', column: 'cpu' },
  { key: 'by_memory', label: 'Memory', column: 'memory' },
]);

function finite(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function cleanProcess(raw) {
  if (!raw || typeof raw !== 'object' || !Number.isInteger(raw.pid)) return null;
  return {
    pid: raw.pid,
    name: typeof raw.name === 'string' ? raw.name : '',
    cpu: finite(raw.cpu_percent),
    memory: finite(raw.memory_percent),
    rss: finite(raw.rss_bytes),
  };
}

/**
 * The lists of a sample's `top_processes`, cleaned and cut to TOP_LIMIT, in
 * the order the server gave; null when the sample carries none (the history
 * endpoint's samples do not).
 */
export function topProcesses(sample) {
  const top = sample && typeof sample === 'object' ? sample.top_processes : null;
  if (!top || typeof top !== 'object' || Array.isArray(top)) return null;
  const out = {};
  for (const { key } of ORDERS) {
    const list = Array.isArray(top[key]) ? top[key] : [];
    out[key] = list.map(cleanProcess).filter(Boolean).slice(0, TOP_LIMIT);
  }
  return out;
}

/** The order for a key, the first one for anything unknown. */
export function orderFor(key) {
  return ORDERS.find((o) => o.key === key) || ORDERS[0];
}
