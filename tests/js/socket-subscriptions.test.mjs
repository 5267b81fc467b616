import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Subscriptions } from '../../static/js/socket/subscriptions.js';

function setup() {
  const told = [];
  const subs = new Subscriptions({
    subscribe: (channel) => told.push(['subscribe', channel]),
    unsubscribe: (channel) => told.push(['unsubscribe', channel]),
  });
  return { subs, told };
}

describe('Subscriptions', () => {
  test('the first reference subscribes, the last release unsubscribes', () => {
    const { subs, told } = setup();
    const offA = subs.add('system');
    const offB = subs.add('system');
    assert.deepEqual(told, [['subscribe', 'system']]);
    assert.equal(subs.count('system'), 2);
    offA();
    assert.deepEqual(subs.channels, ['system']);
    assert.equal(told.length, 1, 'one release of two says nothing');
    offB();
    assert.deepEqual(subs.channels, []);
    assert.equal(subs.has('system'), false);
    assert.deepEqual(told, [
      ['subscribe', 'system'],
      ['unsubscribe', 'system'],
    ]);
  });

  test('a release function counts once, however often it is called', () => {
    const { subs, told } = setup();
    const offA = subs.add('system');
    subs.add('system');
    offA();
    offA();
    assert.equal(subs.count('system'), 1);
    assert.equal(told.length, 1);
  });

  test('remove() drops one reference; unknown channels are ignored', () => {
    const { subs, told } = setup();
    subs.add('user:3');
    subs.remove('user:3');
    subs.remove('user:3');
    subs.remove('never');
    assert.deepEqual(told, [
      ['subscribe', 'user:3'],
      ['unsubscribe', 'user:3'],
    ]);
  });

  test('channels are the wanted ones, in first-asked order (what a reconnect asks for again)', () => {
    const { subs } = setup();
    subs.add('system');
    subs.add('business:9');
    subs.add('system');
    const off = subs.add('user:1');
    off();
    assert.deepEqual(subs.channels, ['system', 'business:9']);
  });

  test('a channel that was released and asked for again is a first reference again', () => {
    const { subs, told } = setup();
    subs.add('a')();
    subs.add('a');
    assert.deepEqual(told, [
      ['subscribe', 'a'],
      ['unsubscribe', 'a'],
      ['subscribe', 'a'],
    ]);
  });

  test('a channel must be a non-empty string', () => {
    const { subs, told } = setup();
    for (const bad of ['', null, undefined, 5, {}]) assert.throws(() => subs.add(bad), TypeError);
    assert.deepEqual(told, []);
    assert.deepEqual(subs.channels, []);
  });
});
