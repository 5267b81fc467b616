import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  DEFAULT_ICON,
  EVENT_ICONS,
  FeedModel,
  MAX_ITEMS,
  filterItems,
  iconFor,
  isFeedFrame,
  prependItems,
  summarize,
  toItem,
} from '../../static/js/model/feed.js';

const EVENT_TYPES = [
  'business.created', 'business.updated', 'business.stage_changed',
  'task.started', 'task.completed', 'task.failed',
  'playbook.started', 'playbook.completed', 'playbook.failed',
  'approval.required', 'approval.granted', 'approval.rejected',
  'system.alert', 'system.alert_resolved', 'system.metric', 'system.health',
  'analytics.kpi_update', 'analytics.anomaly',
];

let seq = 0;
function frame(event = 'task.started', channel = 'global', data = {}) {
  seq += 1;
  return { type: 'event', channel, seq, event, data, timestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString() };
}

describe('feed items', () => {
  test('metric and health events stay out; other events and only events go in', () => {
    assert.equal(isFeedFrame(frame('system.metric', 'system')), false);
    assert.equal(isFeedFrame(frame('system.health', 'system')), false);
    assert.equal(isFeedFrame(frame('system.alert')), true);
    assert.equal(isFeedFrame(frame('some.custom_event')), true);
    assert.equal(isFeedFrame({ type: 'pong' }), false);
    assert.equal(isFeedFrame(null), false);
  });

  test('the key is channel:seq', () => {
    const item = toItem({ type: 'event', channel: 'business:7', seq: 12, event: 'business.updated', data: {}, timestamp: '2026-01-01T00:00:00Z' });
    assert.equal(item.key, 'business:7:12');
    assert.equal(item.time, Date.parse('2026-01-01T00:00:00Z'));
  });

  test('every one of the 18 types has its own icon, unknown types the default', () => {
    assert.equal(EVENT_TYPES.length, 18);
    for (const type of EVENT_TYPES) {
      assert.ok(EVENT_ICONS[type], type);
      assert.notEqual(iconFor(type), DEFAULT_ICON, type);
      assert.ok(iconFor(type).glyph && iconFor(type).label, type);
    }
    assert.equal(new Set(EVENT_TYPES.map((t) => iconFor(t).glyph)).size, 18, 'glyphs are distinct');
    assert.equal(iconFor('nobody.knows'), DEFAULT_ICON);
    assert.equal(iconFor('constructor'), DEFAULT_ICON);
  });

  test('summaries prefer title, message, then ids', () => {
    assert.equal(summarize('task.started', { title: 'Import leads', task_id: 't1' }), 'Import leads');
    assert.equal(summarize('system.alert', { message: 'CPU  at\n95%' }), 'CPU at 95%');
    assert.equal(summarize('task.failed', { task_id: 'abc-1', error: 'x' }), 'task_id: abc-1');
    assert.equal(summarize('business.stage_changed', { from_stage: 'lead', to_stage: 'won' }), 'lead \u2192 won');
    assert.equal(summarize('analytics.kpi_update', { revenue: 10, churn: 0.1, nested: { a: 1 } }), 'revenue: 10, churn: 0.1');
    assert.equal(summarize('x', null), '');
    assert.equal(summarize('x', 'plain text'), 'plain text');
    assert.equal(summarize('x', { message: 'y'.repeat(500) }).length, 120);
  });
});

