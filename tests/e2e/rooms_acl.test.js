'use strict';
// The rooms module: subscribe/unsubscribe under access rules bound to the
// socket's JWT claims (placeholders, list claims, roles, open and closed
// prefixes, anonymous rooms), attempts to spoof a placeholder through the
// room name, payload validation, the per-socket limit, rooms the server put
// a socket in, the `error` event without an ack, configuration errors and a
// reload that keeps subscriptions. Tokens are minted here (lib/auth.js).
// Switchboard only: the module and its vocabulary are ours.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const c = require('./lib/client');
const { ADMIN_TOKEN, authJwtConfig, connectAs, answer, reload } = require('./lib/auth');

const LIMIT = 4;
const RULES = [
  { pattern: 'organization:{organizationId}' },
  { pattern: 'user:{sub}' },
  { pattern: 'team:{teams}:chat' },
  { pattern: 'project:*', roles: ['admin', 'project-lead'] },
  { pattern: 'public:internal:*', allow: false },
  { pattern: 'public:*' },
  { pattern: 'lobby', anonymous: true },
];

function roomsConfig(rooms = {}) {
  return {
    admin: { token: ADMIN_TOKEN },
    modules: {
      auth_jwt: { config: authJwtConfig() },
      rooms: { config: { rules: RULES, max_rooms_per_socket: LIMIT, ...rooms } },
    },
    namespaces: {
      '/': { modules: ['auth_jwt', 'rooms', 'test_rooms'] },
      // no authentication: every socket is anonymous
      '/custom': { modules: ['rooms', 'test_rooms'] },
    },
  };
}

const alice = { sub: 'alice', organizationId: 'org-1', role: 'member', teams: ['red', 'blue'] };

async function ok(socket, event, room) {
  assert.deepEqual(await answer(socket, event, { room }), { ok: true, room }, `${event} ${room}`);
}

/** The refusal of `event` {room}: its code, and its message matched against `message`. */
async function refused(socket, event, payload, code, message) {
  const res = await answer(socket, event, payload);
  assert.equal(res.ok, false, `${event} ${JSON.stringify(payload)} is refused`);
  assert.deepEqual(Object.keys(res.error).sort(), ['code', 'message']);
  assert.equal(res.error.code, code, `${event} ${JSON.stringify(payload)}: ${res.error.message}`);
  if (message) assert.match(res.error.message, message);
}

const forbidden = (socket, room, message) => refused(socket, 'subscribe', { room }, 'FORBIDDEN', message);
const invalid = (socket, payload, message) => refused(socket, 'subscribe', payload, 'INVALID', message);

async function roomsOf(socket) {
  return (await c.ack(socket, 'rooms'))[0];
}

