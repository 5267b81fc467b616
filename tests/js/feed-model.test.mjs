import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  DEFAULT_ICON,
  FeedModel,
  MAX_ITEMS,
  MISSED_REASONS,
  eventCatalogue,
  filterItems,
  iconFor,
  isFeedChannel,
  isFeedFrame,
  markerItem,
  mergeItems,
  missedText,
  prependItems,
  summarize,
  toItem,
} from '../../static/js/model/feed.js';
import { PAGE_CONFIG } from './page-config.mjs';

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

  test('without a catalogue every event gets the default icon', () => {
    assert.equal(iconFor('task.started'), DEFAULT_ICON);
    assert.equal(toItem(frame('task.started')).icon, DEFAULT_ICON);
    assert.deepEqual(DEFAULT_ICON, { glyph: '\u2022', tone: 'neutral', label: 'Event' });
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

describe('event catalogue', () => {
  test('icons come from the catalogue of the page config; unknown events get the default', () => {
    const catalogue = eventCatalogue(PAGE_CONFIG.events);
    assert.deepEqual([...catalogue.keys()], Object.keys(PAGE_CONFIG.events));
    for (const [event, entry] of Object.entries(PAGE_CONFIG.events)) {
      assert.deepEqual(iconFor(event, catalogue), { glyph: entry.glyph, tone: entry.tone, label: entry.label }, event);
    }
    assert.equal(iconFor('nobody.knows', catalogue), DEFAULT_ICON);
    assert.equal(iconFor('constructor', catalogue), DEFAULT_ICON);
    assert.equal(iconFor('__proto__', catalogue), DEFAULT_ICON);
    assert.ok(Object.isFrozen(iconFor('task.started', catalogue)));
  });

  test('toItem takes the icon from the catalogue it is given', () => {
    const catalogue = eventCatalogue(PAGE_CONFIG.events);
    assert.deepEqual(toItem(frame('task.started'), catalogue).icon, { glyph: '\u25B6', tone: 'info', label: 'Task started' });
  });

  test('odd entries: left out, or their odd fields take the default', () => {
    const catalogue = eventCatalogue({
      'a.list': ['x'],
      'a.null': null,
      'a.string': 'Task',
      'no.glyph': { label: 'No glyph', tone: 'info' },
      'bad.tone': { label: 'Bad tone', tone: 'info x" onclick', glyph: '*' },
      'upper.tone': { label: 'Upper', tone: 'Info', glyph: '*' },
      'empty.label': { label: ' ', tone: 'success', glyph: '+' },
    });
    assert.deepEqual([...catalogue.keys()], ['no.glyph', 'bad.tone', 'upper.tone', 'empty.label']);
    assert.deepEqual(catalogue.get('no.glyph'), { glyph: '\u2022', tone: 'info', label: 'No glyph' });
    assert.equal(catalogue.get('bad.tone').tone, 'neutral');
    assert.equal(catalogue.get('upper.tone').tone, 'neutral');
    assert.equal(catalogue.get('empty.label').label, 'Event');
  });

  test('no catalogue, or not an object: empty', () => {
    for (const events of [undefined, null, [], 'x', 3]) assert.equal(eventCatalogue(events).size, 0);
  });

  test('FeedModel takes the catalogue as a parameter', () => {
    const feed = new FeedModel({ events: PAGE_CONFIG.events });
    feed.add(frame('task.failed'));
    feed.add(frame('some.custom_event'));
    assert.deepEqual(feed.items.map((i) => i.icon.glyph), ['\u2022', '\u2717']);
    assert.equal(new FeedModel().catalogue.size, 0);
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
    assert.equal(feed.max, 50);
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
    const feed = new FeedModel({ max: 50 });
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

describe('history and markers', () => {
  const at = (channel, s, second, event = 'task.started') => ({
    type: 'event',
    channel,
    seq: s,
    event,
    data: {},
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  });
  const keys = (feed) => feed.items.map((i) => i.key);

  test('feed channels: every channel but system, which carries only metric and health', () => {
    assert.equal(isFeedChannel('global'), true);
    assert.equal(isFeedChannel('business:acme'), true);
    assert.equal(isFeedChannel('user:1'), true);
    assert.equal(isFeedChannel('system'), false);
    assert.equal(isFeedChannel(''), false);
    assert.equal(isFeedChannel(undefined), false);
  });

  test('mergeItems: one per key (the held one stays), newest first by time then seq, capped', () => {
    const item = (key, time, seq) => ({ key, time, seq });
    const held = item('g:2', 20, 2);
    const out = mergeItems([held, item('g:1', 10, 1)], [item('g:2', 20, 2), item('b:1', 15, 1), item('b:2', 20, 3), item('x:1', NaN, 1)], 4);
    assert.deepEqual(out.map((i) => i.key), ['b:2', 'g:2', 'b:1', 'g:1']);
    assert.equal(out[1], held, 'the held item, not the copy');
    assert.deepEqual(mergeItems([], [item('x:1', NaN, 1), item('a:1', 1, 1)]).map((i) => i.key), ['a:1', 'x:1'], 'no time sorts last');
  });

  test('load merges histories of several channels by time and keeps the latest 50', () => {
    const feed = new FeedModel();
    const global = [];
    const business = [];
    for (let i = 1; i <= 40; i += 1) global.push(at('global', i, 2 * i)); // even seconds
    for (let i = 1; i <= 40; i += 1) business.push(at('business:1', i, 2 * i + 1)); // odd seconds
    assert.equal(feed.load(global), true);
    assert.equal(feed.load(business.concat([at('system', 1, 99, 'system.metric')])), true);
    assert.equal(feed.items.length, 50);
    assert.equal(keys(feed)[0], 'business:1:40');
    assert.equal(keys(feed)[1], 'global:40');
    assert.equal(keys(feed)[49], 'global:16');
    assert.deepEqual(feed.sortedChannels(), ['business:1', 'global']);
    assert.equal(feed.load([at('system', 2, 100, 'system.metric')]), false, 'nothing for the feed');
  });

  test('a load that overlaps what is shown adds nothing twice', () => {
    const feed = new FeedModel();
    feed.add(at('global', 5, 5));
    feed.add(at('global', 6, 6));
    const shown = feed.items[0];
    feed.load([at('global', 4, 4), at('global', 5, 5), at('global', 6, 6)]);
    assert.deepEqual(keys(feed), ['global:6', 'global:5', 'global:4']);
    assert.equal(feed.items[0], shown);
  });

  test('mark puts a marker on top with its reason in words', () => {
    const feed = new FeedModel();
    feed.add(at('global', 1, 10));
    const now = Date.UTC(2026, 0, 1, 0, 1, 0);
    assert.equal(feed.mark('global', 'epoch_changed', now), true);
    const [marker] = feed.items;
    assert.equal(marker.key, 'missed:global:1');
    assert.equal(marker.marker, 'missed');
    assert.equal(marker.channel, 'global');
    assert.equal(marker.reason, 'epoch_changed');
    assert.equal(marker.refreshed, true);
    assert.equal(marker.time, now);
    assert.equal(marker.summary, MISSED_REASONS.epoch_changed);
    feed.mark('global', 'too_old', 0, false); // a clock behind the server's: still on top
    assert.equal(feed.items[0].key, 'missed:global:2');
    assert.equal(feed.items[0].time, now);
    assert.equal(feed.items[0].refreshed, false);
    // A later load sorts around the markers by time.
    feed.load([at('global', 2, 20)]);
    assert.deepEqual(keys(feed), ['missed:global:2', 'missed:global:1', 'global:2', 'global:1']);
  });

  test('missedText: each reason of the protocol in words; others quoted', () => {
    assert.deepEqual(Object.keys(MISSED_REASONS).sort(), ['epoch_changed', 'too_many', 'too_old']);
    assert.match(missedText('epoch_changed'), /restarted/);
    assert.equal(missedText('constructor'), 'Not recovered: constructor.');
    assert.equal(markerItem('user:1', 'x', 5, 3).key, 'missed:user:1:3');
  });

  test('markers pass the type filter but not another channel', () => {
    const feed = new FeedModel();
    feed.add(at('global', 1, 1, 'task.failed'));
    feed.add(at('business:1', 1, 2));
    feed.mark('global', 'too_old', Date.UTC(2026, 0, 1, 0, 0, 3));
    assert.deepEqual(feed.view({ event: 'task.started' }).map((i) => i.key), ['missed:global:1', 'business:1:1']);
    assert.deepEqual(feed.view({ event: 'task.started', channel: 'business:1' }).map((i) => i.key), ['business:1:1']);
    assert.deepEqual(feed.view({ event: 'task.failed' }).map((i) => i.key), ['missed:global:1', 'global:1']);
    assert.deepEqual(feed.view({ channel: 'business:1' }).map((i) => i.key), ['business:1:1']);
    assert.deepEqual(feed.sortedEventTypes(), ['task.failed', 'task.started'], 'a marker is no event type');
  });

  test('retire leaves markers alone', () => {
    const feed = new FeedModel();
    feed.add(at('global', 1, 1));
    feed.mark('global', 'epoch_changed', Date.UTC(2026, 0, 1, 0, 0, 2));
    feed.retire('global');
    assert.deepEqual(keys(feed), ['missed:global:1', 'global:1~1']);
  });

  test('while paused, loads and markers wait for resume like events do', () => {
    const feed = new FeedModel();
    feed.add(at('global', 3, 3));
    feed.pause();
    assert.equal(feed.load([at('global', 1, 1), at('global', 2, 2)]), false);
    assert.equal(feed.mark('global', 'too_many', Date.UTC(2026, 0, 1, 0, 0, 10)), false);
    assert.equal(feed.add(at('global', 4, 4)), false);
    assert.deepEqual(keys(feed), ['global:3'], 'frozen');
    assert.equal(feed.pendingCount, 1, 'counts events, not loads');
    feed.resume();
    assert.deepEqual(keys(feed), ['missed:global:1', 'global:4', 'global:3', 'global:2', 'global:1']);
    assert.deepEqual(feed.pendingLoads, []);
  });
});