describe('list operations', () => {
  test('prependItems puts new items first, newest first, and caps', () => {
    const old = [{ key: 'g:2' }, { key: 'g:1' }];
    const out = prependItems(old, [{ key: 'g:3' }, { key: 'g:4' }], 3);
    assert.deepEqual(out.map((i) => i.key), ['g:4', 'g:3', 'g:2']);
  });

  test('a repeated key replaces the old item instead of duplicating it', () => {
    const out = prependItems([{ key: 'g:1', v: 'old' }], [{ key: 'g:1', v: 'new' }]);
    assert.deepEqual(out, [{ key: 'g:1', v: 'new' }]);
  });

  test('filterItems by event type and channel', () => {
    const items = [
      { key: 'a', event: 'task.started', channel: 'global' },
      { key: 'b', event: 'task.failed', channel: 'business:1' },
      { key: 'c', event: 'task.started', channel: 'business:1' },
    ];
    assert.deepEqual(filterItems(items, { event: 'task.started' }).map((i) => i.key), ['a', 'c']);
    assert.deepEqual(filterItems(items, { channel: 'business:1' }).map((i) => i.key), ['b', 'c']);
    assert.deepEqual(filterItems(items, { event: 'task.started', channel: 'business:1' }).map((i) => i.key), ['c']);
    assert.equal(filterItems(items, {}).length, 3);
  });
});

describe('FeedModel', () => {
  test('keeps at most 50 items, newest first, dropping the oldest', () => {
    const feed = new FeedModel();
    assert.equal(MAX_ITEMS, 50);
    const frames = [];
    for (let i = 0; i < 60; i += 1) {
      const f = frame('task.completed');
      frames.push(f);
      assert.equal(feed.add(f), true);
    }
    assert.equal(feed.items.length, 50);
    assert.equal(feed.items[0].key, `global:${frames[59].seq}`);
    assert.equal(feed.items[49].key, `global:${frames[10].seq}`);
  });

  test('ignores metric and health frames', () => {
    const feed = new FeedModel();
    assert.equal(feed.add(frame('system.metric', 'system')), false);
    assert.equal(feed.add(frame('system.health', 'system')), false);
    assert.equal(feed.items.length, 0);
    assert.deepEqual(feed.sortedEventTypes(), []);
  });

  test('pause counts incoming events and resume applies them, still capped', () => {
    const feed = new FeedModel(50);
    for (let i = 0; i < 10; i += 1) feed.add(frame('task.started'));
    const before = feed.items.map((i) => i.key);
    feed.pause();
    const late = [];
    for (let i = 0; i < 70; i += 1) {
      const f = frame('approval.required', 'business:3');
      late.push(f);
      assert.equal(feed.add(f), false);
    }
    assert.deepEqual(feed.items.map((i) => i.key), before, 'the visible list is frozen');
    assert.equal(feed.pendingCount, 70);
    assert.equal(feed.pending.length, 50);
    feed.resume();
    assert.equal(feed.paused, false);
    assert.equal(feed.pendingCount, 0);
    assert.equal(feed.items.length, 50);
    assert.equal(feed.items[0].key, `business:3:${late[69].seq}`);
    assert.equal(feed.items[49].key, `business:3:${late[20].seq}`);
  });

  test('retire re-keys the items of a restarted channel so new seqs cannot collide', () => {
    const feed = new FeedModel();
    const at = (channel, s) => ({ type: 'event', channel, seq: s, event: 'task.started', data: {}, timestamp: '2026-01-01T00:00:00Z' });
    feed.add(at('global', 1));
    feed.add(at('system', 1));
    feed.add(at('global', 2));
    feed.retire('global');
    feed.add(at('global', 1));
    assert.deepEqual(feed.items.map((i) => i.key), ['global:1', 'global:2~1', 'system:1', 'global:1~1']);
    feed.retire('global');
    assert.deepEqual(feed.items.map((i) => i.key), ['global:1~2', 'global:2~1', 'system:1', 'global:1~1']);
  });

  test('collects the event types and channels seen, for the filter selects', () => {
    const feed = new FeedModel();
    feed.add(frame('task.started', 'global'));
    feed.add(frame('business.updated', 'business:2'));
    feed.pause();
    feed.add(frame('analytics.anomaly', 'user:5'));
    assert.deepEqual(feed.sortedEventTypes(), ['analytics.anomaly', 'business.updated', 'task.started']);
    assert.deepEqual(feed.sortedChannels(), ['business:2', 'global', 'user:5']);
    assert.deepEqual(feed.view({ channel: 'business:2' }).map((i) => i.event), ['business.updated']);
  });
});
