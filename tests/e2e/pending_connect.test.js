'use strict';
// The host's pending connects (module ABI 1.3: on_connect answers
// SB_CONNECT_PENDING and the module decides later with connect_decide),
// driven through the test-only module test_pending: a controller client
// decides the connects other clients left waiting. Covers accept (chain
// resumed, CONNECT answered), reject (the module's message), a second
// decision (NOT_FOUND), a packet for the namespace while pending (the
// connection closes, as in the Node reference), a module disconnecting a
// pending socket, the transport closing, socketio.connect_timeout, a
// second CONNECT replacing a pending one, and a reload that replaces the
// module without a state handover (the new instance is asked again).
// Switchboard only: the reference server has no modules.

const { test, describe, before } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');
const { ADMIN_TOKEN, reload } = require('./lib/auth');

const ENGINEIO = { ping_interval: '5s', ping_timeout: '10s' };
const SB_OK = 0;
const SB_ERR_NOT_FOUND = -1;

function config(extra = {}) {
  return {
    engineio: ENGINEIO,
    socketio: { connect_timeout: '10s' },
    admin: { token: ADMIN_TOKEN },
    modules: { test_pending: { config: { tag: 'v1' } } },
    namespaces: { '/': { modules: ['test_rooms', 'test_pending', 'echo'] } },
    ...extra,
  };
}

async function call(socket, event, ...args) {
  return (await c.ack(socket, event, args, 5000))[0];
}

/** The sid of the next socket test_pending left pending, as the controller hears it. */
async function nextPending(controller) {
  return (await controller.inbox.take('pending'))[0];
}

async function refusedWith(socket) {
  return c.connected(socket, 5000).then(
    () => assert.fail('connected, but the connect should have been refused'),
    (e) => e.message,
  );
}

async function endedFor(controller, sid, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ended = (await call(controller, 'ended')).filter((e) => e.startsWith(`${sid}:`));
    if (ended.length > 0 || Date.now() > deadline) return ended;
    await new Promise((r) => setTimeout(r, 50)); // poll the module's record
  }
}

if (IS_SWITCHBOARD) {
  describe('pending connects (ABI 1.3 connect_decide)', () => {
    let server;
    let controller;

    before(async () => {
      server = await startServer({ config: config() });
      controller = await c.connectClient(server, { transports: ['websocket'] });
    });

    test('accept: the chain resumes after the module, then the client is connected; a second decision is NOT_FOUND', async () => {
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true, n: 1 } });
      const sid = await nextPending(controller);
      await new Promise((r) => setTimeout(r, 100)); // long enough for a CONNECT answer that must not come
      assert.equal(s.connected, false, 'not connected while pending');
      assert.equal(await call(controller, 'decide', sid, true), SB_OK);
      await c.connected(s);
      assert.equal(s.id, sid);
      // echo runs after test_pending: its auth event comes once accepted.
      assert.deepEqual(await s.inbox.take('auth'), [{ pending: true, n: 1 }]);
      // What was broadcast to the namespace while it waited was held for it.
      assert.deepEqual(await s.inbox.take('pending'), [sid]);
      assert.equal(await call(controller, 'decide', sid, true), SB_ERR_NOT_FOUND);
      assert.ok(Array.isArray(await call(s, 'rooms')), 'the rest of the chain serves it');
    });

    test('reject: the client gets the module message; a later decision is NOT_FOUND', async () => {
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true } });
      const refusal = refusedWith(s); // listening before the answer can arrive
      const sid = await nextPending(controller);
      assert.equal(await call(controller, 'decide', sid, false, 'not today'), SB_OK);
      assert.equal(await refusal, 'not today');
      assert.equal(await call(controller, 'decide', sid, true), SB_ERR_NOT_FOUND);
      // The deciding module is not told of its own rejection.
      assert.deepEqual(await call(controller, 'ended').then((e) => e.filter((x) => x.startsWith(`${sid}:`))), []);
    });

    test('an event for the namespace while pending closes the connection; the module hears it', async () => {
      const raw = await c.RawWs.open(server, { autoPong: true });
      await c.readOpenPacket(raw);
      raw.send('40{"pending":true}');
      const sid = await nextPending(controller);
      raw.send('42["rooms"]');
      await raw.waitClosed();
      assert.deepEqual(await endedFor(controller, sid), [`${sid}:parse error`]);
      assert.equal(await call(controller, 'decide', sid, true), SB_ERR_NOT_FOUND);
    });

    test('a module disconnecting a pending socket refuses it', async () => {
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true } });
      const refusal = refusedWith(s);
      const sid = await nextPending(controller);
      assert.equal(await call(controller, 'kick', sid), SB_OK);
      assert.equal(await refusal, 'Connection rejected');
      assert.deepEqual(await endedFor(controller, sid), [`${sid}:server namespace disconnect`]);
    });

    test('the transport closing while pending ends the connect: the module hears the reason', async () => {
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true } });
      const sid = await nextPending(controller);
      s.io.engine.close();
      assert.deepEqual(await endedFor(controller, sid), [`${sid}:transport close`]);
      assert.equal(await call(controller, 'decide', sid, true), SB_ERR_NOT_FOUND);
    });

    test('a second CONNECT for the namespace replaces the pending one', async () => {
      const raw = await c.RawWs.open(server, { autoPong: true });
      await c.readOpenPacket(raw);
      raw.send('40{"pending":true}');
      const first = await nextPending(controller);
      raw.send('40{"pending":true}');
      const second = await nextPending(controller);
      assert.notEqual(first, second);
      assert.deepEqual(await endedFor(controller, first), [`${first}:client namespace disconnect`]);
      assert.equal(await call(controller, 'decide', first, true), SB_ERR_NOT_FOUND);
      assert.equal(await call(controller, 'decide', second, true), SB_OK);
      const answer = await raw.nextText(5000, (f) => f.text === undefined || !f.text.startsWith('40'));
      assert.equal(JSON.parse(answer.slice(2)).sid, second);
      raw.close();
    });

    test('a reload replacing the module without a handover asks the new instance again', async () => {
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true, n: 2 } });
      const sid = await nextPending(controller);
      const r = await reload(server, { modules: { test_pending: { config: { tag: 'v2' } } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(await nextPending(controller), sid, 'the new instance was offered the same socket');
      assert.equal(await call(controller, 'offers', sid), 1, 'the new instance has seen it once');
      assert.equal(await call(controller, 'decide', sid, true), SB_OK);
      await c.connected(s);
      assert.equal(s.id, sid);
    });
  });

  describe('pending connects: socketio.connect_timeout', () => {
    test('a connect left pending is refused with "connect timeout"; the module hears it', async () => {
      const server = await startServer({ config: config({ socketio: { connect_timeout: '600ms' } }) });
      const controller = await c.connectClient(server, { transports: ['websocket'] });
      const started = Date.now();
      const s = c.createClient(server, { transports: ['websocket'], auth: { pending: true } });
      const refusal = refusedWith(s);
      const sid = await nextPending(controller);
      assert.equal(await refusal, 'connect timeout');
      const took = Date.now() - started;
      assert.ok(took >= 500 && took < 4000, `refused after ${took} ms`);
      assert.deepEqual(await endedFor(controller, sid), [`${sid}:connect timeout`]);
      assert.equal(await call(controller, 'decide', sid, true), SB_ERR_NOT_FOUND);
      await server.stop();
    });
  });
}
