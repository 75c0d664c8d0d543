'use strict';
// The relay module: configured events a member sends to a room reach the
// room's other members with the sender stamped by the server; members
// only; a payload limit per event; binary attachments relayed; the sender's
// own copy on request; volatile events dropped for a member that stops
// reading while the others get everything; throttle's patterns in front of
// it; events it is not configured for passed on; the sender's id kept
// across a reload; configuration errors refused at startup.
// Rooms are entered through the rooms module, tokens minted in lib/auth.js.
// Switchboard only: the module and its vocabulary are ours.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');
const { ADMIN_TOKEN, authJwtConfig, connectAs, answer, reload } = require('./lib/auth');
const { checkConfig } = require('./lib/check_config');

const QUIET_MS = 400; // how long "nothing arrives" is watched for
const LATE_MS = 5000; // bound for what must arrive

const EVENTS = [
  { name: 'cursor:move', max_payload: '1KB', volatile: true },
  { name: 'doc:*', max_payload: '4KiB' },
  { name: 'reaction', max_payload: 256, include_sender: true },
];

function relayConfig({ relay = { events: EVENTS }, throttle, chain = ['auth_jwt', 'rooms', 'relay', 'echo'], extra = {} } = {}) {
  const modules = {
    auth_jwt: { config: authJwtConfig() },
    rooms: { config: { rules: [{ pattern: 'doc:*', anonymous: true }] } },
    relay: { config: relay },
    test_rooms: null,
  };
  if (throttle) modules.throttle = { config: throttle };
  return {
    admin: { token: ADMIN_TOKEN },
    modules,
    namespaces: {
      '/': { modules: chain },
      // no authentication: anonymous sockets
      '/custom': { modules: ['rooms', 'relay'] },
    },
    ...extra,
  };
}

let roomSeq = 0;
function freshRoom() {
  roomSeq += 1;
  return `doc:r${roomSeq}`;
}

/** Connects a user (or an anonymous socket when sub is null) and subscribes it to `room`. */
async function member(server, sub, room, options = {}) {
  const socket = sub === null
    ? await c.connectClient(server, { transports: ['websocket'], namespace: '/custom', ...options })
    : await connectAs(server, { sub }, options);
  assert.deepEqual(await answer(socket, 'subscribe', { room }), { ok: true, room });
  return socket;
}

/** Emits `event` with `args` and an ack; resolves with the first ack argument. */
async function send(socket, event, ...args) {
  return (await c.ack(socket, event, args, LATE_MS))[0];
}

function refusal(code, message) {
  return (answerValue) => {
    assert.equal(answerValue.ok, false, JSON.stringify(answerValue));
    assert.equal(answerValue.error.code, code, JSON.stringify(answerValue));
    if (message) assert.match(answerValue.error.message, message);
    return true;
  };
}

/** The next `event` relayed to `socket` for `room`. */
async function received(socket, event, room, timeout = LATE_MS) {
  const [payload] = await socket.inbox.take(event, { filter: (p) => p && p.room === room, timeout });
  return payload;
}

/** Resolves once `socket` has had no `event` for `room` for QUIET_MS (fails if one arrives). */
async function nothing(socket, event, room, what) {
  await assert.rejects(
    socket.inbox.take(event, { filter: (p) => p && p.room === room, timeout: QUIET_MS }),
    /timed out/,
    `${what}: no ${event} for ${room}`,
  );
}

async function metric(server, pattern) {
  const body = (await c.request(server, { path: '/metrics' })).body;
  const m = pattern.exec(body);
  return m ? Number(m[1]) : null;
}

function eventually(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
}

