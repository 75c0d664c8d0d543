'use strict';
// The chat module against a real server with real storage: round trip,
// idempotent retries (also from a new connection), history paging both
// ways, catching up after a reconnect, membership, validation, many
// concurrent senders seeing one order, and an acknowledged message
// surviving kill -9; each on both storage backends (SQLite, Redis). Switchboard
// only (the reference server has no chat).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD } = require('./lib/server');
const { ADMIN_TOKEN, connectAs, answer, reload } = require('./lib/auth');
const { STORAGE_BACKENDS, startCollabServer, restart } = require('./lib/collab');

const ROOM = 'chat:general';

/** A connected client of `user` subscribed to `room`. */
async function member(server, user, room = ROOM) {
  const socket = await connectAs(server, { sub: user });
  assert.deepEqual(await answer(socket, 'subscribe', { room }), { ok: true, room });
  return socket;
}

function send(socket, text, clientId, room = ROOM) {
  return answer(socket, 'chat:message', clientId === undefined ? { room, text } : { room, text, clientId });
}

async function sent(socket, text, clientId, room = ROOM) {
  const res = await send(socket, text, clientId, room);
  assert.equal(res.ok, true, JSON.stringify(res));
  assert.ok(Number.isInteger(res.id) && res.id > 0, JSON.stringify(res));
  assert.ok(Number.isInteger(res.ts) && Math.abs(res.ts - Date.now()) < 60000, JSON.stringify(res));
  return res;
}

async function history(socket, query) {
  const res = await answer(socket, 'chat:history', { room: ROOM, ...query });
  assert.equal(res.ok, true, JSON.stringify(res));
  return res;
}

async function refused(socket, event, payload, code, pattern) {
  const res = await answer(socket, event, payload);
  assert.equal(res.ok, false, `${event} ${JSON.stringify(payload)} is refused`);
  assert.equal(res.error.code, code, JSON.stringify(res));
  if (pattern) assert.match(res.error.message, pattern);
}

