'use strict';
// What a client sees when a module refuses an event, and what operators see
// in /metrics: a refusal is answered (error ack or `error` event), counted
// per module, and never disturbs the connection. Switchboard only: the error
// vocabulary and metrics are ours.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');

if (IS_SWITCHBOARD) {
  let server;
  before(async () => {
    server = await startServer();
  });

  async function moduleCounter(name, module) {
    const res = await c.request(server, { path: '/metrics' });
    const m = new RegExp(`^${name}\\{module="${module}"\\} (\\d+)$`, 'm').exec(res.body);
    assert.ok(m, `${name}{module="${module}"} in /metrics`);
    return Number(m[1]);
  }

  test('a refused event with an ack callback gets {ok:false, error:{code, message}}', async () => {
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    const before = await moduleCounter('switchboard_module_rejections_total', 'test_rooms');
    const [answer] = await c.ack(socket, 'join', [42]);
    // the module's details ({"expected":"string"}) join the error object
    assert.deepEqual(answer, { ok: false, error: { code: 'INVALID', message: 'join needs a room name', expected: 'string' } });
    assert.equal(await moduleCounter('switchboard_module_rejections_total', 'test_rooms'), before + 1);
    await c.assertEchoes(socket, assert);
  });

  test('a refused event without an ack callback gets an `error` event naming the event', async () => {
    const socket = await c.connectClient(server, { transports: ['polling'] });
    const error = socket.inbox.take('error');
    socket.emit('broadcast', 'not an object');
    assert.deepEqual(await error, [
      { code: 'INVALID', message: 'broadcast needs {event, data, rooms?, except?}', event: 'broadcast' },
    ]);
    await c.assertEchoes(socket, assert);
  });

  test('handled events are counted per module', async () => {
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    const before = await moduleCounter('switchboard_module_events_total', 'echo');
    await c.assertEchoes(socket, assert);
    assert.equal(await moduleCounter('switchboard_module_events_total', 'echo'), before + 2);
  });

  test('an event no module handles gets NOT_FOUND (ack or `error` event) and the connection stays', async () => {
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    const [answer] = await c.ack(socket, 'nobody-handles-this', [1, 2]);
    assert.deepEqual(answer, { ok: false, error: { code: 'NOT_FOUND', message: "No handler for event 'nobody-handles-this'" } });
    const error = socket.inbox.take('error');
    socket.emit('nobody-handles-this', 3);
    assert.deepEqual(await error, [
      { code: 'NOT_FOUND', message: "No handler for event 'nobody-handles-this'", event: 'nobody-handles-this' },
    ]);
    await c.assertEchoes(socket, assert);
    assert.ok(socket.connected);
  });
}

if (IS_SWITCHBOARD) {
  const auth = require('./lib/auth');

  test('a connect refused by a later module leaves the rooms an earlier one joined, and every module hears it', { timeout: 20000 }, async () => {
    // auth_jwt joins user:<id> while connecting; throttle then refuses a
    // second socket of the same user; test_rooms counts on_room calls.
    const server = await startServer({
      config: {
        modules: { auth_jwt: { config: auth.authJwtConfig() }, throttle: { config: { max_connections_per_user: 1 } } },
        namespaces: { '/': { modules: ['auth_jwt', 'throttle', 'test_rooms', 'echo'] } },
      },
    });
    try {
      const first = await auth.connectAs(server, { sub: 'alice' });
      const refused = c.createClient(server, { transports: ['websocket'], auth: { token: auth.token({ sub: 'alice' }) } });
      const [err] = await c.waitFor(refused, 'connect_error');
      assert.equal(err.message, 'too many connections');
      refused.close();
      assert.deepEqual(await c.ack(first, 'room_events', ['user:alice']), [{ joined: 2, left: 1 }]);
      first.close();
    } finally {
      await server.stop();
    }
  });
}
