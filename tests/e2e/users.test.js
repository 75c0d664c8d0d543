'use strict';
// Host functions that act per user across a user's sockets (emit_to_user) and
// tell a module a socket's namespace (namespace_of), driven through the
// test_identity module: CONNECT auth {user} gives a socket its user id.
// Switchboard only: these are module host functions.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startServer, IS_SWITCHBOARD } = require('./lib/server');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;

if (IS_SWITCHBOARD) {
  let server;
  before(async () => {
    server = await startServer({
      config: {
        modules: { test_identity: { file: path.join(TEST_MODULES || '', 'test_identity.so') } },
        namespaces: { '/': { modules: ['test_identity', 'echo'] }, '/other': { modules: ['test_identity'] }, '/plain': { modules: ['echo'] } },
      },
    });
  });
  after(() => server && server.stop());

  const as = (user, namespace = '/') => c.connectClient(server, { namespace, auth: { user }, transports: ['websocket'] });

  async function until(check, what) {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  function inbox(socket) {
    const got = [];
    socket.on('note', (data) => got.push(data));
    return got;
  }

  test('emit_to_user reaches every socket of the user in the namespaces holding the module, and no one else', async () => {
    const [tab1, tab2, other, plain, bob] = await Promise.all([as('alice'), as('alice'), as('alice', '/other'), as('alice', '/plain'), as('bob')]);
    const boxes = [tab1, tab2, other, plain, bob].map(inbox);
    assert.deepEqual(await c.ack(bob, 'to_user', ['alice', 'note', { n: 1 }]), [true]);
    await until(() => boxes[0].length && boxes[1].length && boxes[2].length, "alice's copies");
    await c.ack(bob, 'to_user', ['bob', 'note', { n: 'sentinel' }]);
    await until(() => boxes[4].length, "bob's sentinel"); // sent after alice's, so /plain would have had its copy
    assert.deepEqual(boxes[0], [{ n: 1 }]);
    assert.deepEqual(boxes[1], [{ n: 1 }]);
    assert.deepEqual(boxes[2], [{ n: 1 }]);
    assert.deepEqual(boxes[3], [], '/plain has no test_identity: not addressed');
    assert.deepEqual(boxes[4], [{ n: 'sentinel' }]);

    // except_socket: the sender's own tab is left out
    assert.deepEqual(await c.ack(tab1, 'to_user', ['alice', 'note', { n: 2 }, true]), [true]);
    await until(() => boxes[1].length === 2, 'the second note at the other tab');
    await c.ack(tab1, 'namespace'); // the sender's own copy, had there been one, came before this answer
    assert.deepEqual(boxes[0], [{ n: 1 }]);
    assert.deepEqual(boxes[1], [{ n: 1 }, { n: 2 }]);

    // a closed socket leaves the index: the rest still get it, the server is fine
    tab2.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await c.ack(bob, 'to_user', ['alice', 'note', { n: 3 }]), [true]);
    await until(() => boxes[0].length === 2 && boxes[2].length === 3, 'the third note');
    assert.deepEqual(await c.ack(bob, 'to_user', ['nobody', 'note', {}]), [true], 'a user without sockets is not an error');
    for (const s of [tab1, other, plain, bob]) s.close();
  });

  test('namespace_of names the socket\'s namespace', async () => {
    const [root, other] = await Promise.all([as('carol'), as('carol', '/other')]);
    assert.deepEqual(await c.ack(root, 'namespace'), ['/']);
    assert.deepEqual(await c.ack(other, 'namespace'), ['/other']);
    root.close();
    other.close();
  });

  test('the client address reaches modules at connect and through remote_address_of, on both transports', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const socket = await c.connectClient(server, { auth: { user: 'dave' }, transports });
      assert.deepEqual(await c.ack(socket, 'address'), ['127.0.0.1', '127.0.0.1'], transports[0]);
      socket.close();
    }
  });
}
