import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Emitter } from '../../static/js/socket/emitter.js';
import { fakeLogger } from './fakes.mjs';

describe('Emitter', () => {
  test('emit calls the listeners of that name with the arguments, in order', () => {
    const e = new Emitter(fakeLogger());
    const got = [];
    e.on('a', (x, y) => got.push(['first', x, y]));
    e.on('a', (x, y) => got.push(['second', x, y]));
    e.on('b', () => got.push(['b']));
    e.emit('a', 1, 2);
    e.emit('nobody');
    assert.deepEqual(got, [
      ['first', 1, 2],
      ['second', 1, 2],
    ]);
  });

  test('on returns an unsubscribe function; off removes a listener too', () => {
    const e = new Emitter(fakeLogger());
    const got = [];
    const fa = (x) => got.push(`a${x}`);
    const fb = (x) => got.push(`b${x}`);
    const offA = e.on('x', fa);
    e.on('x', fb);
    e.emit('x', 1);
    offA();
    offA(); // twice is harmless
    e.emit('x', 2);
    e.off('x', fb);
    e.emit('x', 3);
    assert.deepEqual(got, ['a1', 'b1', 'b2']);
    assert.equal(e.listenerCount('x'), 0);
  });

  test('the same function registered twice is called once', () => {
    const e = new Emitter(fakeLogger());
    let n = 0;
    const f = () => (n += 1);
    e.on('x', f);
    e.on('x', f);
    e.emit('x');
    assert.equal(n, 1);
  });

  test('a throwing listener is logged with error and does not stop the others', () => {
    const logger = fakeLogger();
    const e = new Emitter(logger);
    const got = [];
    e.on('x', () => {
      throw new Error('widget bug');
    });
    e.on('x', (v) => got.push(v));
    assert.doesNotThrow(() => e.emit('x', 7));
    assert.deepEqual(got, [7]);
    assert.equal(logger.log.error.length, 1);
    assert.match(logger.log.error[0][0], /'x' handler failed/);
    assert.equal(logger.log.error[0][1].message, 'widget bug');
  });

  test('listeners added or removed during an emit take effect from the next one', () => {
    const e = new Emitter(fakeLogger());
    const got = [];
    const late = () => got.push('late');
    let offSecond = null;
    e.on('x', () => {
      got.push('first');
      e.on('x', late);
      offSecond?.();
    });
    offSecond = e.on('x', () => got.push('second'));
    e.emit('x');
    assert.deepEqual(got, ['first', 'second']);
    got.length = 0;
    e.emit('x');
    assert.deepEqual(got, ['first', 'late']);
  });

  test('a listener must be a function', () => {
    assert.throws(() => new Emitter(fakeLogger()).on('x', 'nope'), TypeError);
  });
});
