import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ORDERS, TOP_LIMIT, orderFor, topProcesses } from '../../static/js/model/processes.js';

const proc = (pid, extra = {}) => ({ pid, name: `p${pid}`, cpu_percent: pid / 10, memory_percent: 1.5, rss_bytes: pid * 1024, ...extra });

describe('topProcesses', () => {
  test('both lists, in the server\u2019s order, cleaned and cut to ten', () => {
    const by_cpu = Array.from({ length: 12 }, (_, i) => proc(100 - i));
    const top = topProcesses({ top_processes: { by_cpu, by_memory: [proc(7)] } });
    assert.equal(top.by_cpu.length, TOP_LIMIT);
    assert.deepEqual(top.by_cpu[0], { pid: 100, name: 'p100', cpu: 10, memory: 1.5, rss: 102400 });
    assert.deepEqual(top.by_memory.map((p) => p.pid), [7]);
  });

  test('odd entries are dropped or blanked, never trusted', () => {
    const top = topProcesses({
      top_processes: {
        by_cpu: [null, { pid: '3' }, proc(4, { name: 5, cpu_percent: 'x', rss_bytes: Infinity }), 'x'],
        by_memory: 'nope',
      },
    });
    assert.deepEqual(top.by_cpu, [{ pid: 4, name: '', cpu: null, memory: 1.5, rss: null }]);
    assert.deepEqual(top.by_memory, []);
  });

  test('a sample without top_processes (the history endpoint\u2019s) gives null', () => {
    for (const s of [null, {}, { top_processes: null }, { top_processes: [] }, 'x']) assert.equal(topProcesses(s), null);
  });

  test('orders: by CPU first; anything unknown is by CPU', () => {
    assert.deepEqual(ORDERS.map((o) => o.key), ['by_cpu', 'by_memory']);
    assert.equal(orderFor('by_memory').column, 'memory');
    assert.equal(orderFor('by_disk').key, 'by_cpu');
  });
});