if (IS_SWITCHBOARD) {
  for (const backend of STORAGE_BACKENDS) {
    test(`[${backend}] chat: a message is acked with its id, then broadcast to the room, sender included`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const alice = await member(server, 'alice');
      const aliceTab2 = await member(server, 'alice');
      const bob = await member(server, 'bob');
      const outsider = await connectAs(server, { sub: 'carol' });
      const ack = await sent(alice, 'hello, room', 'c-1');
      const expected = { id: ack.id, room: ROOM, userId: 'alice', text: 'hello, room', ts: ack.ts, clientId: 'c-1' };
      for (const s of [alice, aliceTab2, bob]) assert.deepEqual((await s.inbox.take('chat:message'))[0], expected);
      const plain = await sent(bob, '  spaced text  ');
      assert.ok(plain.id > ack.id);
      assert.deepEqual((await alice.inbox.take('chat:message'))[0],
        { id: plain.id, room: ROOM, userId: 'bob', text: '  spaced text  ', ts: plain.ts, clientId: null });
      assert.equal(outsider.inbox.count('chat:message'), 0, 'a socket outside the room hears nothing');
      await server.stop();
    });

    test(`[${backend}] chat: the same clientId resent (also from a new connection) is stored once and gets the original ack`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const bob = await member(server, 'bob');
      let alice = await member(server, 'alice');
      const first = await sent(alice, 'only once', 'retry-1');
      const again = await sent(alice, 'only once', 'retry-1');
      assert.deepEqual(again, first);
      alice.disconnect();
      alice = await member(server, 'alice');
      assert.deepEqual(await sent(alice, 'only once', 'retry-1'), first);
      // another user may use the same clientId: that is a different message
      const bobs = await sent(bob, 'mine', 'retry-1');
      assert.notEqual(bobs.id, first.id);
      const { messages } = await history(alice, {});
      assert.deepEqual(messages.map((m) => [m.id, m.text]), [[first.id, 'only once'], [bobs.id, 'mine']]);
      // the retries were not broadcast again
      await bob.inbox.take('chat:message', { filter: (m) => m.id === bobs.id });
      assert.equal(bob.inbox.all('chat:message').filter(([m]) => m.id === first.id).length, 1);
      await server.stop();
    });

    test(`[${backend}] chat: history pages backward with before and forward with after, oldest first`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend, chat: { default_page: 4, max_page: 10 } });
      const alice = await member(server, 'alice');
      const ids = [];
      for (let i = 0; i < 12; i += 1) ids.push((await sent(alice, `m${i}`, `h-${i}`)).id);

      const newest = await history(alice, {});
      assert.deepEqual(newest.messages.map((m) => m.id), ids.slice(8), 'no cursor: the newest default_page, oldest first');
      assert.equal(newest.hasMore, true);
      const before = await history(alice, { before: ids[8], limit: 5 });
      assert.deepEqual(before.messages.map((m) => m.id), ids.slice(3, 8));
      assert.equal(before.hasMore, true);
      const first = await history(alice, { before: ids[3], limit: 10 });
      assert.deepEqual(first.messages.map((m) => m.id), ids.slice(0, 3));
      assert.equal(first.hasMore, false);

      const forward = await history(alice, { after: ids[1], limit: 3 });
      assert.deepEqual(forward.messages.map((m) => m.text), ['m2', 'm3', 'm4']);
      assert.equal(forward.hasMore, true);
      const between = await history(alice, { after: ids[1], before: ids[5], limit: 10 });
      assert.deepEqual(between.messages.map((m) => m.id), ids.slice(2, 5));
      const tail = await history(alice, { after: ids[9], limit: 10 });
      assert.deepEqual(tail.messages.map((m) => m.id), ids.slice(10));
      assert.equal(tail.hasMore, false);
      await server.stop();
    });

    test(`[${backend}] chat: a client that reconnects fetches exactly what it missed with after`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const alice = await member(server, 'alice');
      let bob = await member(server, 'bob');
      await sent(alice, 'before the drop', 'r-0');
      const [seen] = await bob.inbox.take('chat:message');
      bob.disconnect();
      const missed = [];
      for (let i = 1; i <= 5; i += 1) missed.push(await sent(alice, `while away ${i}`, `r-${i}`));
      bob = await member(server, 'bob');
      const res = await history(bob, { after: seen.id, limit: 50 });
      assert.deepEqual(res.messages.map((m) => m.id), missed.map((m) => m.id));
      assert.deepEqual(res.messages.map((m) => m.text), [1, 2, 3, 4, 5].map((i) => `while away ${i}`));
      assert.equal(res.hasMore, false);
      await server.stop();
    });

    test(`[${backend}] chat: non-members are refused (messages and history); nothing is stored`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const alice = await member(server, 'alice');
      const mallory = await connectAs(server, { sub: 'mallory' });
      await refused(mallory, 'chat:message', { room: ROOM, text: 'hi' }, 'NOT_MEMBER', /not a member of room 'chat:general'/);
      await refused(mallory, 'chat:history', { room: ROOM }, 'NOT_MEMBER');
      await refused(mallory, 'chat:history', { room: 'chat:other', after: 1 }, 'NOT_MEMBER');
      const { messages } = await history(alice, {});
      assert.deepEqual(messages, []);
      assert.equal(alice.inbox.count('chat:message'), 0);
      await server.stop();
    });

    test(`[${backend}] chat: validation errors name the field`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, chat: { max_length: 10, max_page: 20 } });
      const alice = await member(server, 'alice');
      const cases = [
        ['chat:message', 'not an object', /needs \{room: string, text: string, clientId\?: string\} as its first argument/],
        ['chat:message', { text: 'x' }, /room is missing/],
        ['chat:message', { room: ROOM }, /text is missing/],
        ['chat:message', { room: ROOM, text: 42 }, /text is not a string/],
        ['chat:message', { room: ROOM, text: ' \n\t ' }, /text is empty/],
        ['chat:message', { room: ROOM, text: 'x'.repeat(11) }, /text is 11 characters long, at most 10 are allowed/],
        ['chat:message', { room: ROOM, text: 'x', clientId: 7 }, /clientId is not a string/],
        ['chat:message', { room: ROOM, text: 'x', clientId: '' }, /clientId is empty/],
        ['chat:message', { room: ROOM, text: 'x', clientId: 'c'.repeat(129) }, /clientId is longer than 128 bytes/],
        ['chat:history', { room: ROOM, limit: 21 }, /limit is not an integer from 1 to 20/],
        ['chat:history', { room: ROOM, limit: 0 }, /limit is not an integer from 1 to 20/],
        ['chat:history', { room: ROOM, before: -1 }, /before is not a positive integer message id/],
        ['chat:history', { room: ROOM, after: 'x' }, /after is not a message id \(an integer, 0 for the start\)/],
        ['chat:history', { room: ROOM, after: 5, before: 6 }, /before must be greater than after \+ 1/],
      ];
      for (const [event, payload, pattern] of cases) {
        if (typeof payload === 'string') {
          const res = await answer(alice, event, payload);
          assert.equal(res.error.code, 'INVALID');
          assert.match(res.error.message, pattern);
        } else {
          await refused(alice, event, payload, 'INVALID', pattern);
        }
      }
      // ten characters of four bytes each are within max_length
      await sent(alice, '😀'.repeat(10), 'emoji');
      // without an ack, a failure arrives as an `error` event naming the event
      alice.emit('chat:message', { room: ROOM, text: '' });
      const [error] = await alice.inbox.take('error');
      assert.equal(error.code, 'INVALID');
      assert.equal(error.event, 'chat:message');
      await server.stop();
    });

    test(`[${backend}] chat: a message storage refuses (over storage.max_value_size) is answered INVALID and not broadcast`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, storage: { max_value_size: 300 } });
      const alice = await member(server, 'alice');
      const bob = await member(server, 'bob');
      await refused(alice, 'chat:message', { room: ROOM, text: 'x'.repeat(400), clientId: 'big' }, 'INVALID', /too large to store/);
      const small = await sent(alice, 'fits', 'small');
      const [first] = await bob.inbox.take('chat:message');
      assert.equal(first.id, small.id, 'the refused message was never broadcast');
      assert.deepEqual((await history(bob, {})).messages.map((m) => m.text), ['fits']);
      await server.stop();
    });

    test(`[${backend}] chat: 10 concurrent senders x 20 messages: each acked message stored once, one order for every member`, { timeout: 180000 }, async () => {
      const server = await startCollabServer({ backend });
      const senders = [];
      for (let i = 0; i < 10; i += 1) senders.push(await member(server, `sender-${i}`));
      const listener = await member(server, 'listener');
      const acks = await Promise.all(
        senders.map((s, i) =>
          Promise.all(Array.from({ length: 20 }, (_, k) => sent(s, `from ${i} #${k}`, `s${i}-${k}`))),
        ),
      );
      const acked = acks.flat();
      assert.equal(acked.length, 200);
      assert.equal(new Set(acked.map((a) => a.id)).size, 200, 'every message got its own id');

      // every member, the senders included, received the 200 broadcasts in the same (id) order
      const orders = [];
      for (const s of [...senders, listener]) {
        const got = [];
        for (let n = 0; n < 200; n += 1) got.push((await s.inbox.take('chat:message', { timeout: 60000 }))[0].id);
        orders.push(got);
      }
      for (const order of orders) assert.deepEqual(order, orders[0]);
      assert.deepEqual([...orders[0]].sort((a, b) => a - b), orders[0], 'broadcast order is id order');

      // the stored history is exactly those 200 messages, once each, in that order
      const stored = [];
      let after = 0;
      for (;;) {
        const page = await history(listener, { after, limit: 200 });
        stored.push(...page.messages);
        if (!page.hasMore) break;
        after = page.messages[page.messages.length - 1].id;
      }
      assert.deepEqual(stored.map((m) => m.id), orders[0]);
      assert.deepEqual(new Set(stored.map((m) => m.id)), new Set(acked.map((a) => a.id)));
      // resending every message changes nothing
      await Promise.all(senders.map((s, i) => Promise.all(Array.from({ length: 20 }, (_, k) => sent(s, `from ${i} #${k}`, `s${i}-${k}`)))));
      const again = await history(listener, { limit: 200 });
      assert.equal(again.messages.length, 200);
      assert.equal(again.hasMore, false);
      await server.stop();
    });

    test(`[${backend}] chat: retention keeps the newest retention_count messages of a room`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, chat: { retention_count: 3, trim_interval: '200ms' } });
      const alice = await member(server, 'alice');
      const ids = [];
      for (let i = 0; i < 6; i += 1) ids.push((await sent(alice, `keep? ${i}`, `k-${i}`)).id);
      const deadline = Date.now() + 20000;
      let res;
      do {
        await new Promise((r) => setTimeout(r, 200));
        res = await history(alice, { limit: 10 });
      } while (res.messages.length > 3 && Date.now() < deadline);
      assert.deepEqual(res.messages.map((m) => m.id), ids.slice(3));
      await server.stop();
    });

    test(`[${backend}] chat: retention by age drops messages older than retention_age`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, chat: { retention_age: '1s', trim_interval: '100ms' } });
      const alice = await member(server, 'alice');
      const old = await sent(alice, 'soon gone', 'age-1');
      assert.deepEqual((await history(alice, {})).messages.map((m) => m.id), [old.id], 'young enough at first');
      const deadline = Date.now() + 20000;
      let ids;
      do {
        await new Promise((r) => setTimeout(r, 200));
        ids = (await history(alice, {})).messages.map((m) => m.id);
      } while (ids.length && Date.now() < deadline);
      assert.deepEqual(ids, []);
      const fresh = await sent(alice, 'new', 'age-2');
      assert.deepEqual((await history(alice, { after: 0 })).messages.map((m) => m.id), [fresh.id]);
      await server.stop();
    });

    test(`[${backend}] chat: a reload with new settings keeps the history and applies the new limits`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend, config: { admin: { token: ADMIN_TOKEN } } });
      const alice = await member(server, 'alice');
      const before = await sent(alice, 'before the reload', 'rl-1');
      const res = await reload(server, { modules: { chat: { config: { max_length: 5 } } } });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      await refused(alice, 'chat:message', { room: ROOM, text: 'too long now' }, 'INVALID', /at most 5 are allowed/);
      const after = await sent(alice, 'short', 'rl-2');
      assert.ok(after.id > before.id);
      assert.deepEqual(await sent(alice, 'short', 'rl-2'), after, 'idempotency holds across the reload');
      const { messages } = await history(alice, {});
      assert.deepEqual(messages.map((m) => m.id), [before.id, after.id]);
      await server.stop();
    });

    test(`[${backend}] chat durability: an acked message survives kill -9 and a restart`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend });
      const alice = await member(server, 'alice');
      const ack = await sent(alice, 'written in stone', 'durable-1');
      await server.kill9();
      const again = await restart(server);
      const bob = await member(again, 'bob');
      const { messages } = await history(bob, {});
      assert.deepEqual(messages, [{ id: ack.id, room: ROOM, userId: 'alice', text: 'written in stone', ts: ack.ts, clientId: 'durable-1' }]);
      // the idempotency key survived too
      const alice2 = await member(again, 'alice');
      assert.deepEqual(await sent(alice2, 'written in stone', 'durable-1'), ack);
      await again.stop();
    });
  }
}
