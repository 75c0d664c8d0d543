'use strict';
// The presence module: users (not sockets) present in tracked rooms, with a
// grace period before they go offline; presence:list and presence:query;
// payload validation; a reload that keeps everything. Rooms are joined with
// the test_rooms module and auth_jwt's user room: presence follows joins
// whichever module makes them. Tokens are minted with jsonwebtoken.
// Switchboard only.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const { checkConfig } = require('./lib/check_config');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;
const SECRET = crypto.randomBytes(32).toString('hex');
const GRACE_MS = 800;
// "Did not happen" checks wait this long past the grace period.
const QUIET_MS = GRACE_MS + 700;
// An offline event may come late on a loaded machine, never early.
const OFFLINE_TIMEOUT_MS = GRACE_MS + 5000;

function presenceConfig(overrides = {}) {
  return {
    // Heartbeats slow enough that a loaded machine (or a reload, which holds
    // the loop for a moment) does not drop a client: a drop is a departure.
    engineio: { ping_interval: '5s', ping_timeout: '10s' },
    modules: {
      auth_jwt: { config: { keys: [{ algorithm: 'HS256', secret: SECRET }], expose_claims: ['name', 'role'] } },
      presence: {
        config: { rooms: ['chat:*', 'project:*:board'], claims: ['name'], grace_period: `${GRACE_MS}ms`, max_query_ids: 5, ...overrides },
      },
    },
    namespaces: {
      '/': { modules: ['auth_jwt', 'test_rooms', 'presence'] },
      '/side': { modules: ['auth_jwt', 'presence'] }, // presence, no rooms
      '/custom': { modules: ['auth_jwt', 'test_rooms'] }, // no presence
      '/open': { modules: ['test_rooms', 'presence'] }, // no authentication
    },
  };
}

function token(user) {
  const claims = { sub: user, name: user.toUpperCase(), role: 'member', exp: Math.floor(Date.now() / 1000) + 600 };
  return jwt.sign(claims, SECRET, { algorithm: 'HS256', noTimestamp: true });
}

function connect(server, user, namespace = '/') {
  const auth = user ? { token: token(user) } : undefined;
  return c.connectClient(server, { namespace, transports: ['websocket'], auth });
}

async function join(socket, room) {
  assert.deepEqual(await c.ack(socket, 'join', [room]), [true]);
}

async function leave(socket, room) {
  assert.deepEqual(await c.ack(socket, 'leave', [room]), [true]);
}

/** The first argument of the next `event` about `room` (and `userId`, if given). */
async function next(socket, event, room, userId, timeout = c.DEFAULT_TIMEOUT) {
  const [payload] = await socket.inbox.take(event, {
    filter: (p) => p && p.room === room && (userId === undefined || p.userId === userId),
    timeout,
  });
  return payload;
}

/** Every presence event `socket` received about `room`, as [event, payload]. */
function presenceEvents(socket, room) {
  return socket.inbox.items
    .filter((i) => i.event.startsWith('presence:') && i.args[0] && i.args[0].room === room)
    .map((i) => [i.event, i.args[0]]);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function list(socket, room) {
  const [answer] = await c.ack(socket, 'presence:list', [{ room }]);
  return answer;
}

async function query(socket, userIds) {
  const [answer] = await c.ack(socket, 'presence:query', [{ userIds }]);
  return answer;
}

/** Polls `check` until it returns a value; for changes no event announces. */
async function until(what, check, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50); // state poll: nothing is emitted for this change
  }
}

/** Resolves with the query answer for `user` once it reads offline. */
function offlineInQuery(asker, user) {
  return until(`${user} to read offline`, async () => {
    const [u] = (await query(asker, [user])).users;
    return u.online ? null : u;
  });
}

async function closeAndWait(socket) {
  const gone = c.waitFor(socket, 'disconnect');
  socket.close();
  await gone.catch(() => {}); // a client-side close emits 'disconnect' at once
}

let roomCounter = 0;
const room = (prefix = 'chat') => `${prefix}:${process.pid}-${(roomCounter += 1)}`;

// ---- reload ----------------------------------------------------------------------------------

async function reloadCount(server) {
  const res = await c.request(server, { path: '/metrics' });
  return Number(/^switchboard_reloads_total\{result="success"\} (\d+)$/m.exec(res.body)[1]);
}

