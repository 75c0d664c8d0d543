'use strict';
// What the Redis storage backend adds to the behaviour every backend shares
// (storage.test.js runs that on both): two server processes on one
// redis-server see the same chat history and the same notifications, a
// Redis that hangs or dies makes storage requests fail fast while the
// server stays up and serves again once Redis is back, and a server starts
// while Redis is down.
// Switchboard only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD } = require('./lib/server');
const { connectAs, answer } = require('./lib/auth');
const { startCollabServer, api } = require('./lib/collab');
const { startRedis } = require('./lib/redis');
const c = require('./lib/client');

const ROOM = 'chat:general';
const ROUTE = '/api/v1/notifications';

function redisStorage(redis) {
  return { storage: { backend: 'redis', redis: { address: redis.address, command_timeout: '1s' } } };
}

async function member(server, user) {
  const socket = await connectAs(server, { sub: user });
  assert.deepEqual(await answer(socket, 'subscribe', { room: ROOM }), { ok: true, room: ROOM });
  return socket;
}

function send(socket, text, clientId) {
  return answer(socket, 'chat:message', { room: ROOM, text, clientId });
}

/** Resolves when the server's output, from `mark` on, matches `pattern`. */
function logged(server, pattern, mark, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const streams = [server.process.stdout, server.process.stderr];
    const check = () => {
      if (!pattern.test(server.output(mark))) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${server.output(mark)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      for (const s of streams) s.off('data', onData);
    };
    // Registered after the handle's own listener: the text is already in output().
    const onData = () => check();
    for (const s of streams) s.on('data', onData);
    check();
  });
}

async function metric(server, name) {
  const res = await c.request(server, { path: '/metrics' });
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : null;
}