if (IS_SWITCHBOARD) {
  let server;

  before(async () => {
    server = await startServer({ config: relayConfig() });
  });

  test('the other members get the event with the sender stamped; the sender and other rooms do not', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    const carol = await member(server, 'carol', room);
    const dave = await member(server, 'dave', freshRoom());
    const args = [{ x: 10, y: 20.5 }, 'text', 7, [1, { deep: null }], true];
    assert.deepEqual(await send(alice, 'doc:op', room, ...args), { ok: true });
    const expected = { room, from: { userId: 'alice', socketId: alice.id }, args };
    assert.deepEqual(await received(bob, 'doc:op', room), expected);
    assert.deepEqual(await received(carol, 'doc:op', room), expected);
    await Promise.all([nothing(alice, 'doc:op', room, 'the sender'), nothing(dave, 'doc:op', room, 'another room')]);

    // No arguments after the room, and no ack callback: still relayed.
    alice.emit('cursor:move', room);
    assert.deepEqual(await received(bob, 'cursor:move', room), { room, from: { userId: 'alice', socketId: alice.id }, args: [] });
  });

  test('a from in the arguments cannot replace the one the server writes', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    const forged = { from: { userId: 'mallory', socketId: 'forged-socket-id' }, room: 'doc:elsewhere' };
    assert.deepEqual(await send(alice, 'doc:op', room, forged), { ok: true });
    const got = await received(bob, 'doc:op', room);
    assert.deepEqual(got.from, { userId: 'alice', socketId: alice.id });
    assert.deepEqual(got.args, [forged], 'what the client sent stays inside args');
    // A request-style object in place of the room is not a room.
    refusal('INVALID', /needs the room \(a non-empty string\) as its first argument/)(
      await send(alice, 'doc:op', { room, from: { userId: 'mallory' } }),
    );
    refusal('INVALID', /needs the room/)(await send(alice, 'doc:op', ''));
    refusal('INVALID', /needs the room/)(await send(alice, 'doc:op'));
    await nothing(bob, 'doc:op', room, 'after the refused requests');
  });

  test('a socket that is not in the room is refused with NOT_MEMBER and nothing is delivered', async () => {
    const room = freshRoom();
    const bob = await member(server, 'bob', room);
    const mallory = await member(server, 'mallory', freshRoom());
    refusal('NOT_MEMBER', new RegExp(`not a member of room '${room}'`))(await send(mallory, 'doc:op', room, { x: 1 }));
    // Without an ack: the host's error event names the event.
    mallory.emit('cursor:move', room, { x: 2 });
    const [error] = await mallory.inbox.take('error', { timeout: LATE_MS });
    assert.equal(error.code, 'NOT_MEMBER');
    assert.equal(error.event, 'cursor:move');
    // Another user's room is no way in either.
    refusal('NOT_MEMBER')(await send(mallory, 'reaction', 'user:bob', '👍'));
    await nothing(bob, 'doc:op', room, 'a member');
    assert.equal(bob.inbox.count('cursor:move') + bob.inbox.count('reaction'), 0);
  });

  test('anonymous sockets are stamped with userId null and their socket id', async () => {
    const room = freshRoom();
    const anon = await member(server, null, room);
    const other = await member(server, null, room);
    assert.deepEqual(await send(anon, 'doc:op', room, 'hello'), { ok: true });
    assert.deepEqual(await received(other, 'doc:op', room), { room, from: { userId: null, socketId: anon.id }, args: ['hello'] });
  });

  test('payloads over the event\'s max_payload are refused with INVALID and not delivered', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    // cursor:move allows 1KB (1000 bytes): the room and the arguments as JSON text.
    refusal('INVALID', /^cursor:move: payload of \d+ bytes is over the limit of 1000 bytes$/)(
      await send(alice, 'cursor:move', room, { pad: 'x'.repeat(1000) }),
    );
    assert.deepEqual(await send(alice, 'cursor:move', room, { pad: 'x'.repeat(900) }), { ok: true });
    const got = await received(bob, 'cursor:move', room);
    assert.equal(got.args[0].pad.length, 900);
    // doc:* allows 4KiB, a different limit for a different entry.
    assert.deepEqual(await send(alice, 'doc:op', room, 'y'.repeat(4000)), { ok: true });
    await received(bob, 'doc:op', room);
    refusal('INVALID', /over the limit of 4096 bytes/)(await send(alice, 'doc:op', room, 'y'.repeat(4100)));
    await nothing(bob, 'cursor:move', room, 'after the refusals');
    assert.equal(bob.inbox.count('doc:op'), 1);
  });

  test('binary attachments are relayed and count against max_payload', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    const update = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    assert.deepEqual(await send(alice, 'doc:op', room, { seq: 1 }, update), { ok: true });
    const got = await received(bob, 'doc:op', room);
    assert.deepEqual(got.from, { userId: 'alice', socketId: alice.id });
    assert.deepEqual(got.args[0], { seq: 1 });
    assert.ok(Buffer.isBuffer(got.args[1]), 'the attachment arrives as binary');
    assert.ok(got.args[1].equals(update), 'byte for byte');
    // 3000 bytes of JSON text would fit; 3000 bytes plus 1200 of binary do not.
    refusal('INVALID', /over the limit of 4096 bytes/)(await send(alice, 'doc:op', room, { seq: 2 }, update, Buffer.alloc(1200)));
    await nothing(bob, 'doc:op', room, 'after the oversized binary');
  });

  test('include_sender gives the sender its own copy; without it the sender gets none', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    assert.deepEqual(await send(alice, 'reaction', room, '🎉'), { ok: true });
    const expected = { room, from: { userId: 'alice', socketId: alice.id }, args: ['🎉'] };
    assert.deepEqual(await received(bob, 'reaction', room), expected);
    assert.deepEqual(await received(alice, 'reaction', room), expected);
    assert.deepEqual(await send(alice, 'doc:op', room, 1), { ok: true });
    await received(bob, 'doc:op', room);
    await nothing(alice, 'doc:op', room, 'the sender without include_sender');
  });

  test('events relay is not configured for go on down the chain', async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const bob = await member(server, 'bob', room);
    // cursor:move is an exact name: cursor:click matches nothing, and no module handles it.
    refusal('NOT_FOUND', /No handler for event 'cursor:click'/)(await send(alice, 'cursor:click', room, 1));
    // doc:* does not match "document".
    refusal('NOT_FOUND')(await send(alice, 'document', room, 1));
    // echo, after relay in the chain, still gets its own event.
    alice.emit('message', room, 'hi');
    assert.deepEqual(await alice.inbox.take('message-back', { timeout: LATE_MS }), [room, 'hi']);
    await nothing(bob, 'cursor:click', room, 'an unconfigured event');
    assert.equal(bob.inbox.count('document') + bob.inbox.count('message'), 0);
  });

  test('a reload keeps the sender\'s socket id and applies the new limits', { timeout: 30000 }, async () => {
    const reloaded = await startServer({ config: relayConfig() });
    const room = freshRoom();
    const alice = await member(reloaded, 'alice', room);
    const bob = await member(reloaded, 'bob', room);
    const events = [{ name: 'cursor:move', max_payload: '2KB', volatile: true }, { name: 'doc:*', max_payload: 100 }];
    const { status, json } = await reload(reloaded, { modules: { relay: { config: { events } } } });
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(await send(alice, 'cursor:move', room, 'x'.repeat(1500)), { ok: true });
    const got = await received(bob, 'cursor:move', room);
    assert.deepEqual(got.from, { userId: 'alice', socketId: alice.id });
    refusal('INVALID', /over the limit of 100 bytes/)(await send(alice, 'doc:op', room, 'y'.repeat(200)));
    refusal('NOT_FOUND')(await send(alice, 'reaction', room, '👍'));
    assert.equal(alice.disconnects.length + bob.disconnects.length, 0);
    await reloaded.stop();
  });

  test('volatile events skip a member that stops reading; the others get all; ordinary events still queue', { timeout: 120000 }, async () => {
    const COUNT = 400;
    const PAD = 'v'.repeat(48 * 1024); // ~19 MB in all: more than the loopback socket buffers absorb
    const slowServer = await startServer({
      config: relayConfig({
        relay: {
          events: [
            { name: 'cursor:move', max_payload: '64KiB', volatile: true },
            { name: 'doc:op', max_payload: '64KiB' },
          ],
        },
        extra: {
          // a member that stops reading is neither dropped for its queue nor for a missed pong
          limits: { max_connections: 10000, max_send_queue: '256MiB' },
          engineio: { ping_interval: '30s', ping_timeout: '30s' },
        },
      }),
    });
    try {
      const room = freshRoom();
      const alice = await member(slowServer, 'alice', room);
      const bob = await member(slowServer, 'bob', room);
      const carol = await member(slowServer, 'carol', room);
      const before = await metric(slowServer, /^switchboard_volatile_dropped_total (\d+)$/m);
      assert.equal(before, 0);
      const cursorsAt = (s) => s.inbox.all('cursor:move').map(([p]) => p.args[0].n);
      const opsAt = (s) => s.inbox.all('doc:op').map(([p]) => p.args[0].n);

      carol.io.engine.transport.ws._socket.pause(); // stops reading: the kernel buffers fill, then the server's queue
      for (let n = 0; n < COUNT; n++) {
        assert.deepEqual(await send(alice, 'cursor:move', room, { n, pad: PAD }), { ok: true });
      }
      const OPS = 5;
      for (let n = 0; n < OPS; n++) assert.deepEqual(await send(alice, 'doc:op', room, { n, pad: PAD }), { ok: true });

      const everything = Array.from({ length: COUNT }, (_, n) => n);
      await eventually(() => cursorsAt(bob).length === COUNT && opsAt(bob).length === OPS, 60000, 'everything at bob');
      assert.deepEqual(cursorsAt(bob), everything, 'the member that reads gets every volatile event, in order');
      const dropped = await metric(slowServer, /^switchboard_volatile_dropped_total (\d+)$/m);
      assert.ok(dropped > 0, `volatile events were dropped (${dropped})`);

      carol.io.engine.transport.ws._socket.resume();
      // The ordinary events were queued behind whatever was in flight: all arrive, in order.
      await eventually(() => opsAt(carol).length === OPS, 60000, 'the doc:op events at carol');
      assert.deepEqual(opsAt(carol), Array.from({ length: OPS }, (_, n) => n));
      const cursors = cursorsAt(carol);
      assert.ok(cursors.length < COUNT, `the slow member got fewer volatile events (${cursors.length} of ${COUNT})`);
      assert.equal(cursors.length + dropped, COUNT, 'each volatile event was either delivered or counted as dropped');
      assert.deepEqual(cursors, [...cursors].sort((a, b) => a - b), 'what it got is in order');
      for (const s of [alice, bob, carol]) assert.ok(s.connected, 'nobody was disconnected');
    } finally {
      await slowServer.stop();
    }
  });

  test('volatile events reach members that keep up, on either transport', { timeout: 30000 }, async () => {
    const room = freshRoom();
    const alice = await member(server, 'alice', room);
    const polling = await member(server, 'bob', room, { transports: ['polling'] });
    const ws = await member(server, 'carol', room);
    const dropped = () => metric(server, /^switchboard_volatile_dropped_total (\d+)$/m);
    const before = await dropped();
    for (let n = 0; n < 10; n++) {
      assert.deepEqual(await send(alice, 'cursor:move', room, { n }), { ok: true });
      for (const s of [polling, ws]) assert.deepEqual((await received(s, 'cursor:move', room)).args, [{ n }]);
    }
    assert.equal(polling.io.engine.transport.name, 'polling');
    assert.equal(await dropped(), before, 'nothing was dropped for members that keep up');
  });

  test('throttle patterns apply before relay: a limited sender is refused and members stop receiving', { timeout: 30000 }, async () => {
    const limited = await startServer({
      config: relayConfig({
        chain: ['auth_jwt', 'throttle', 'rooms', 'relay'],
        throttle: { default: {}, events: { 'cursor:*': { socket: { rate: 0.2, burst: 3 } } }, disconnect_after_violations: 0 },
      }),
    });
    try {
      const room = freshRoom();
      const alice = await member(limited, 'alice', room);
      const bob = await member(limited, 'bob', room);
      for (let n = 0; n < 3; n++) assert.deepEqual(await send(alice, 'cursor:move', room, { n }), { ok: true });
      for (let n = 3; n < 6; n++) {
        const refused = await send(alice, 'cursor:move', room, { n });
        refusal('RATE_LIMITED', /rate limited, retry after \d+ ms/)(refused);
        assert.ok(refused.error.retryAfterMs > 0);
      }
      for (let n = 0; n < 3; n++) assert.deepEqual((await received(bob, 'cursor:move', room)).args, [{ n }]);
      await nothing(bob, 'cursor:move', room, 'after the limit');
      assert.equal(bob.inbox.count('cursor:move'), 3);
      // Events outside the pattern are not limited.
      for (let n = 0; n < 6; n++) assert.deepEqual(await send(alice, 'doc:op', room, { n }), { ok: true });
      await eventually(() => bob.inbox.count('doc:op') === 6, LATE_MS, 'every doc:op at bob');
    } finally {
      await limited.stop();
    }
  });

  test('configuration errors name the entry and what is wrong', { timeout: 60000 }, async () => {
    const check = (relay) => checkConfig({
      modules: { relay: { config: relay } },
      namespaces: { '/': { modules: ['echo', 'test_rooms', 'relay'] } },
    });
    const cases = [
      [{ events: [{ name: 'cursor:move', max_payload: '1XB' }] }, /events\[0\]\.max_payload: expected a size such as 1KB, 64KiB or 1000 \(bytes\)/],
      [{ events: [{ name: 'a', max_payload: 0 }] }, /events\[0\]\.max_payload: must be between 1 byte and 1GiB/],
      [{ events: [{ name: 'a', max_payload: -5 }] }, /events\[0\]\.max_payload: expected a size/],
      [{ events: [{ name: 'a' }, { name: '**' }] }, /events\[1\]\.name: '\*\*' would relay every event/],
      [{ events: [{ name: '' }] }, /events\[0\]\.name: expected a non-empty string/],
      [{ events: [{ name: 'tab\there' }] }, /events\[0\]\.name: control character at byte 3/],
      [{ events: [{ name: 'disconnect' }] }, /events\[0\]\.name: 'disconnect' is reserved/],
      [{ events: [{ name: 'error' }] }, /events\[0\]\.name: 'error' is reserved/],
      [{ events: [{ name: 'doc:*' }, { name: 'doc:*' }] }, /events\[1\]\.name: 'doc:\*' is listed twice/],
      [{ events: [{ name: 'a', volatile: 'yes' }] }, /events\[0\]\.volatile: expected true or false/],
      [{ events: [{ name: 'a', fast: true }] }, /events\[0\]\.fast: unknown field \(known: name, max_payload, volatile, include_sender\)/],
      [{ events: [{ max_payload: '1KB' }] }, /events\[0\]: name is required/],
      [{ events: ['cursor:move'] }, /events\[0\]: expected a mapping/],
      [{ events: [] }, /events: expected a non-empty list/],
      [{}, /events/],
      [{ events: [{ name: 'a' }], rooms: ['x'] }, /rooms/],
    ];
    for (const [relay, expected] of cases) {
      const { code, stderr } = await check(relay);
      assert.notEqual(code, 0, `refused: ${JSON.stringify(relay)}`);
      assert.match(stderr, /relay/);
      assert.match(stderr, expected);
    }
    const { code, stderr } = await check({ events: EVENTS });
    assert.equal(code, 0, stderr);
  });
}
