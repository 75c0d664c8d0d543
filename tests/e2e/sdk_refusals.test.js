'use strict';
// Refusals written with <switchboard/module.hpp>, from a client's side: a
// refused handshake gets the refusal's HTTP status and message on both
// transports, a refused connection its message, a refused event its code,
// message and details (details too large for the host are left out), a
// failure INTERNAL, and a handled event stops the chain. The test module is
// built twice from one source (tests/modules/test_refusals): hooks that
// throw sb::Refusal and hooks that return sb::Verdict must be
// indistinguishable. Switchboard only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');

function start(module) {
  return startServer({
    config: {
      modules: { [module]: {} },
      namespaces: { '/': { modules: [module, 'echo'] } },
    },
  });
}

if (IS_SWITCHBOARD && process.env.SWITCHBOARD_TEST_MODULES) {
  for (const module of ['test_refusals_thrown', 'test_refusals_returned']) {
    test(`${module}: a refused handshake gets the refusal's HTTP status and message on both transports`, { timeout: 20000 }, async () => {
      const server = await start(module);
      const polling = await c.request(server, { path: c.eioPath(server, { refuse: '1' }) });
      assert.equal(polling.status, 451, polling.body);
      assert.deepEqual(JSON.parse(polling.body), { code: 4, message: 'handshake refused by test_refusals' });
      await assert.rejects(c.RawWs.open(server, { query: { refuse: '1' } }), (err) => {
        assert.equal(err.statusCode, 451, err.message);
        assert.match(err.body, /handshake refused by test_refusals/);
        return true;
      });
      // Other sessions are admitted.
      const welcome = await c.connectClient(server, { transports: ['websocket'] });
      await c.assertEchoes(welcome, assert);
    });

    test(`${module}: a refused connection gets connect_error with the refusal's message`, { timeout: 20000 }, async () => {
      const server = await start(module);
      const refused = c.createClient(server, { transports: ['websocket'], auth: { refuse: true } });
      await assert.rejects(c.connected(refused), (err) => {
        assert.equal(err.message, 'connect refused by test_refusals');
        return true;
      });
      await c.connectClient(server, { transports: ['websocket'], auth: { refuse: false } });
    });

    test(`${module}: a refused event carries code, message and details; a failure is INTERNAL; handled stops the chain`, { timeout: 20000 }, async () => {
      const server = await start(module);
      const socket = await c.connectClient(server, { transports: ['websocket'] });

      const [refused] = await c.ack(socket, 'refuse', [1]);
      assert.deepEqual(refused, { ok: false, error: { code: 'NOPE', message: 'refused by test_refusals', hint: 'later', attempt: 3 } });

      // Without an ack callback: an `error` event naming the event, details included.
      const error = socket.inbox.take('error');
      socket.emit('refuse', 2);
      assert.deepEqual((await error)[0], { code: 'NOPE', message: 'refused by test_refusals', hint: 'later', attempt: 3, event: 'refuse' });

      const [big] = await c.ack(socket, 'refuse_big', []);
      assert.deepEqual(big, { ok: false, error: { code: 'NOPE', message: 'refused by test_refusals' } }, 'details beyond the host buffer are left out');

      const [failed] = await c.ack(socket, 'fail', []);
      assert.deepEqual(failed, { ok: false, error: { code: 'INTERNAL', message: 'Internal error' } });

      assert.deepEqual(await c.ack(socket, 'handle', []), ['handled']);
      assert.deepEqual(await c.ack(socket, 'message-with-ack', ['passed on']), ['passed on'], 'the next module answers');
    });
  }
}
