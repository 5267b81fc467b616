import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  clockTime,
  connectionText,
  formatBytes,
  formatLatency,
  formatLoad,
  formatPercent,
  isoTime,
  levelFor,
  levelLabel,
  oneLine,
  relativeTime,
  secondsUntil,
  statusLabel,
  toMillis,
} from '../../static/js/format.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('relativeTime', () => {
  test('seconds, minutes, hours and days ago', () => {
    assert.equal(relativeTime('2026-03-01T12:00:00Z', NOW), 'just now');
    assert.equal(relativeTime('2026-03-01T11:59:57Z', NOW), '3 s ago');
    assert.equal(relativeTime('2026-03-01T11:59:01Z', NOW), '59 s ago');
    assert.equal(relativeTime('2026-03-01T11:59:00Z', NOW), '1 min ago');
    assert.equal(relativeTime('2026-03-01T11:15:00Z', NOW), '45 min ago');
    assert.equal(relativeTime('2026-03-01T09:00:00Z', NOW), '3 h ago');
    assert.equal(relativeTime('2026-02-27T12:00:00Z', NOW), '2 d ago');
  });

  test('accepts millisecond precision, Date and epoch ms; the future; garbage', () => {
    assert.equal(relativeTime('2026-03-01T11:59:49.600Z', NOW), '10 s ago');
    assert.equal(relativeTime(new Date(NOW - 7000), NOW), '7 s ago');
    assert.equal(relativeTime(NOW - 120_000, NOW), '2 min ago');
    assert.equal(relativeTime('2026-03-01T12:00:05Z', NOW), 'in 5 s');
    assert.equal(relativeTime('yesterday-ish', NOW), '\u2013');
    assert.equal(relativeTime(undefined, NOW), '\u2013');
  });
});

describe('numbers', () => {
  test('formatBytes uses binary units with one decimal', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(8 * 1024 ** 3), '8.0 GiB');
    assert.equal(formatBytes(3.5 * 1024 ** 4), '3.5 TiB');
    assert.equal(formatBytes(-1), '\u2013');
    assert.equal(formatBytes(Number.NaN), '\u2013');
    assert.equal(formatBytes('12'), '\u2013');
  });

  test('formatPercent keeps one decimal', () => {
    assert.equal(formatPercent(42), '42.0%');
    assert.equal(formatPercent(99.96), '100.0%');
    assert.equal(formatPercent(7.04), '7.0%');
    assert.equal(formatPercent(33.333, 2), '33.33%');
    assert.equal(formatPercent(null), '\u2013');
  });

  test('load average, latency', () => {
    assert.equal(formatLoad(0.5, 1, 1.234), '0.50 / 1.00 / 1.23');
    assert.equal(formatLoad(0.5, undefined, 2), '0.50 / \u2013 / 2.00');
    assert.equal(formatLatency(3.14159), '3.1 ms');
    assert.equal(formatLatency(120.6), '121 ms');
    assert.equal(formatLatency(null), '\u2013');
  });
});

describe('times', () => {
  test('toMillis, isoTime, clockTime', () => {
    assert.equal(toMillis('2026-03-01T12:00:00Z'), NOW);
    assert.ok(Number.isNaN(toMillis('')));
    assert.equal(isoTime('2026-03-01T12:00:00Z'), '2026-03-01T12:00:00.000Z');
    assert.equal(isoTime('nope'), '');
    assert.equal(clockTime('2026-03-01T07:04:09Z', { utc: true }), '07:04:09');
    assert.equal(clockTime(null), '\u2013');
  });

  test('secondsUntil rounds up and never goes below zero', () => {
    assert.equal(secondsUntil(NOW + 4001, NOW), 5);
    assert.equal(secondsUntil(NOW + 4000, NOW), 4);
    assert.equal(secondsUntil(NOW - 10, NOW), 0);
    assert.equal(secondsUntil(null, NOW), 0);
  });
});

describe('levels and labels', () => {
  const t = { warning: 75, critical: 90 };

  test('levelFor: >= critical, >= warning, else ok', () => {
    assert.equal(levelFor(0, t), 'ok');
    assert.equal(levelFor(74.99, t), 'ok');
    assert.equal(levelFor(75, t), 'warning');
    assert.equal(levelFor(89.9, t), 'warning');
    assert.equal(levelFor(90, t), 'critical');
    assert.equal(levelFor(100, t), 'critical');
    assert.equal(levelFor(50, { warning: 40, critical: 90 }), 'warning');
    assert.equal(levelFor(NaN, t), 'unknown');
    assert.equal(levelFor(95, undefined), 'ok');
  });

  test('words for levels and statuses', () => {
    assert.deepEqual(['ok', 'warning', 'critical', 'x'].map(levelLabel), ['Normal', 'Warning', 'Critical', 'Unknown']);
    assert.deepEqual(['healthy', 'degraded', 'unhealthy', 'odd'].map(statusLabel), ['Healthy', 'Degraded', 'Unhealthy', 'Unknown']);
  });

  test('connectionText: exactly Live, Reconnecting in Ns, Offline', () => {
    assert.equal(connectionText({ state: 'live' }, NOW), 'Live');
    assert.equal(connectionText({ state: 'reconnecting', nextAttemptAt: NOW + 7400 }, NOW), 'Reconnecting in 8s');
    assert.equal(connectionText({ state: 'reconnecting', nextAttemptAt: NOW - 5 }, NOW), 'Reconnecting in 0s');
    assert.equal(connectionText({ state: 'offline' }, NOW), 'Offline');
    assert.equal(connectionText({ state: 'closed' }, NOW), 'Offline');
    assert.equal(connectionText({ state: 'connecting', attempt: 3 }, NOW), 'Reconnecting in 0s');
    assert.equal(connectionText({ state: 'connecting', attempt: 0 }, NOW), 'Connecting\u2026');
  });

  test('oneLine collapses whitespace and shortens', () => {
    assert.equal(oneLine('  a\n b\t c  '), 'a b c');
    assert.equal(oneLine('x'.repeat(10), 5), 'xxxx\u2026');
  });
});

describe('rates, axis bytes and short times', () => {
  test('formatRate: bytes per second in binary units', async () => {
    const { formatRate } = await import('../../static/js/format.js');
    assert.equal(formatRate(0), '0 B/s');
    assert.equal(formatRate(1536), '1.5 KiB/s');
    assert.equal(formatRate(-1), '\u2013');
    assert.equal(formatRate('x'), '\u2013');
  });

  test('formatBytesShort: compact binary units for an axis', async () => {
    const { formatBytesShort } = await import('../../static/js/format.js');
    assert.equal(formatBytesShort(0), '0');
    assert.equal(formatBytesShort(512), '512');
    assert.equal(formatBytesShort(1024, '/s'), '1K/s');
    assert.equal(formatBytesShort(2.5 * 1024 ** 2, '/s'), '2.5M/s');
    assert.equal(formatBytesShort(500 * 1024), '500K');
    assert.equal(formatBytesShort(NaN), '\u2013');
  });

  test('shortTime: HH:MM on the local clock', async () => {
    const { shortTime } = await import('../../static/js/format.js');
    const d = new Date(2026, 2, 1, 9, 5, 59);
    assert.equal(shortTime(d), '09:05');
    assert.equal(shortTime('nope'), '\u2013');
  });
});
