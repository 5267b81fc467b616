// Axes of the history charts without DOM: the top of a value scale, value
// and time ticks, and the sample nearest to a time (for the hover readout).

const STEPS = [1, 2, 5, 10];

/** The smallest of 1, 2, 5 x 10^k at or above `value` (1 for nothing above 0). */
export function niceCeil(value) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 1;
  const base = 10 ** Math.floor(Math.log10(value));
  for (const m of STEPS) {
    if (m * base >= value * (1 - 1e-9)) return m * base;
  }
  return 10 * base;
}

/**
 * The top of a bytes axis: 1, 2 or 5 x 10^k of the binary unit the value is
 * in (KiB, MiB, ...), 1024 of a unit being the next unit. At least `floor`.
 */
export function niceBytesCeil(value, floor = 1024) {
  const v = Math.max(typeof value === 'number' && Number.isFinite(value) ? value : 0, floor);
  let unit = 1;
  while (v / unit >= 1024) unit *= 1024;
  const top = niceCeil(v / unit);
  return top >= 1024 ? unit * 1024 : top * unit;
}

/** The largest value of some point lists (0 when there is none). */
export function maxOf(...lists) {
  let max = 0;
  for (const points of lists) for (const p of points) if (p.v > max) max = p.v;
  return max;
}

/** Where a value sits on a 0..max scale: 0 at the bottom, 1 at the top, clamped. */
export function fractionOf(value, max) {
  if (!(max > 0)) return 0;
  return Math.min(1, Math.max(0, value / max));
}

const MINUTE = 60_000;
const TIME_STEPS = [10_000, 15_000, 30_000, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, 60 * MINUTE, 120 * MINUTE, 180 * MINUTE, 360 * MINUTE, 720 * MINUTE, 1440 * MINUTE];

/**
 * Ticks at round local clock times inside [start, end]: the finest step that
 * gives at most `most` of them. Each is {t, at}, `at` its place from 0 (start)
 * to 1 (end).
 */
export function timeTicks(start, end, most = 4) {
  const span = end - start;
  if (!(span > 0) || most < 1) return [];
  const step = TIME_STEPS.find((s) => Math.floor(span / s) <= most) ?? TIME_STEPS[TIME_STEPS.length - 1];
  // Local clock: minutes and hours round in the page's time zone.
  const offset = new Date(start).getTimezoneOffset() * MINUTE;
  let t = Math.ceil((start - offset) / step) * step + offset;
  const ticks = [];
  for (; t <= end && ticks.length < most + 1; t += step) ticks.push({ t, at: (t - start) / span });
  return ticks;
}

/** Index of the point nearest in time to `t` (points sorted by time); -1 if none. */
export function nearestIndex(points, t) {
  if (!points.length) return -1;
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1].t - t) <= Math.abs(points[lo].t - t)) return lo - 1;
  return lo;
}

/** The value at exactly time `t`, or undefined. */
export function valueAt(points, t) {
  const i = nearestIndex(points, t);
  return i >= 0 && points[i].t === t ? points[i].v : undefined;
}
