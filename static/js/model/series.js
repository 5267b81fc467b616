// Time series for the history charts without DOM: points from samples,
// merging, trimming to the window and scaling to SVG coordinates.

import { toMillis } from '../format.js';

/** A {t, v} point from a sample, or null if the sample lacks a usable value. */
export function pointFrom(sample, field) {
  if (!sample || typeof sample !== 'object') return null;
  const t = toMillis(sample.timestamp);
  const v = sample[field];
  if (Number.isNaN(t) || typeof v !== 'number' || !Number.isFinite(v)) return null;
  return { t, v };
}

/** Points of one field from samples (any order), sorted, unique by time. */
export function seriesFrom(samples, field) {
  const points = [];
  for (const s of samples || []) {
    const p = pointFrom(s, field);
    if (p) points.push(p);
  }
  return mergePoints([], points);
}

/** Union of two point lists, sorted by time; on equal times `b` wins. */
export function mergePoints(a, b) {
  const byTime = new Map();
  for (const p of a) byTime.set(p.t, p);
  for (const p of b) byTime.set(p.t, p);
  return [...byTime.values()].sort((x, y) => x.t - y.t);
}

/** Drop points older than `windowMs` before `end` (default: the newest point). */
export function trimPoints(points, windowMs, end = points.length ? points[points.length - 1].t : 0) {
  const start = end - windowMs;
  let i = 0;
  while (i < points.length && points[i].t < start) i += 1;
  return i === 0 ? points : points.slice(i);
}

/**
 * Append one point, keeping time order and the window. A point at or before
 * the last one is merged instead (loaded history can overlap live samples).
 */
export function appendPoint(points, point, windowMs) {
  if (!point) return points;
  const last = points[points.length - 1];
  const next = !last || point.t > last.t ? points.concat([point]) : mergePoints(points, [point]);
  return trimPoints(next, windowMs);
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

/** y coordinate of a value on a 0..`max` scale (percent by default) in a plot `height` tall, 0 at the bottom. */
export function yFor(value, height, max = 100) {
  return height - (clamp(value, 0, max) / max) * height;
}

function round2(n) {
  return Math.round(n * 100) / 100;
}

/**
 * SVG `points` for a polyline: x spans the window ending at `end` (default:
 * the newest point), y is 0..`max` (default 100 %) scaled to the height.
 */
export function polylinePoints(points, { width, height, windowMs, end, max = 100 } = {}) {
  if (!points.length) return '';
  const stop = end ?? points[points.length - 1].t;
  const start = stop - windowMs;
  return points
    .map((p) => `${round2(clamp(((p.t - start) / windowMs) * width, 0, width))},${round2(yFor(p.v, height, max))}`)
    .join(' ');
}

/** min / max / latest of a series, for summaries. */
export function stats(points) {
  if (!points.length) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    if (p.v < min) min = p.v;
    if (p.v > max) max = p.v;
  }
  return { min, max, latest: points[points.length - 1].v, count: points.length };
}
