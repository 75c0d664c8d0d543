'use strict';
// The three ways the stock client reaches the server: WebSocket only,
// HTTP long-polling only, and the default polling -> WebSocket upgrade.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

let server;

before(async () => {
  server = await startServer();
});

for (const [label, transport] of [
  ['websocket-only', 'websocket'],
  ['polling-only', 'polling'],
]) {
  test(`${label} client connects, gets its auth payload back, and round-trips message and ack`, { timeout: 10000 }, async () => {
    const auth = { token: 'tok-123', user: { id: 42, name: 'Zoë' }, roles: ['a', 'b'] };
    const socket = await c.connectClient(server, { transports: [transport], auth });

    assert.equal(socket.io.engine.transport.name, transport);
    assert.equal(typeof socket.id, 'string');
    assert.ok(socket.id.length > 0);
    assert.notEqual(socket.id, socket.io.engine.id, 'the Socket.IO id must differ from the Engine.IO sid');

    const [authBack] = await socket.inbox.take('auth');
    assert.deepEqual(authBack, auth);

    socket.emit('message', 'hello', 1, { a: [1, 2] });
    assert.deepEqual(await socket.inbox.take('message-back'), ['hello', 1, { a: [1, 2] }]);

    assert.deepEqual(await c.ack(socket, 'message-with-ack', ['x', 2]), ['x', 2]);
    assert.equal(await socket.timeout(3000).emitWithAck('message-with-ack', 'first', 'second'), 'first');

    // a burst keeps its order
    for (let i = 0; i < 20; i += 1) socket.emit('message', i);
    for (let i = 0; i < 20; i += 1) assert.deepEqual(await socket.inbox.take('message-back'), [i]);

    assert.equal(socket.io.engine.transport.name, transport, 'the transport must not change');
    assert.deepEqual(socket.disconnects, []);
  });

  test(`${label} client without auth option gets an empty auth object`, { timeout: 10000 }, async () => {
    const socket = await c.connectClient(server, { transports: [transport] });
    const [authBack] = await socket.inbox.take('auth');
    assert.deepEqual(authBack, {});
  });
}

// The transports socket.io-client itself uses (the very copy it loads).
const engineClient = require(require.resolve('engine.io-client', { paths: [require.resolve('socket.io-client')] }));

test('default client upgrades from polling to websocket and keeps working', { timeout: 10000 }, async () => {
  const socket = c.createClient(server, { auth: { via: 'upgrade' } }); // default transports: polling, then upgrade
  const engine = socket.io.engine;
  const upgraded = c.waitFor(engine, 'upgrade', { timeout: 5000 }); // listening before any I/O happened
  await c.connected(socket);
  const [transport] = await upgraded;
  assert.equal(transport.name, 'websocket');
  assert.equal(socket.io.engine.transport.name, 'websocket');
  assert.deepEqual(await socket.inbox.take('auth'), [{ via: 'upgrade' }]);
  await c.assertEchoes(socket, assert);
  assert.deepEqual(socket.disconnects, []);
});

test('30 default clients at once all finish the upgrade, whenever their polls cross the probe', { timeout: 30000 }, async () => {
  const sockets = Array.from({ length: 30 }, () => c.createClient(server));
  const upgraded = sockets.map((socket) => c.waitFor(socket.io.engine, 'upgrade', { timeout: 10000 }));
  await Promise.all(sockets.map((socket) => c.connected(socket, 10000)));
  for (const [transport] of await Promise.all(upgraded)) assert.equal(transport.name, 'websocket');
  await Promise.all(sockets.map((socket) => c.assertEchoes(socket, assert)));
  for (const socket of sockets) assert.deepEqual(socket.disconnects, []);
});

test('messages sent before, during and after the upgrade all arrive, once and in order', { timeout: 15000 }, async () => {
  // On loopback the probe can finish before the Socket.IO CONNECT round trip
  // over polling does. To be sure messages really cross the switch, the
  // WebSocket probe of this client waits until we have sent over polling.
  let openGate;
  const gate = new Promise((resolve) => {
    openGate = resolve;
  });
  class GatedWebSocket extends engineClient.NodeWebSocket {
    doOpen() {
      gate.then(() => super.doOpen());
    }
  }
  const socket = c.createClient(server, { transports: [engineClient.NodeXHR, GatedWebSocket] });
  const engine = socket.io.engine;

  const TOTAL = 50;
  let next = 0;
  const sendUpTo = (end) => {
    for (; next < Math.min(end, TOTAL); next += 1) socket.emit('message', next, `payload-${next}`);
  };
  const upgrading = new Promise((resolve) => {
    engine.once('upgrading', (t) => {
      // probe answered: polling is being paused, these are buffered meanwhile
      sendUpTo(35);
      resolve([t.name, engine.transport.name]);
    });
  });
  const upgraded = new Promise((resolve) => {
    engine.once('upgrade', (t) => {
      sendUpTo(TOTAL); // right after the switch
      resolve(t.name);
    });
  });

  await c.connected(socket);
  assert.equal(engine.transport.name, 'polling');
  sendUpTo(10);
  for (let i = 0; i < 10; i += 1) assert.deepEqual(await socket.inbox.take('message-back'), [i, `payload-${i}`]);
  assert.equal(engine.transport.name, 'polling', 'the first messages went over polling');
  sendUpTo(20); // still in flight over polling when the probe starts
  openGate();

  assert.deepEqual(await c.withTimeout(upgrading, 5000, 'engine "upgrading"'), ['websocket', 'polling']);
  assert.equal(await c.withTimeout(upgraded, 5000, 'engine "upgrade"'), 'websocket');
  assert.equal(next, TOTAL);

  for (let i = 10; i < TOTAL; i += 1) {
    assert.deepEqual(await socket.inbox.take('message-back'), [i, `payload-${i}`], `message ${i} arrives in order`);
  }
  assert.equal(socket.inbox.count('message-back'), TOTAL, 'no duplicates');
  assert.equal(engine.transport.name, 'websocket');
  await c.assertEchoes(socket, assert);
  assert.deepEqual(socket.disconnects, []);
});

test('server with transports [websocket] refuses polling and serves websocket', { timeout: 10000 }, async () => {
  const wsOnly = await startServer({ config: { engineio: { transports: ['websocket'] } } });
  const polling = c.createClient(wsOnly, { transports: ['polling'] });
  await assert.rejects(c.connected(polling));

  const res = await c.request(wsOnly, { path: c.eioPath(wsOnly) });
  assert.equal(res.status, 400);
  assert.deepEqual(JSON.parse(res.body), { code: 0, message: 'Transport unknown' });

  const socket = await c.connectClient(wsOnly, { transports: ['websocket'] });
  await c.assertEchoes(socket, assert);
  await wsOnly.stop();
});
