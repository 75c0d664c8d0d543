'use strict';
// The typing module: typing:start/stop reach the room's other sockets and
// never the sender's; several tabs of one user count once; expiry without a
// refresh, stop on unsubscribe, on a leave caused by another module and on
// disconnect; members and authenticated users only; a burst of 100 starts
// costs a bounded number of broadcasts; an indicator survives a reload.
// Rooms are entered through the rooms module, tokens minted in lib/auth.js.
// Switchboard only: the module and its vocabulary are ours.
//
// Two servers: `server` with short times (timeout 600 ms, coalescing 300 ms)
// for expiry and coalescing, `patient` with 20 s for both, where an event that
// arrives within seconds cannot come from expiry and a repeated start is
// always coalesced. Bounds are generous, for a loaded machine.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');
const { ADMIN_TOKEN, authJwtConfig, connectAs, answer, reload } = require('./lib/auth');

const TIMEOUT_MS = 600;
const COALESCE_MS = 300;
const QUIET_MS = 400; // how long "nothing arrives" is watched for
const LATE_MS = 5000; // bound for what must arrive

function typingConfig(typing = {}) {
  return {
    admin: { token: ADMIN_TOKEN },
    modules: {
      auth_jwt: { config: authJwtConfig() },
      rooms: { config: { rules: [{ pattern: 'chat:*' }, { pattern: 'lobby', anonymous: true }] } },
      typing: { config: { timeout_ms: TIMEOUT_MS, coalesce_interval_ms: COALESCE_MS, sweep_interval_ms: 50, ...typing } },
    },
    namespaces: {
      '/': { modules: ['auth_jwt', 'rooms', 'typing', 'test_rooms'] },
      '/custom': { modules: ['rooms', 'typing', 'test_rooms'] },
    },
  };
}

let roomSeq = 0;
function freshRoom() {
  roomSeq += 1;
  return `chat:t${roomSeq}`;
}

/** Connects a user and subscribes it to `room`. */
async function member(server, sub, room, options) {
  const socket = await connectAs(server, { sub }, options);
  assert.deepEqual(await answer(socket, 'subscribe', { room }), { ok: true, room });
  return socket;
}

async function start(socket, room) {
  assert.deepEqual(await answer(socket, 'typing:start', { room }), { ok: true, room });
}

async function stop(socket, room) {
  assert.deepEqual(await answer(socket, 'typing:stop', { room }), { ok: true, room });
}

/** The next `typing` event for `room` with `typing` = `value`, within `timeout`. */
async function indicator(socket, room, value, timeout = LATE_MS) {
  const [event] = await socket.inbox.take('typing', { filter: (e) => e.room === room && e.typing === value, timeout });
  return event;
}

/** Resolves once `socket` has had no `typing` event for `room` for QUIET_MS (fails if one arrives). */
async function noIndicator(socket, room, what) {
  await assert.rejects(
    socket.inbox.take('typing', { filter: (e) => e.room === room, timeout: QUIET_MS }),
    /timed out/,
    `${what}: no typing event for ${room}`,
  );
}

