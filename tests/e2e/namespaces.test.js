'use strict';
// Namespaces: the configured ones answer, several share one Engine.IO
// session, unknown ones are refused with "Invalid namespace".

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

let server;

before(async () => {
  server = await startServer();
});

for (const transport of ['websocket', 'polling']) {
  test(`[${transport}] /custom connects, sends the auth event and echoes`, { timeout: 10000 }, async () => {
    const auth = { ns: 'custom', token: 't-1' };
    const socket = await c.connectClient(server, { namespace: '/custom', transports: [transport], auth });
    assert.equal(socket.nsp, '/custom');
    assert.deepEqual(await socket.inbox.take('auth'), [auth]);
    await c.assertEchoes(socket, assert);
    socket.emit('message', Buffer.from([1, 2, 3]), 'bin-in-custom');
    const [buf, text] = await socket.inbox.take('message-back');
    assert.ok(Buffer.isBuffer(buf) && buf.equals(Buffer.from([1, 2, 3])));
    assert.equal(text, 'bin-in-custom');
  });

  test(`[${transport}] an unknown namespace is refused with connect_error "Invalid namespace"`, { timeout: 10000 }, async () => {
    const socket = c.createClient(server, { namespace: '/nope', transports: [transport] });
    const err = await c.connected(socket).then(
      () => assert.fail('connected to an unknown namespace'),
      (e) => e,
    );
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(socket.connected, false);
  });
}

test('two namespaces multiplexed on one manager share one Engine.IO session', { timeout: 10000 }, async () => {
  const manager = c.createManager(server, { transports: ['websocket'] });
  const root = c.managerSocket(manager, '/', { auth: { who: 'root' } });
  const custom = c.managerSocket(manager, '/custom', { auth: { who: 'custom' } });
  await Promise.all([c.connected(root), c.connected(custom)]);

  assert.equal(root.io, custom.io);
  assert.equal(manager.engine.transport.name, 'websocket');
  assert.notEqual(root.id, custom.id, 'each namespace has its own socket id');
  assert.deepEqual(await root.inbox.take('auth'), [{ who: 'root' }]);
  assert.deepEqual(await custom.inbox.take('auth'), [{ who: 'custom' }]);

  // an event in one namespace is answered in that namespace only
  custom.emit('message', 'to-custom');
  root.emit('message', 'to-root');
  assert.deepEqual(await custom.inbox.take('message-back'), ['to-custom']);
  assert.deepEqual(await root.inbox.take('message-back'), ['to-root']);
  // both answers travel on one connection in order: nothing else is pending
  assert.deepEqual(root.inbox.all('message-back'), [['to-root']]);
  assert.deepEqual(custom.inbox.all('message-back'), [['to-custom']]);

  assert.deepEqual(await c.ack(custom, 'message-with-ack', ['c']), ['c']);
  assert.deepEqual(await c.ack(root, 'message-with-ack', ['r']), ['r']);

  // leaving one namespace keeps the other one and the session
  const engineId = manager.engine.id;
  custom.disconnect();
  await c.assertEchoes(root, assert);
  assert.equal(manager.engine.id, engineId);
  assert.deepEqual(root.disconnects, []);

  // and it can come back on the same session
  custom.connect();
  await c.connected(custom);
  assert.equal(manager.engine.id, engineId);
  await c.assertEchoes(custom, assert);
});

test('an invalid namespace on a shared session does not disturb the valid one', { timeout: 10000 }, async () => {
  const manager = c.createManager(server, { transports: ['polling'] });
  const root = c.managerSocket(manager, '/');
  await c.connected(root);
  const bad = c.managerSocket(manager, '/nope');
  const err = await c.connected(bad).then(
    () => assert.fail('connected to an unknown namespace'),
    (e) => e,
  );
  assert.equal(err.message, 'Invalid namespace');
  await c.assertEchoes(root, assert);
  assert.deepEqual(root.disconnects, []);
});

test('raw frames: namespace CONNECT reply and CONNECT_ERROR bytes', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server, { autoPong: true });
  await c.readOpenPacket(raw);

  raw.send('40/custom,{"k":"v"}');
  const reply = await raw.nextText();
  const m = /^40\/custom,(\{.*\})$/.exec(reply);
  assert.ok(m, `CONNECT reply: ${reply}`);
  const { sid } = JSON.parse(m[1]);
  assert.equal(typeof sid, 'string');
  assert.ok(sid.length > 0);
  assert.equal(await raw.nextText(), '42/custom,["auth",{"k":"v"}]');

  raw.send('40/nope,');
  assert.equal(await raw.nextText(), '44/nope,{"message":"Invalid namespace"}');

  raw.send('42/custom,["message","still here"]');
  assert.equal(await raw.nextText(), '42/custom,["message-back","still here"]');
  raw.send('42/custom,17["message-with-ack",1,"a"]');
  assert.equal(await raw.nextText(), '43/custom,17[1,"a"]');
  assert.ok(raw.isOpen());
});

test('a server configured without /custom refuses it and still serves /', { timeout: 10000 }, async () => {
  const rootOnly = await startServer({ config: { namespaces: { '/custom': null } } });
  const custom = c.createClient(rootOnly, { namespace: '/custom', transports: ['websocket'] });
  const err = await c.connected(custom).then(
    () => assert.fail('connected to /custom'),
    (e) => e,
  );
  assert.equal(err.message, 'Invalid namespace');
  const root = await c.connectClient(rootOnly, { transports: ['websocket'] });
  await c.assertEchoes(root, assert);
  await rootOnly.stop();
});

test('a namespace configured with other modules gets only those', { timeout: 10000 }, async () => {
  const srv = await startServer({
    config: { namespaces: { '/custom': null, '/rooms-only': { modules: ['test_rooms'] } } },
  });
  const socket = await c.connectClient(srv, { namespace: '/rooms-only', transports: ['websocket'] });
  assert.deepEqual(await c.ack(socket, 'join', ['r1']), [true]);
  assert.deepEqual(await c.ack(socket, 'rooms'), [['r1']]);
  socket.emit('message', 'nobody echoes here');
  // an ack round trip after the message: any echo would have arrived first
  assert.deepEqual(await c.ack(socket, 'rooms'), [['r1']]);
  assert.equal(socket.inbox.count('message-back'), 0);
  assert.equal(socket.inbox.count('auth'), 0, 'echo is not loaded here, so no auth event');
  await srv.stop();
});