if (IS_SWITCHBOARD) {
  test('two nodes on one Redis: chat history and notifications written on A are read on B', { timeout: 90000 }, async () => {
    const redis = await startRedis();
    const a = await startCollabServer({ config: redisStorage(redis) });
    const b = await startCollabServer({ config: redisStorage(redis) });
    assert.match(a.output(), new RegExp(`storage: redis ${redis.address.replace(/\./g, '\\.')}`));

    const alice = await member(a, 'alice');
    const acks = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await send(alice, `from A ${i}`, `a-${i}`);
      assert.equal(res.ok, true, JSON.stringify(res));
      acks.push(res);
    }
    const bob = await member(b, 'bob');
    const history = await answer(bob, 'chat:history', { room: ROOM });
    assert.equal(history.ok, true, JSON.stringify(history));
    assert.deepEqual(history.messages.map((m) => [m.id, m.text, m.userId]), acks.map((r, i) => [r.id, `from A ${i}`, 'alice']));
    // Ids continue across nodes, and a retry on B of a message sent on A is a duplicate.
    const fromB = await send(bob, 'from B', 'b-0');
    assert.equal(fromB.ok, true, JSON.stringify(fromB));
    assert.ok(fromB.id > acks[4].id);
    const retry = await send(await member(b, 'alice'), 'from A 0', 'a-0');
    assert.deepEqual(retry, acks[0]);
    assert.deepEqual((await answer(alice, 'chat:history', { room: ROOM, after: acks[4].id })).messages.map((m) => m.text), ['from B']);

    const created = await api(a, 'POST', ROUTE, { body: { userIds: ['dora', 'erin'], type: 'order.shipped', data: { n: 7 } } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const listed = await api(b, 'GET', `${ROUTE}?userId=dora`);
    assert.equal(listed.status, 200, JSON.stringify(listed.json));
    assert.deepEqual(listed.json.notifications.map(({ id, type, data, read }) => ({ id, type, data, read })),
      [{ id: created.json.notifications[0].id, type: 'order.shipped', data: { n: 7 }, read: false }]);
    assert.equal(listed.json.unread, 1);
    const erin = await connectAs(b, { sub: 'erin' });
    assert.equal((await erin.inbox.take('notification:unread', { timeout: 15000 }))[0].count, 1);

    // The keys live under the default prefix, one stream's keys in one hash slot.
    const keys = await redis.command('KEYS', '*');
    assert.ok(keys.length > 0);
    for (const k of keys) assert.match(k, /^switchboard:storage:(stream|kv):\{[a-z0-9_-]+[:}]/);

    // Scripts are loaded when a node connects and then run by digest; a
    // digest Redis computes differently would make requests fall back to EVAL.
    const stats = await redis.command('INFO', 'commandstats');
    const calls = (cmd, text = stats) => Number((new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(text) || [0, 0])[1]);
    assert.equal(calls('eval'), 0, stats);
    assert.ok(calls('evalsha') >= 10, stats);
    // Scripts flushed behind the nodes' backs: the request is sent again in full.
    assert.equal(await redis.command('SCRIPT', 'FLUSH'), 'OK');
    const afterFlush = await send(bob, 'after SCRIPT FLUSH', 'b-1');
    assert.equal(afterFlush.ok, true, JSON.stringify(afterFlush));
    assert.equal(calls('eval', await redis.command('INFO', 'commandstats')), 1);

    for (const server of [a, b]) assert.equal((await server.stop()).forced, undefined, 'SIGTERM stops a server using Redis');
  });

  test('Redis outage: storage requests fail fast, the server stays up and recovers when Redis returns', { timeout: 90000 }, async () => {
    const redis = await startRedis();
    const server = await startCollabServer({ config: redisStorage(redis) });
    const alice = await member(server, 'alice');
    assert.equal((await send(alice, 'before', 'c-1')).ok, true);

    // A Redis that stops answering: the request in flight fails once the
    // connection's PING goes unanswered for command_timeout (1 s here).
    const frozen = server.outputMark();
    process.kill(redis.process.pid, 'SIGSTOP');
    let hung;
    try {
      const t0 = Date.now();
      hung = await send(alice, 'frozen', 'c-0');
      assert.ok(Date.now() - t0 < 5000, `the request failed after ${Date.now() - t0} ms`);
      await logged(server, /storage: .* lost: no answer to PING/, frozen);
    } finally {
      process.kill(redis.process.pid, 'SIGCONT');
    }
    assert.equal(hung.ok, false, JSON.stringify(hung));
    assert.equal(hung.error.code, 'INTERNAL', JSON.stringify(hung));
    await logged(server, /storage: connected to .* again/, frozen);
    // It may have been applied after all (it was in Redis's input buffer):
    // the retry with the same clientId is stored at most once.
    const retried = await send(alice, 'frozen', 'c-0');
    assert.equal(retried.ok, true, JSON.stringify(retried));
    const texts = (await answer(alice, 'chat:history', { room: ROOM })).messages.map((m) => m.text);
    assert.deepEqual(texts, ['before', 'frozen']);

    const mark = server.outputMark();
    await redis.stop();
    await logged(server, /redis.*storage: .* lost/, mark);
    const startedAt = Date.now();
    const failed = await send(alice, 'during', 'c-2');
    assert.equal(failed.ok, false, JSON.stringify(failed));
    assert.equal(failed.error.code, 'INTERNAL', JSON.stringify(failed));
    const noHistory = await answer(alice, 'chat:history', { room: ROOM });
    assert.equal(noHistory.ok, false, JSON.stringify(noHistory));
    assert.ok(Date.now() - startedAt < 2000, `failures took ${Date.now() - startedAt} ms`);
    assert.ok(server.isRunning());
    assert.ok((await metric(server, 'switchboard_storage_errors_total')) >= 2);
    assert.equal(await metric(server, 'switchboard_storage_queued'), 0);
    assert.equal((await c.request(server, { path: '/healthz' })).status, 200);
    await member(server, 'bob');

    const back = server.outputMark();
    await redis.start();
    await logged(server, /storage: connected to .* again/, back);
    const ok = await send(alice, 'after', 'c-3');
    assert.equal(ok.ok, true, JSON.stringify(ok));
    // The redis-server keeps no data across the restart (no persistence in
    // tests): ids start again at 1, and the history is what came after.
    const history = await answer(alice, 'chat:history', { room: ROOM });
    assert.deepEqual(history.messages.map((m) => m.text), ['after']);
    await server.stop();
  });

  test('a server starts while Redis is down and serves storage once it is up', { timeout: 90000 }, async () => {
    const redis = await startRedis();
    await redis.stop();
    const server = await startCollabServer({ config: redisStorage(redis) });
    await logged(server, /storage: .* unreachable/, 0);
    const alice = await member(server, 'alice');
    const failed = await send(alice, 'too early', 'e-1');
    assert.equal(failed.ok, false, JSON.stringify(failed));

    const mark = server.outputMark();
    await redis.start();
    await logged(server, /storage: connected to/, mark);
    const res = await send(alice, 'now', 'e-2');
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal(res.id, 1);
    // The outage was reported once, not once per retry.
    assert.equal(server.output().match(/storage: .* unreachable/g).length, 1);
    await server.stop();
  });
}