/** Rewrites the server's configuration file and reloads it with SIGHUP. */
async function reloadWith(server, config) {
  const full = mergeConfig(DEFAULT_CONFIG, config);
  full.modules.test_rooms = { file: path.join(TEST_MODULES, 'test_rooms.so') };
  fs.writeFileSync(server.configPath, toYaml({ ...full, listen: server.config.listen }));
  const before = await reloadCount(server);
  server.process.kill('SIGHUP');
  await until('a successful reload (a signal has no reply to await)', async () => (await reloadCount(server)) > before, 10000);
}

if (IS_SWITCHBOARD) {
  let server;

  before(async () => {
    server = await startServer({ config: presenceConfig() });
  });

  // ---- online and state ------------------------------------------------------------------------

  test('the joiner gets presence:state; the others get presence:online with the configured claims only', async () => {
    const r = room();
    const alice = await connect(server, 'alice');
    await join(alice, r);
    assert.deepEqual(await next(alice, 'presence:state', r), { room: r, users: [{ userId: 'alice', name: 'ALICE' }] });

    const bob = await connect(server, 'bob');
    const online = next(alice, 'presence:online', r, 'bob');
    await join(bob, r);
    assert.deepEqual(await online, { room: r, userId: 'bob', name: 'BOB' }, 'role is not a configured claim');
    assert.deepEqual(await next(bob, 'presence:state', r), {
      room: r,
      users: [
        { userId: 'alice', name: 'ALICE' },
        { userId: 'bob', name: 'BOB' },
      ],
    });
    assert.equal(bob.inbox.count('presence:online'), 0, 'the joiner is not told about itself');
  });

  test('two tabs of one user count once: closing one keeps the user online', { timeout: 20000 }, async () => {
    const r = room();
    const watcher = await connect(server, 'walt');
    await join(watcher, r);
    const tab1 = await connect(server, 'carol');
    const online = next(watcher, 'presence:online', r, 'carol');
    await join(tab1, r);
    await online;

    const tab2 = await connect(server, 'carol');
    await join(tab2, r);
    assert.deepEqual(await next(tab2, 'presence:state', r), {
      room: r,
      users: [
        { userId: 'carol', name: 'CAROL' },
        { userId: 'walt', name: 'WALT' },
      ],
    });
    await closeAndWait(tab1);
    await delay(QUIET_MS); // bounded "did not happen" window
    assert.deepEqual(
      presenceEvents(watcher, r).filter(([, p]) => p.userId === 'carol'),
      [['presence:online', { room: r, userId: 'carol', name: 'CAROL' }]],
      'one online event for two tabs, no offline while a tab is left',
    );
    assert.deepEqual((await list(watcher, r)).users.map((u) => u.userId), ['carol', 'walt']);

    // The last tab closes: offline after the grace period, not before.
    const t0 = Date.now();
    const offline = next(watcher, 'presence:offline', r, 'carol', OFFLINE_TIMEOUT_MS);
    await closeAndWait(tab2);
    const payload = await offline;
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= GRACE_MS - 200, `offline came ${elapsed} ms after the close, before the ${GRACE_MS} ms grace period`);
    assert.deepEqual(Object.keys(payload).sort(), ['lastSeen', 'room', 'userId']);
    assert.ok(payload.lastSeen >= t0 - 1000 && payload.lastSeen <= t0 + elapsed, `lastSeen ${payload.lastSeen} is when the tab closed (${t0})`);
    assert.deepEqual((await list(watcher, r)).users, [{ userId: 'walt', name: 'WALT' }]);
  });

  test('a reconnect within the grace period: no offline event, no second online event', { timeout: 20000 }, async () => {
    const r = room();
    const watcher = await connect(server, 'wendy');
    await join(watcher, r);
    const first = await connect(server, 'dave');
    await join(first, r);
    await next(watcher, 'presence:online', r, 'dave');

    await closeAndWait(first);
    const again = await connect(server, 'dave'); // a new socket id, the same user
    await join(again, r);
    assert.deepEqual(await next(again, 'presence:state', r), {
      room: r,
      users: [
        { userId: 'dave', name: 'DAVE' },
        { userId: 'wendy', name: 'WENDY' },
      ],
    });
    await delay(QUIET_MS); // bounded "did not happen" window
    assert.deepEqual(
      presenceEvents(watcher, r).filter(([, p]) => p.userId === 'dave'),
      [['presence:online', { room: r, userId: 'dave', name: 'DAVE' }]],
    );
    assert.deepEqual((await query(watcher, ['dave'])).users, [{ userId: 'dave', online: true }]);
  });

  test('leaving the room (still connected) also goes offline after the grace period; coming back in time does not', { timeout: 20000 }, async () => {
    const r = `${room('project')}:board`; // a pattern with '*' inside
    const watcher = await connect(server, 'wanda');
    await join(watcher, r);
    const erin = await connect(server, 'erin');
    await join(erin, r);
    await next(watcher, 'presence:online', r, 'erin');

    await leave(erin, r);
    await join(erin, r);
    const t0 = Date.now();
    await leave(erin, r);
    const payload = await next(watcher, 'presence:offline', r, 'erin', OFFLINE_TIMEOUT_MS);
    assert.ok(Date.now() - t0 >= GRACE_MS - 200, 'not before the grace period');
    assert.equal(payload.userId, 'erin');
    assert.equal(presenceEvents(watcher, r).filter(([e, p]) => e === 'presence:online' && p.userId === 'erin').length, 1);
    assert.equal(presenceEvents(watcher, r).filter(([e, p]) => e === 'presence:offline' && p.userId === 'erin').length, 1);
    // Rejoining after the offline is a new arrival.
    const online = next(watcher, 'presence:online', r, 'erin');
    await join(erin, r);
    assert.deepEqual(await online, { room: r, userId: 'erin', name: 'ERIN' });
  });

  test('the user room auth_jwt joins at connect is tracked when it matches a pattern', { timeout: 20000 }, async () => {
    const own = await startServer({ config: presenceConfig({ rooms: ['user:*'] }) });
    const phone = await connect(own, 'frank');
    // The join happened in auth_jwt's on_connect, before presence's turn.
    assert.deepEqual(await next(phone, 'presence:state', 'user:frank'), { room: 'user:frank', users: [{ userId: 'frank', name: 'FRANK' }] });
    const laptop = await connect(own, 'frank');
    assert.deepEqual(await next(laptop, 'presence:state', 'user:frank'), { room: 'user:frank', users: [{ userId: 'frank', name: 'FRANK' }] });
    assert.deepEqual(await list(phone, 'user:frank'), { ok: true, room: 'user:frank', users: [{ userId: 'frank', name: 'FRANK' }] });
    await delay(300); // bounded "did not happen" window
    assert.equal(phone.inbox.count('presence:online'), 0, 'a second device of the same user is not an arrival');
    const metrics = (await c.request(own, { path: '/metrics' })).body;
    assert.match(metrics, /^switchboard_presence_changes_total\{module="presence",change="online"\} 1$/m, 'one arrival counted');
    await own.stop();
  });

  test('untracked rooms produce no presence events', { timeout: 20000 }, async () => {
    const r = room('lobby');
    const similar = [`${room('project')}:wiki`, `${room('chatroom')}`, `x${room('chat')}`]; // near misses of the patterns
    const a = await connect(server, 'gina');
    const b = await connect(server, 'hank');
    for (const name of [r, ...similar]) {
      await join(a, name);
      await join(b, name);
    }
    await leave(b, r);
    await closeAndWait(b);
    await delay(QUIET_MS); // bounded "did not happen" window
    assert.deepEqual(
      a.inbox.items.filter((i) => i.event.startsWith('presence:')),
      [],
    );
    const answer = await list(a, r);
    assert.equal(answer.ok, false);
    assert.equal(answer.error.code, 'INVALID');
    assert.match(answer.error.message, /presence is not tracked in room/);
  });

  test('anonymous sockets are never counted, yet see the room’s presence', { timeout: 20000 }, async () => {
    const r = room();
    const guest = await connect(server, null, '/open');
    await join(guest, r);
    assert.deepEqual(await next(guest, 'presence:state', r), { room: r, users: [] });
    const other = await connect(server, null, '/open');
    await join(other, r);
    assert.deepEqual(await next(other, 'presence:state', r), { room: r, users: [] });
    assert.deepEqual(await list(guest, r), { ok: true, room: r, users: [] });
    await closeAndWait(other);
    await delay(QUIET_MS); // bounded "did not happen" window
    assert.deepEqual(presenceEvents(guest, r), [['presence:state', { room: r, users: [] }]]);
    // A room of the same name in another namespace is another room.
    const main = await connect(server, 'ivan');
    await join(main, r);
    assert.deepEqual(await next(main, 'presence:state', r), { room: r, users: [{ userId: 'ivan', name: 'IVAN' }] });
    assert.deepEqual(await list(guest, r), { ok: true, room: r, users: [] });
  });

  // ---- presence:list and presence:query ---------------------------------------------------------

  test('presence:list answers members with the users present and refuses others with NOT_MEMBER', async () => {
    const r = room();
    const a = await connect(server, 'judy');
    const b = await connect(server, 'karl');
    await join(a, r);
    await join(b, r);
    assert.deepEqual(await list(a, r), {
      ok: true,
      room: r,
      users: [
        { userId: 'judy', name: 'JUDY' },
        { userId: 'karl', name: 'KARL' },
      ],
    });
    const outsider = await connect(server, 'lena');
    const refused = await list(outsider, r);
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'NOT_MEMBER');
    assert.match(refused.error.message, /not a member of room/);
    // Never joined or already left: the same answer.
    await join(outsider, r);
    assert.equal((await list(outsider, r)).ok, true);
    await leave(outsider, r);
    assert.equal((await list(outsider, r)).error.code, 'NOT_MEMBER');
  });

  test('presence:query: online anywhere presence runs, lastSeen for the others', { timeout: 20000 }, async () => {
    const asker = await connect(server, 'mia');
    await connect(server, 'nora', '/side'); // connected, in no room: online
    await connect(server, 'omar', '/custom'); // connected where presence does not run: not online
    const gone = await connect(server, 'pete', '/side');
    const t0 = Date.now();
    await closeAndWait(gone);
    // Within the grace period pete still counts as online, as in his rooms
    // (an answer back before the grace period could end proves it).
    const early = await query(asker, ['pete']);
    if (Date.now() - t0 < GRACE_MS) assert.deepEqual(early.users, [{ userId: 'pete', online: true }]);
    const pete = await offlineInQuery(asker, 'pete');
    assert.ok(Date.now() - t0 >= GRACE_MS - 200, 'offline for queries after the grace period, not before');
    assert.ok(pete.lastSeen >= t0 - 1000 && pete.lastSeen <= Date.now(), `lastSeen ${pete.lastSeen} is when pete left (${t0})`);
    const answer = await query(asker, ['nora', 'omar', 'pete', 'nobody', 'nora']); // asked twice, answered once
    assert.equal(answer.ok, true);
    assert.deepEqual(answer.users, [
      { userId: 'nora', online: true },
      { userId: 'omar', online: false, lastSeen: null },
      { userId: 'pete', online: false, lastSeen: pete.lastSeen },
      { userId: 'nobody', online: false, lastSeen: null },
    ]);
    assert.deepEqual((await query(asker, ['mia'])).users, [{ userId: 'mia', online: true }]);
    // Connected again: online, no lastSeen.
    await connect(server, 'pete');
    assert.deepEqual((await query(asker, ['pete'])).users, [{ userId: 'pete', online: true }]);
    assert.deepEqual(await query(asker, []), { ok: true, users: [] });
  });

  test('lastSeen memory is bounded: the least recently seen users are forgotten first', { timeout: 20000 }, async () => {
    const small = await startServer({ config: presenceConfig({ max_last_seen: 2, grace_period: 0 }) });
    const asker = await connect(small, 'quinn');
    for (const user of ['u1', 'u2', 'u3']) {
      await closeAndWait(await connect(small, user));
      await offlineInQuery(asker, user); // one after the other, so that the order is known
    }
    const answer = await query(asker, ['u1', 'u2', 'u3']);
    assert.deepEqual(answer.users[0], { userId: 'u1', online: false, lastSeen: null }, 'u1, seen first, was forgotten');
    assert.equal(typeof answer.users[1].lastSeen, 'number');
    assert.equal(typeof answer.users[2].lastSeen, 'number');
    const metrics = (await c.request(small, { path: '/metrics' })).body;
    assert.match(metrics, /^switchboard_presence_last_seen_evictions_total\{module="presence"\} 1$/m);
    await small.stop();
  });

  // ---- validation -------------------------------------------------------------------------------

  test('malformed requests are refused with INVALID saying what is wrong; the socket carries on', async () => {
    const r = room();
    const s = await connect(server, 'rita');
    await join(s, r);
    const cases = [
      ['presence:list', [], /expected one argument \{room\}/],
      ['presence:list', ['chat:x'], /expected one argument \{room\}/],
      ['presence:list', [{ room: r }, 2], /expected one argument \{room\}/],
      ['presence:list', [{}], /missing 'room'/],
      ['presence:list', [{ room: 5 }], /room must be a string/],
      ['presence:list', [{ room: '' }], /room must not be empty/],
      ['presence:list', [{ room: `chat:${'x'.repeat(300)}` }], /room is longer than 256 bytes/],
      ['presence:list', [{ room: r, extra: 1 }], /unknown field 'extra'/],
      ['presence:query', [{ userIds: 'alice' }], /userIds must be an array/],
      ['presence:query', [{ userIds: ['a', 7] }], /userIds\[1\] must be a string/],
      ['presence:query', [{ userIds: ['a', ''] }], /userIds\[1\] must not be empty/],
      ['presence:query', [{ userIds: ['1', '2', '3', '4', '5', '6'] }], /at most 5 userIds per query \(got 6\)/],
      ['presence:query', [{ users: ['a'] }], /unknown field 'users'/],
    ];
    for (const [event, args, message] of cases) {
      const [answer] = await c.ack(s, event, args);
      assert.equal(answer.ok, false, `${event} ${JSON.stringify(args)}`);
      assert.equal(answer.error.code, 'INVALID', `${event} ${JSON.stringify(args)}`);
      assert.match(answer.error.message, message);
      assert.ok(answer.error.message.startsWith(`${event}: `), answer.error.message);
    }
    // Without an ack callback there is nothing to answer with: an error event.
    const error = s.inbox.take('error');
    s.emit('presence:list', { room: r });
    assert.deepEqual((await error)[0], {
      code: 'INVALID',
      message: 'presence:list needs an ack callback: the answer is the ack',
      event: 'presence:list',
    });
    assert.deepEqual(await list(s, r), { ok: true, room: r, users: [{ userId: 'rita', name: 'RITA' }] });
    assert.deepEqual(s.disconnects, []);
  });

  test('configuration errors are reported with the key', async () => {
    const checked = (settings) => ({
      modules: { presence: { config: settings } },
      namespaces: { '/': { modules: ['test_rooms', 'presence'] } },
    });
    const cases = [
      [{ rooms: ['chat:*'], claims: ['userId'] }, /claims: 'userId' is a field of the presence payloads/],
      [{ rooms: ['chat:*'], grace_period: 'soon' }, /grace_period: expected a duration/],
      [{ rooms: ['chat:*'], grace_period: '2h' }, /grace_period: at most 1h/],
      [{ rooms: ['chat:*', ''] }, /rooms\[1\]: must not be empty/],
      [{ rooms: ['chat:*'], max_query_ids: 0 }, /max_query_ids: expected an integer from 1 to 10000/],
      [{ claims: ['name'] }, /modules\.presence\.config: missing required key 'rooms'/],
      [{ rooms: ['chat:*'], grace: 5 }, /modules\.presence\.config\.grace: unknown key for module 'presence'/],
    ];
    for (const [settings, message] of cases) {
      const { code, stderr } = await checkConfig(checked(settings));
      assert.notEqual(code, 0, JSON.stringify(settings));
      assert.match(stderr, message);
    }
    assert.equal((await checkConfig(checked({ rooms: ['chat:*'], grace_period: 1500, claims: ['role'] }))).code, 0);
  });

  // ---- reload -----------------------------------------------------------------------------------

  test('presence survives a reload: nobody goes online or offline because of it; a grace period under way still ends', { timeout: 30000 }, async () => {
    const own = await startServer({ config: presenceConfig() });
    const r = room();
    const watcher = await connect(own, 'sara');
    await join(watcher, r);
    const tab1 = await connect(own, 'tom');
    const tab2 = await connect(own, 'tom');
    await join(tab1, r);
    await join(tab2, r);
    const leaver = await connect(own, 'uma');
    await join(leaver, r);
    await next(watcher, 'presence:online', r, 'uma');
    await closeAndWait(await connect(own, 'vic', '/side'));
    const vicBefore = await offlineInQuery(watcher, 'vic'); // a lastSeen to carry over

    // uma leaves just before the reload: her grace period is under way across it.
    const t0 = Date.now();
    await leave(leaver, r);
    // A new configuration (another claim) replaces the module instance.
    await reloadWith(own, presenceConfig({ claims: ['name', 'role'] }));
    await until('the reload to be logged', () => /reload complete \(SIGHUP\): modules reconfigured: presence;/.test(own.output()));
    assert.deepEqual([watcher, tab1, tab2, leaver].map((s) => s.disconnects), [[], [], [], []], 'nobody was dropped');

    assert.deepEqual(await list(watcher, r), {
      ok: true,
      room: r,
      users: [
        { userId: 'sara', name: 'SARA' },
        { userId: 'tom', name: 'TOM' },
        { userId: 'uma', name: 'UMA' },
      ],
    });
    const offline = await next(watcher, 'presence:offline', r, 'uma', OFFLINE_TIMEOUT_MS);
    assert.ok(offline.lastSeen >= t0 - 1000 && offline.lastSeen <= Date.now());
    assert.deepEqual((await query(watcher, ['tom', 'uma', 'vic'])).users, [
      { userId: 'tom', online: true },
      { userId: 'uma', online: true }, // still connected, just not in the room
      vicBefore,
    ]);
    // Tom's tabs are still counted: closing one keeps him, closing both ends it.
    await closeAndWait(tab1);
    await delay(QUIET_MS); // bounded "did not happen" window
    assert.equal(presenceEvents(watcher, r).filter(([e, p]) => e === 'presence:offline' && p.userId === 'tom').length, 0);
    await closeAndWait(tab2);
    await next(watcher, 'presence:offline', r, 'tom', OFFLINE_TIMEOUT_MS);
    // Arrivals after the reload carry the new claims; nobody was announced twice.
    const xena = await connect(own, 'xena');
    const online = next(watcher, 'presence:online', r, 'xena');
    await join(xena, r);
    assert.deepEqual(await online, { room: r, userId: 'xena', name: 'XENA', role: 'member' });
    assert.deepEqual(
      presenceEvents(watcher, r).filter(([e]) => e === 'presence:online').map(([, p]) => p.userId),
      ['tom', 'uma', 'xena'],
    );
    assert.deepEqual(watcher.disconnects, []);
    assert.match((await c.request(own, { path: '/metrics' })).body, /^switchboard_module_unload_failures_total 0$/m);
    await own.stop();
  });

  test('a reload that adds presence to a namespace tracks its sockets from their first event reaching it', { timeout: 30000 }, async () => {
    const without = presenceConfig();
    without.namespaces['/'] = { modules: ['auth_jwt', 'test_rooms'] };
    const own = await startServer({ config: without });
    const r = room();
    const yara = await connect(own, 'yara');
    const zack = await connect(own, 'zack');
    await join(yara, r);
    await join(zack, r);
    await reloadWith(own, presenceConfig());
    await until('the reload to be logged', () => /reload complete \(SIGHUP\)/.test(own.output()));

    // yara's request adopts her: she gets the state of her room, and zack,
    // not yet known, is not listed.
    assert.deepEqual(await list(yara, r), { ok: true, room: r, users: [{ userId: 'yara', name: 'YARA' }] });
    assert.deepEqual(await next(yara, 'presence:state', r), { room: r, users: [{ userId: 'yara', name: 'YARA' }] });
    const online = next(yara, 'presence:online', r, 'zack');
    assert.deepEqual((await query(zack, ['yara', 'zack'])).users, [
      { userId: 'yara', online: true },
      { userId: 'zack', online: true },
    ]);
    assert.deepEqual(await online, { room: r, userId: 'zack', name: 'ZACK' });
    await own.stop();
  });
}