/** Runs the binary with -t on the configuration `yaml` (text); resolves {code, stderr}. */
function checkConfig(yaml, files = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rooms-'));
  const file = path.join(dir, 'switchboard.yaml');
  let text = yaml;
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), content);
    text = text.replaceAll(`{dir}/${name}`, path.join(dir, name));
  }
  fs.writeFileSync(file, text);
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.SWITCHBOARD_BIN, ['-t', '-c', file, '--modules-path', process.env.SWITCHBOARD_MODULES], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d) => (output += d));
    child.stdout.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard -t did not exit\n${output}`));
    }, 10000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr: output });
    });
  });
}

/** checkConfig on a configuration whose rooms rules are `rules`. */
function checkRules(rules) {
  const config = mergeConfig(DEFAULT_CONFIG, {
    listen: [{ address: '127.0.0.1', port: 1 }],
    modules: { test_rooms: null, rooms: { config: { rules } } },
    namespaces: { '/': { modules: ['rooms'] }, '/custom': null },
  });
  return checkConfig(toYaml(config));
}

if (IS_SWITCHBOARD) {
  let server;

  before(async () => {
    server = await startServer({ config: roomsConfig() });
  });

  test('placeholders: a socket enters the rooms of its own claims only', async () => {
    const socket = await connectAs(server, alice);
    await ok(socket, 'subscribe', 'organization:org-1');
    await forbidden(socket, 'organization:org-2', /^no access rule allows room 'organization:org-2'$/);
    await forbidden(socket, 'user:bob', /^no access rule allows room 'user:bob'$/);
    // A list claim matches any of its elements, in the segment it stands for.
    await ok(socket, 'subscribe', 'team:red:chat');
    await ok(socket, 'subscribe', 'team:blue:chat');
    await forbidden(socket, 'team:green:chat');
    await forbidden(socket, 'team:red');
    // An integer claim is compared in decimal.
    const numbered = await connectAs(server, { sub: 'nina', organizationId: 42 });
    await ok(numbered, 'subscribe', 'organization:42');
    await forbidden(numbered, 'organization:43');
    assert.deepEqual(await roomsOf(socket), ['organization:org-1', 'team:blue:chat', 'team:red:chat', 'user:alice']);
  });

  test('a subscription delivers the room\'s broadcasts', async () => {
    const listener = await connectAs(server, { sub: 'lena', organizationId: 'org-7' });
    const sender = await connectAs(server, { sub: 'sam', organizationId: 'org-7' });
    await ok(listener, 'subscribe', 'organization:org-7');
    const got = listener.inbox.take('news');
    assert.deepEqual(await c.ack(sender, 'broadcast', [{ rooms: ['organization:org-7'], event: 'news', data: 'hello' }]), [true]);
    assert.deepEqual(await got, ['hello']);
  });

  test('a role rule admits the listed roles, from a string or a list claim, and refuses others', async () => {
    const member = await connectAs(server, { sub: 'mia', role: 'member' });
    const admin = await connectAs(server, { sub: 'ada', role: 'admin' });
    const lead = await connectAs(server, { sub: 'leo', role: ['member', 'project-lead'] });
    const roleless = await connectAs(server, { sub: 'rob' });
    await forbidden(member, 'project:apollo', /^room 'project:apollo' needs one of the roles: admin, project-lead$/);
    await forbidden(roleless, 'project:apollo', /needs one of the roles/);
    await ok(admin, 'subscribe', 'project:apollo');
    await ok(admin, 'subscribe', 'project:apollo:docs'); // '*' covers one or more segments
    await ok(lead, 'subscribe', 'project:gemini');
    await forbidden(admin, 'project', /^no access rule allows room 'project'$/); // '*' needs at least one segment
  });

  test('open, closed and anonymous rules; the first matching rule decides', async () => {
    const socket = await connectAs(server, { sub: 'pat' });
    await ok(socket, 'subscribe', 'public:lobby');
    await ok(socket, 'subscribe', 'public:a:b');
    // public:internal:* comes first and closes that part of public:*
    await forbidden(socket, 'public:internal:ops', /^room 'public:internal:ops' is not open to subscriptions$/);
    await forbidden(socket, 'private:x', /^no access rule allows room 'private:x'$/);
    // A socket without identity: only rules marked anonymous admit it.
    const anonymous = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
    await ok(anonymous, 'subscribe', 'lobby');
    await forbidden(anonymous, 'public:lobby', /^room 'public:lobby' needs an authenticated user$/);
    await forbidden(anonymous, 'organization:org-1', /^no access rule allows room 'organization:org-1'$/);
  });

  test('placeholders cannot be spoofed through the room name or through claim values', async () => {
    const socket = await connectAs(server, alice);
    // The pattern itself, or pattern syntax, as a room name: refused as invalid.
    await invalid(socket, { room: 'organization:{organizationId}' }, /contains '\{' at byte 13/);
    await invalid(socket, { room: 'organization:*' }, /contains '\*' at byte 13/);
    await invalid(socket, { room: 'user:{sub}' }, /contains '\{'/);
    await invalid(socket, { room: 'organization:org-1\u0000' }, /contains byte 0x00 at byte 18/);
    await invalid(socket, { room: 'organization:org-1 ' }, /contains ' '/);
    // More or other segments than the pattern's, other case: no rule matches.
    await forbidden(socket, 'organization:org-1:admin');
    await forbidden(socket, 'Organization:org-1');
    await forbidden(socket, 'organization:ORG-1');
    await forbidden(socket, 'team:red:blue:chat');
    // Claim values holding pattern or separator syntax never match anything.
    const colon = await connectAs(server, { sub: 'eve', organizationId: 'org-1:admin', teams: ['red:chat'] });
    await forbidden(colon, 'organization:org-1:admin');
    await forbidden(colon, 'organization:org-1');
    await forbidden(colon, 'organization:admin');
    await forbidden(colon, 'team:red:chat:chat');
    await forbidden(colon, 'team:red:chat');
    const star = await connectAs(server, { sub: 'eve2', organizationId: '*', teams: '*' });
    await forbidden(star, 'organization:org-1');
    await forbidden(star, 'team:red:chat');
    await invalid(star, { room: 'organization:*' });
    const brace = await connectAs(server, { sub: 'eve3', organizationId: '{organizationId}' });
    await invalid(brace, { room: 'organization:{organizationId}' });
    await forbidden(brace, 'organization:org-1');
    // A claim of another type (object, boolean) matches nothing.
    const odd = await connectAs(server, { sub: 'eve4', organizationId: { id: 'org-1' }, teams: true });
    await forbidden(odd, 'organization:org-1');
    await forbidden(odd, 'team:true:chat');
    // The user id comes from the token, not from the payload.
    await refused(socket, 'subscribe', { room: 'user:bob', sub: 'bob', organizationId: 'org-2' }, 'FORBIDDEN');
  });

  test('payloads are validated and the error names what is wrong', async () => {
    const socket = await connectAs(server, alice);
    const usage = /^subscribe needs \{room: string\} as its first argument/;
    await refused(socket, 'subscribe', undefined, 'INVALID', usage);
    await invalid(socket, 'public:lobby', usage);
    await invalid(socket, ['public:lobby'], usage);
    await invalid(socket, {}, /: room is missing$/);
    await invalid(socket, { room: 5 }, /: room is not a string$/);
    await invalid(socket, { room: null }, /: room is not a string$/);
    await invalid(socket, { room: '' }, /^room name is empty$/);
    await invalid(socket, { room: 'public::x' }, /^room name has an empty segment at byte 7$/);
    await invalid(socket, { room: 'public:' }, /^room name has an empty segment at byte 7$/);
    await invalid(socket, { room: ':public' }, /^room name has an empty segment at byte 0$/);
    await invalid(socket, { room: `public:${'x'.repeat(122)}` }, /^room name is 129 bytes long, at most 128 are allowed$/);
    await invalid(socket, { room: 'public:é' }, /contains byte 0xc3 at byte 7/);
    await refused(socket, 'unsubscribe', { room: 'a b' }, 'INVALID', /contains ' ' at byte 1/);
    await ok(socket, 'subscribe', `public:${'x'.repeat(121)}`); // 128 bytes: the limit itself is fine
  });

  test('a socket subscribes to at most max_rooms_per_socket rooms; repeats and server rooms do not count', async () => {
    const socket = await connectAs(server, { sub: 'lim' });
    for (let i = 1; i <= LIMIT; i += 1) await ok(socket, 'subscribe', `public:r${i}`);
    await refused(
      socket,
      'subscribe',
      { room: 'public:r5' },
      'RATE_LIMITED',
      new RegExp(`^room limit reached: a socket may subscribe to at most ${LIMIT} rooms; unsubscribe from one first$`),
    );
    await ok(socket, 'subscribe', 'public:r1'); // already in: answered again, not counted
    await ok(socket, 'subscribe', 'user:lim'); // put there by auth_jwt: allowed, not counted
    await ok(socket, 'unsubscribe', 'public:r1');
    await ok(socket, 'subscribe', 'public:r5');
    // Each socket has its own count.
    const other = await connectAs(server, { sub: 'lim' });
    await ok(other, 'subscribe', 'public:r6');
  });

  test('unsubscribe leaves a subscribed room; other rooms answer NOT_MEMBER or FORBIDDEN', async () => {
    const socket = await connectAs(server, alice);
    const sender = await connectAs(server, { sub: 'sam' });
    await ok(socket, 'subscribe', 'public:news');
    await ok(socket, 'unsubscribe', 'public:news');
    assert.deepEqual(await roomsOf(socket), ['user:alice']);
    await refused(socket, 'unsubscribe', { room: 'public:news' }, 'NOT_MEMBER', /^not subscribed to room 'public:news'$/);
    await refused(socket, 'unsubscribe', { room: 'public:never' }, 'NOT_MEMBER');
    // A room another module put the socket in stays: auth_jwt's user room, test_rooms' join.
    await refused(socket, 'unsubscribe', { room: 'user:alice' }, 'FORBIDDEN',
      /^room 'user:alice' was joined by the server, not by subscribe: it cannot be unsubscribed$/);
    assert.deepEqual(await c.ack(socket, 'join', ['public:joined-by-server']), [true]);
    await ok(socket, 'subscribe', 'public:joined-by-server'); // allowed, already a member
    await refused(socket, 'unsubscribe', { room: 'public:joined-by-server' }, 'FORBIDDEN');
    // A subscribed room left through another module is no longer a subscription.
    await ok(socket, 'subscribe', 'public:left-elsewhere');
    assert.deepEqual(await c.ack(socket, 'leave', ['public:left-elsewhere']), [true]);
    await refused(socket, 'unsubscribe', { room: 'public:left-elsewhere' }, 'NOT_MEMBER');
    // After unsubscribing, the room's broadcasts stop: the sentinel to the
    // user's room comes after the room broadcast on the same ordered stream.
    await ok(socket, 'subscribe', 'public:quiet');
    await ok(socket, 'unsubscribe', 'public:quiet');
    await c.ack(sender, 'broadcast', [{ rooms: ['public:quiet'], event: 'quiet', data: 1 }]);
    await c.ack(sender, 'broadcast', [{ rooms: ['user:alice'], event: 'sentinel', data: 1 }]);
    await socket.inbox.take('sentinel');
    assert.equal(socket.inbox.count('quiet'), 0);
  });

  test('without an ack callback, success is silent and a refusal is an error event naming the event', async () => {
    const socket = await connectAs(server, alice);
    socket.emit('subscribe', { room: 'organization:org-2' });
    assert.deepEqual(await socket.inbox.take('error'), [
      { code: 'FORBIDDEN', message: "no access rule allows room 'organization:org-2'", event: 'subscribe' },
    ]);
    socket.emit('subscribe', { room: 'bad room' });
    const [invalidError] = await socket.inbox.take('error');
    assert.equal(invalidError.code, 'INVALID');
    assert.equal(invalidError.event, 'subscribe');
    socket.emit('unsubscribe', { room: 'public:nope' });
    const [notMember] = await socket.inbox.take('error');
    assert.deepEqual([notMember.code, notMember.event], ['NOT_MEMBER', 'unsubscribe']);
    socket.emit('subscribe', { room: 'organization:org-1' });
    assert.deepEqual(await roomsOf(socket), ['organization:org-1', 'user:alice']);
    assert.equal(socket.inbox.count('error'), 3, 'the successful subscribe sent no error');
  });

  test('a reload keeps subscriptions; new rules and limits apply to the next subscribe', { timeout: 30000 }, async () => {
    const own = await startServer({ config: roomsConfig() });
    const socket = await connectAs(own, alice);
    await ok(socket, 'subscribe', 'public:kept');
    await ok(socket, 'subscribe', 'public:dropped-later');
    await ok(socket, 'subscribe', 'organization:org-1');
    const rules = [{ pattern: 'organization:{organizationId}' }, { pattern: 'team:{teams}:chat' }];
    const res = await reload(own, { modules: { rooms: { config: { rules, max_rooms_per_socket: 2 } } } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.match(res.json.summary, /modules reconfigured: rooms/);
    // The subscriptions made before are still subscriptions...
    await ok(socket, 'unsubscribe', 'public:dropped-later');
    assert.deepEqual(await roomsOf(socket), ['organization:org-1', 'public:kept', 'user:alice']);
    // ...the new rules refuse public:*, and the new limit counts the two left.
    await forbidden(socket, 'public:new');
    await refused(socket, 'subscribe', { room: 'team:red:chat' }, 'RATE_LIMITED', /at most 2 rooms/);
    await ok(socket, 'unsubscribe', 'public:kept');
    await ok(socket, 'subscribe', 'team:red:chat');
    assert.deepEqual(socket.disconnects, []);
  });

  test('configuration errors name the rule and what is wrong', { timeout: 30000 }, async () => {
    const cases = [
      [[{ pattern: 'a:*:b' }], /rules\[0\]\.pattern: '\*' may only be the last segment/],
      [[{ pattern: 'public:*' }, { pattern: 'org:{organizationId' }], /rules\[1\]\.pattern: '\{' at byte 4 is never closed/],
      [[{ pattern: 'org:{id}x' }], /rules\[0\]\.pattern: a \{claim\} must be a whole segment/],
      [[{ pattern: 'org:' }], /rules\[0\]\.pattern: ends with ':'/],
      [[{ pattern: 'or g' }], /rules\[0\]\.pattern: segment 'or g' at byte 0 is not a room-name segment/],
      [[{ pattern: 'x', roles: [] }], /rules\[0\]\.roles: expected a role or a non-empty list of roles/],
      [[{ pattern: 'x', allow: false, roles: ['admin'] }], /rules\[0\]: a rule with allow: false takes no roles/],
      [[{ pattern: 'x', public: true }], /rules\[0\]\.public: unknown field \(known: pattern, roles, allow, anonymous\)/],
      [[{ roles: ['admin'] }], /rules\[0\]: pattern is required/],
      [['public:*'], /rules\[0\]: expected a mapping/],
    ];
    for (const [rules, expected] of cases) {
      const { code, stderr } = await checkRules(rules);
      assert.notEqual(code, 0, `refused: ${JSON.stringify(rules)}`);
      assert.match(stderr, expected);
    }
    const { code, stderr } = await checkRules(RULES);
    assert.equal(code, 0, stderr);
  });

  test('conf/examples/collaboration.yaml passes -t once its key file exists', { timeout: 30000 }, async () => {
    const example = fs.readFileSync(path.join(__dirname, '..', '..', 'conf', 'examples', 'collaboration.yaml'), 'utf8');
    const keyPath = '/etc/switchboard/jwt/app.secret';
    assert.ok(example.includes(keyPath), 'the example reads its secret from a file');
    const yaml = example.replaceAll(keyPath, '{dir}/app.secret');
    const { code, stderr } = await checkConfig(yaml, { 'app.secret': `${'k'.repeat(64)}\n` });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /test is successful/);
  });
}