if (IS_SWITCHBOARD) {
  let server;
  let patient;

  before(async () => {
    server = await startServer({ config: typingConfig() });
    patient = await startServer({ config: typingConfig({ timeout_ms: 20000, coalesce_interval_ms: 20000 }) });
  });

  test('typing:start reaches the other members of the room, not the sender nor other rooms', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    const carol = await member(server, 'carol', freshRoom());
    await start(alice, room);
    assert.deepEqual(await indicator(bob, room, true), { room, userId: 'alice', typing: true });
    await Promise.all([noIndicator(alice, room, 'the sender'), noIndicator(carol, room, 'another room')]);
  });

  test('typing:stop tells the room the user stopped; a stop without a start says nothing', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    await start(alice, room);
    await indicator(bob, room, true);
    await stop(alice, room);
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
    await stop(alice, room); // already stopped: acknowledged, no broadcast
    await noIndicator(bob, room, 'a second stop');
    assert.equal(alice.inbox.count('typing'), 0, 'the sender never hears about itself');
  });

  test('an indicator expires without a refresh, and refreshes keep it on', { timeout: 20000 }, async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    await start(alice, room);
    await indicator(bob, room, true);
    // Refreshing at a third of the timeout for three timeouts: no typing:false.
    const refreshUntil = Date.now() + 3 * TIMEOUT_MS;
    while (Date.now() < refreshUntil) {
      await start(alice, room);
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 3)); // the client's typing pace
    }
    assert.equal(bob.inbox.all('typing').filter(([e]) => e.room === room && !e.typing).length, 0, 'still typing');
    // Quiet from now on: typing:false comes after the timeout, not before.
    const quietSince = Date.now();
    await start(alice, room);
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
    const elapsed = Date.now() - quietSince;
    assert.ok(elapsed >= TIMEOUT_MS - 200, `expired after ${elapsed} ms, not before about ${TIMEOUT_MS} ms`);
    assert.equal(alice.inbox.count('typing'), 0);
  });

  test('typing stops when the socket disconnects', async () => {
    const room = freshRoom();
    const alice = await member(patient, 'alice', room);
    const bob = await member(patient, 'bob', room);
    await start(alice, room);
    await indicator(bob, room, true);
    alice.disconnect();
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
  });

  test('typing stops when the socket leaves the room: unsubscribe, or another module', async () => {
    const room = freshRoom();
    const alice = await member(patient, 'alice', room);
    const bob = await member(patient, 'bob', room);
    await start(alice, room);
    await indicator(bob, room, true);
    assert.deepEqual(await answer(alice, 'unsubscribe', { room }), { ok: true, room });
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
    // A room another module joined and left (test_rooms) counts the same.
    const other = freshRoom();
    assert.deepEqual(await c.ack(alice, 'join', [other]), [true]);
    assert.deepEqual(await c.ack(bob, 'join', [other]), [true]);
    await start(alice, other);
    await indicator(bob, other, true);
    assert.deepEqual(await c.ack(alice, 'leave', [other]), [true]);
    assert.deepEqual(await indicator(bob, other, false), { room: other, userId: 'alice', typing: false });
    // Once out, the socket may not type there.
    assert.equal((await answer(alice, 'typing:start', { room })).error.code, 'NOT_MEMBER');
  });

  test('only members may type; payloads are validated; without an ack the refusal is an error event', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const outsider = await connectAs(server, { sub: 'mallory' });
    assert.deepEqual(await answer(outsider, 'typing:start', { room }), {
      ok: false,
      error: { code: 'NOT_MEMBER', message: `not a member of room '${room}'` },
    });
    assert.equal((await answer(outsider, 'typing:stop', { room })).error.code, 'NOT_MEMBER');
    outsider.emit('typing:start', { room });
    assert.deepEqual(await outsider.inbox.take('error'), [
      { code: 'NOT_MEMBER', message: `not a member of room '${room}'`, event: 'typing:start' },
    ]);
    for (const bad of [undefined, room, {}, { room: 7 }, { room: '' }]) {
      const res = await answer(alice, 'typing:start', bad);
      assert.equal(res.error.code, 'INVALID', `typing:start ${JSON.stringify(bad)}`);
      assert.match(res.error.message, /^typing:start needs \{room: string\} as its first argument/);
    }
    await noIndicator(alice, room, 'refused starts');
  });

  test('anonymous sockets may not type', async () => {
    const anonymous = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
    assert.deepEqual(await answer(anonymous, 'subscribe', { room: 'lobby' }), { ok: true, room: 'lobby' });
    assert.deepEqual(await answer(anonymous, 'typing:start', { room: 'lobby' }), {
      ok: false,
      error: { code: 'FORBIDDEN', message: 'typing needs an authenticated user' },
    });
  });

  test('a burst of 100 starts produces a bounded number of broadcasts', { timeout: 20000 }, async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    const began = Date.now();
    const answers = await Promise.all(Array.from({ length: 100 }, () => answer(alice, 'typing:start', { room })));
    const elapsed = Date.now() - began;
    assert.ok(answers.every((a) => a.ok === true), 'every start is acknowledged');
    await stop(alice, room);
    await indicator(bob, room, false); // everything before it has arrived
    const starts = bob.inbox.all('typing').filter(([e]) => e.room === room && e.typing).length;
    const bound = 1 + Math.ceil(elapsed / COALESCE_MS);
    assert.ok(starts >= 1 && starts <= bound, `${starts} typing:true broadcasts for 100 starts in ${elapsed} ms (at most ${bound})`);
  });

  test('several tabs of one user count once; the other tabs hear the typing', async () => {
    const room = freshRoom();
    const tab1 = await member(patient, 'alice', room);
    const tab2 = await member(patient, 'alice', room);
    const bob = await member(patient, 'bob', room);
    await start(tab1, room);
    await indicator(bob, room, true);
    assert.deepEqual(await indicator(tab2, room, true), { room, userId: 'alice', typing: true });
    await start(tab2, room); // the user is already typing: coalesced
    await stop(tab1, room); // still typing in tab2
    await noIndicator(bob, room, 'one tab of two stopped');
    await stop(tab2, room);
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
    assert.deepEqual(await indicator(tab1, room, false), { room, userId: 'alice', typing: false });
    assert.equal(bob.inbox.all('typing').filter(([e]) => e.room === room && e.typing).length, 1);
  });

  test('a reload hands over who is typing: the indicator still expires', { timeout: 30000 }, async () => {
    const own = await startServer({ config: typingConfig({ timeout_ms: 2000, coalesce_interval_ms: 2000 }) });
    const room = freshRoom();
    const alice = await member(own, 'alice', room);
    const bob = await member(own, 'bob', room);
    await start(alice, room);
    await indicator(bob, room, true);
    const res = await reload(own, { modules: { typing: { config: { timeout_ms: 3000, coalesce_interval_ms: 3000 } } } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.match(res.json.summary, /modules reconfigured: typing/);
    // The new instance knows alice types: a start within the interval is
    // coalesced, and the indicator ends by expiry.
    await start(alice, room);
    assert.deepEqual(await indicator(bob, room, false), { room, userId: 'alice', typing: false });
    assert.equal(bob.inbox.all('typing').filter(([e]) => e.typing).length, 1, 'no second typing:true');
  });
}
