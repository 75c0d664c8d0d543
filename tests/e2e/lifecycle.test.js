'use strict';
// Process lifecycle: graceful shutdown on SIGTERM, clients reconnecting to a
// restarted server, a crash (SIGKILL) followed by a restart.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

const reconnecting = {
  reconnection: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  randomizationFactor: 0,
  timeout: 2000,
};

/** Resolves with the reason of the socket's next disconnect. */
function nextDisconnect(socket, timeout) {
  return c.waitFor(socket, 'disconnect', { timeout, label: 'disconnect' }).then(([reason]) => reason);
}

// A graceful shutdown closes every transport cleanly without Socket.IO
// DISCONNECT packets (as the reference server's io.close() does): clients see
// "transport close" and reconnect by themselves, which is what a rolling
// restart behind a load balancer needs.
test('SIGTERM: every client sees a clean "transport close" and the process exits 0 within the drain timeout', { timeout: 20000 }, async () => {
  const server = await startServer({ config: { shutdown: { drain_timeout: '2s' } } });
  const drainMs = server.duration('shutdown', 'drain_timeout');

  const wsClient = await c.connectClient(server, { transports: ['websocket'] });
  const pollClient = await c.connectClient(server, { transports: ['polling'] });
  const customClient = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
  const manager = c.createManager(server, { transports: ['websocket'] });
  const muxRoot = c.managerSocket(manager, '/');
  const muxCustom = c.managerSocket(manager, '/custom');
  await Promise.all([c.connected(muxRoot), c.connected(muxCustom)]);
  const all = [wsClient, pollClient, customClient, muxRoot, muxCustom];
  await Promise.all(all.map((s) => c.assertEchoes(s, assert)));

  const reasons = Promise.all(all.map((s) => nextDisconnect(s, drainMs + 3000)));
  const t0 = Date.now();
  const exit = server.stop('SIGTERM', drainMs + 5000);
  assert.deepEqual(await reasons, all.map(() => 'transport close'));
  const info = await exit;
  const elapsed = Date.now() - t0;
  assert.equal(info.forced, undefined, `had to be killed: ${JSON.stringify(info)}`);
  assert.deepEqual({ code: info.code, signal: info.signal }, { code: 0, signal: null });
  assert.ok(elapsed <= drainMs + 3000, `exited after ${elapsed} ms`);
  for (const s of all) assert.equal(s.connected, false);
});

test('SIGTERM with no clients exits 0 promptly', { timeout: 15000 }, async () => {
  const server = await startServer();
  const drainMs = server.duration('shutdown', 'drain_timeout');
  const t0 = Date.now();
  const info = await server.stop('SIGTERM', drainMs + 5000);
  assert.deepEqual({ code: info.code, signal: info.signal, forced: info.forced }, { code: 0, signal: null, forced: undefined });
  assert.ok(Date.now() - t0 <= drainMs + 3000);
});

test('SIGTERM while a raw session has not sent CONNECT still exits 0 within the drain timeout', { timeout: 15000 }, async () => {
  const server = await startServer({ config: { socketio: { connect_timeout: '10s' } } });
  const drainMs = server.duration('shutdown', 'drain_timeout');
  const raw = await c.RawWs.open(server, { autoPong: true });
  await c.readOpenPacket(raw);
  const { sid } = await c.pollingHandshake(server);
  assert.equal(typeof sid, 'string');
  const t0 = Date.now();
  const info = await server.stop('SIGTERM', drainMs + 5000);
  assert.deepEqual({ code: info.code, signal: info.signal, forced: info.forced }, { code: 0, signal: null, forced: undefined });
  assert.ok(Date.now() - t0 <= drainMs + 3000, `exited after ${Date.now() - t0} ms`);
  await raw.waitClosed(1000);
});

for (const transport of ['websocket', 'polling']) {
  test(`[${transport}] after a SIGTERM restart on the same port, the client reconnects and works`, { timeout: 20000 }, async () => {
    const first = await startServer();
    const port = first.port;
    const socket = c.createClient(first, { transports: [transport], auth: { user: 'u1' }, ...reconnecting });
    await c.connected(socket);
    const firstId = socket.id;
    assert.deepEqual(await socket.inbox.take('auth'), [{ user: 'u1' }]);

    const reason = nextDisconnect(socket, 5000);
    const exit = first.stop('SIGTERM');
    assert.equal(await reason, 'transport close');
    assert.equal((await exit).code, 0);

    const reconnected = c.waitFor(socket, 'connect', { timeout: 10000, label: 'reconnect' });
    const second = await startServer({ port });
    assert.equal(second.port, port);
    await reconnected;
    assert.ok(socket.connected);
    assert.notEqual(socket.id, firstId, 'a new server gives a new socket id');
    assert.deepEqual(await socket.inbox.take('auth'), [{ user: 'u1' }], 'auth is sent again on reconnect');
    await c.assertEchoes(socket, assert);
    socket.close();
    await second.stop();
  });

  test(`[${transport}] after a crash (SIGKILL) and restart, the client reconnects by itself`, { timeout: 20000 }, async () => {
    const first = await startServer();
    const port = first.port;
    const socket = c.createClient(first, { transports: [transport], ...reconnecting });
    await c.connected(socket);
    const firstId = socket.id;

    const reason = nextDisconnect(socket, 5000);
    const info = await first.kill9();
    assert.equal(info.signal, 'SIGKILL');
    assert.match(await reason, /^transport (close|error)$/);

    const reconnected = c.waitFor(socket, 'connect', { timeout: 10000, label: 'reconnect' });
    const second = await startServer({ port });
    await reconnected;
    assert.notEqual(socket.id, firstId);
    await c.assertEchoes(socket, assert);
    socket.close();
    await second.stop();
  });
}
