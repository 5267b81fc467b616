import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { OwnNode } from '../../static/js/model/own-node.js';

/** Enough of a LiveSocket: on(name, fn) with an off function, and a way to fire. */
function fakeSocket() {
  const handlers = new Map();
  return {
    on(name, fn) {
      handlers.set(name, fn);
      return () => handlers.delete(name);
    },
    fire(name, frame) {
      handlers.get(name)?.(frame);
    },
    handlers,
  };
}

describe('OwnNode', () => {
  test('takes the node of connected; accepts every sample until then, then only its own', () => {
    const socket = fakeSocket();
    const own = new OwnNode(socket);
    assert.equal(own.name, null);
    assert.equal(own.accepts({ node: 'b', cpu_percent: 1 }), true, 'not known yet');
    socket.fire('connected', { type: 'connected', node: 'a' });
    assert.equal(own.name, 'a');
    assert.equal(own.accepts({ node: 'a' }), true);
    assert.equal(own.accepts({ node: 'b' }), false);
    assert.equal(own.accepts({ cpu_percent: 1 }), true, 'a sample that names no node');
    for (const bad of [null, undefined, 'x', 3]) assert.equal(own.accepts(bad), false);
  });

  test('listeners hear a change of node once, with the previous one; destroy lets go of the socket', () => {
    const socket = fakeSocket();
    const own = new OwnNode(socket);
    const heard = [];
    const off = own.onChange((name, previous) => heard.push([name, previous]));
    socket.fire('connected', { node: 'a' });
    socket.fire('connected', { node: 'a' });
    socket.fire('connected', { node: '' });
    socket.fire('connected', {});
    socket.fire('connected', { node: 'b' });
    assert.deepEqual(heard, [
      ['a', null],
      ['b', 'a'],
    ]);
    off();
    own.set('c');
    assert.equal(heard.length, 2);
    own.destroy();
    assert.equal(socket.handlers.size, 0);
  });

  test('works without a socket', () => {
    const own = new OwnNode();
    own.set('solo');
    assert.equal(own.accepts({ node: 'solo' }), true);
    own.destroy();
  });
});
