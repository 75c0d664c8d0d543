'use strict';
// The throttle module: token buckets per socket, per user and per client IP
// chosen by event-name pattern; disconnection of abusive sockets; HTTP 429
// on connection floods (both transports); concurrent connection limits per IP
// and per user; fairness under a flood; settings and buckets across a
// reload. Switchboard only: the module and its error vocabulary are ours.
//
// Every test client comes from 127.0.0.1, so per-IP limits see all of them
// as one client. Users come from the test_identity module (CONNECT auth
// {user}). Rates are high where a test waits for a refill, so waits are short.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;
const TOKEN = 'throttle-test-token-0123456789';
const CHAIN = ['test_identity', 'throttle', 'echo'];

/** A server config with `throttle` (settings `settings`) in the chain of '/' and '/custom'. */
function configWith(settings, extra = {}) {
  return mergeConfig(
    {
      modules: {
        test_rooms: null,
        test_identity: { file: path.join(TEST_MODULES || '', 'test_identity.so') },
        throttle: { config: settings },
      },
      namespaces: { '/': { modules: CHAIN }, '/custom': { modules: CHAIN } },
    },
    extra,
  );
}

function start(settings, extra) {
  return startServer({ config: configWith(settings, extra) });
}

/**
 * Rewrites the running server's config file with throttle `settings` (and
 * the admin token) and asks for a reload; resolves with {status, json}.
 */
async function reloadWith(server, settings) {
  const config = mergeConfig(DEFAULT_CONFIG, configWith(settings, { admin: { token: TOKEN } }));
  fs.writeFileSync(server.configPath, toYaml({ ...config, listen: server.config.listen }));
  const res = await c.request(server, { method: 'POST', path: '/admin/reload', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, json: JSON.parse(res.body) };
}

const RETRY = /^rate limited, retry after (\d+) ms$/;

function isLimited(answer) {
  return answer !== null && typeof answer === 'object' && answer.ok === false && answer.error.code === 'RATE_LIMITED';
}

/** Emits `event` `n` times at once with an ack; resolves with the first ack argument of each. */
function burst(socket, event, n) {
  return Promise.all(Array.from({ length: n }, (_, i) => c.ack(socket, event, [i]).then(([answer]) => answer)));
}

/** 'pass' or 'limited' for each answer. */
function outcomes(answers) {
  return answers.map((a) => (isLimited(a) ? 'limited' : 'pass'));
}

function repeat(value, n) {
  return Array(n).fill(value);
}

/** Checks a RATE_LIMITED error and returns its retry time in ms. */
function retryOf(error, maxMs) {
  assert.equal(error.code, 'RATE_LIMITED');
  const m = RETRY.exec(error.message);
  assert.ok(m, `message "${error.message}" names the retry time`);
  const ms = Number(m[1]);
  assert.equal(error.retryAfterMs, ms, 'retryAfterMs rides along with the error');
  assert.ok(ms >= 1 && ms <= maxMs, `retry after ${ms} ms, expected 1..${maxMs}`);
  return ms;
}

async function metric(server, name, labels) {
  const res = await c.request(server, { path: '/metrics' });
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${name}\\{${escaped}\\} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : 0;
}

const rejections = (server, kind) => metric(server, 'switchboard_throttle_rejections_total', `module="throttle",kind="${kind}"`);

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (IS_SWITCHBOARD) {
  test('exactly `burst` events pass at once, the next is RATE_LIMITED (ack or error event), one more after 1/rate', { timeout: 20000 }, async () => {
    const server = await start({ default: { socket: { rate: 5, burst: 3 } } });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    const before = await rejections(server, 'event');

    const answers = await burst(socket, 'message-with-ack', 4);
    assert.deepEqual(answers.slice(0, 3), [0, 1, 2]);
    assert.equal(answers[3].ok, false);
    retryOf(answers[3].error, 200);

    // Without an ack callback the refusal is an `error` event naming the event.
    const error = socket.inbox.take('error');
    socket.emit('message', 'too many');
    const [refused] = await error;
    assert.equal(refused.event, 'message');
    const wait = retryOf(refused, 200);
    assert.equal(socket.inbox.count('message-back'), 0, 'a refused event reaches no later module');
    assert.equal(await rejections(server, 'event'), before + 2);

    // After the advertised wait (1/rate at most) exactly one more passes.
    await delay(wait + 10); // waiting for the refill is the point of the test
    assert.deepEqual(outcomes(await burst(socket, 'message-with-ack', 2)), ['pass', 'limited']);
    assert.deepEqual(socket.disconnects, []);
  });

  test('per-event patterns: exact names before prefixes, prefixes share a bucket, the default is separate', { timeout: 20000 }, async () => {
    const server = await start({
      default: { socket: { rate: 1, burst: 2 } },
      events: {
        'chat:*': { socket: { rate: 1, burst: 3 } },
        'chat:typing': { socket: { rate: 1, burst: 1 } },
        'ping:*': {},
      },
    });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    // Events throttle lets through and no module handles get NOT_FOUND.
    const typing = await burst(socket, 'chat:typing', 2);
    assert.equal(typing[0].error.code, 'NOT_FOUND');
    assert.deepEqual(outcomes(typing), ['pass', 'limited']);
    const chat = [...(await burst(socket, 'chat:send', 2)), ...(await burst(socket, 'chat:edit', 2))];
    assert.deepEqual(outcomes(chat), ['pass', 'pass', 'pass', 'limited'], 'chat:send and chat:edit share chat:*');
    assert.deepEqual(outcomes(await burst(socket, 'message-with-ack', 3)), ['pass', 'pass', 'limited'], 'the default bucket is untouched by chat:*');
    assert.deepEqual(outcomes(await burst(socket, 'ping:x', 20)), repeat('pass', 20), 'a pattern without limits is unlimited');
  });

  test('per-user buckets are shared by the sockets of one user; other users and anonymous sockets are apart', { timeout: 20000 }, async () => {
    const server = await start({ default: { socket: { rate: 1, burst: 100 }, user: { rate: 1, burst: 4 } } });
    const alice1 = await c.connectClient(server, { transports: ['websocket'], auth: { user: 'alice' } });
    const alice2 = await c.connectClient(server, { transports: ['polling'], auth: { user: 'alice' } });
    const bob = await c.connectClient(server, { transports: ['websocket'], auth: { user: 'bob' } });
    const anonymous = await c.connectClient(server, { transports: ['websocket'] });

    assert.deepEqual(outcomes(await burst(alice1, 'message-with-ack', 2)), ['pass', 'pass']);
    assert.deepEqual(outcomes(await burst(alice2, 'message-with-ack', 2)), ['pass', 'pass']);
    assert.deepEqual(outcomes(await burst(alice1, 'message-with-ack', 1)), ['limited']);
    assert.deepEqual(outcomes(await burst(alice2, 'message-with-ack', 1)), ['limited']);
    assert.deepEqual(outcomes(await burst(bob, 'message-with-ack', 4)), repeat('pass', 4));
    assert.deepEqual(outcomes(await burst(anonymous, 'message-with-ack', 10)), repeat('pass', 10), 'anonymous sockets have no user bucket');
  });

  test('per-IP buckets are shared by every socket from one address', { timeout: 20000 }, async () => {
    const server = await start({ default: { socket: { rate: 1, burst: 100 }, ip: { rate: 1, burst: 4 } } });
    const one = await c.connectClient(server, { transports: ['websocket'] });
    const two = await c.connectClient(server, { transports: ['polling'], auth: { user: 'carol' } });
    const three = await c.connectClient(server, { transports: ['websocket'] });
    assert.deepEqual(outcomes(await burst(one, 'message-with-ack', 2)), ['pass', 'pass']);
    assert.deepEqual(outcomes(await burst(two, 'message-with-ack', 2)), ['pass', 'pass']);
    assert.deepEqual(outcomes(await burst(three, 'message-with-ack', 1)), ['limited']);
    assert.deepEqual(outcomes(await burst(one, 'message-with-ack', 1)), ['limited']);
  });

  test('repeated violations disconnect the socket (io server disconnect), counted; other sockets carry on', { timeout: 20000 }, async () => {
    const server = await start({
      default: { socket: { rate: 1, burst: 1 } },
      disconnect_after_violations: 3,
      violation_window_ms: 10000,
    });
    const bystander = await c.connectClient(server, { transports: ['websocket'] });
    const abuser = await c.connectClient(server, { transports: ['websocket'] });
    const disconnectsBefore = await metric(server, 'switchboard_throttle_disconnects_total', 'module="throttle"');
    const rejectedBefore = await rejections(server, 'event');

    assert.deepEqual(outcomes(await burst(abuser, 'message-with-ack', 3)), ['pass', 'limited', 'limited']);
    assert.ok(abuser.connected, 'two violations are under the threshold');
    const gone = c.waitFor(abuser, 'disconnect');
    abuser.emit('message', 'third violation');
    assert.equal((await gone)[0], 'io server disconnect');

    assert.equal(await metric(server, 'switchboard_throttle_disconnects_total', 'module="throttle"'), disconnectsBefore + 1);
    assert.equal(await rejections(server, 'event'), rejectedBefore + 3);
    assert.deepEqual(outcomes(await burst(bystander, 'message-with-ack', 1)), ['pass']);
    assert.deepEqual(bystander.disconnects, []);
  });

  // The Engine.IO server does not ask modules about new sessions yet
  // (ModuleHost::admit, which runs every module's on_handshake, has no
  // caller): until it does, this test is reported as a TODO.
  test('a connection flood from one IP gets HTTP 429 on polling and websocket handshakes, then is let in again', { timeout: 20000 }, async () => {
    const server = await start({ new_connections_per_ip: { rate: 4, burst: 3 } });
    const before = await rejections(server, 'handshake');
    for (let i = 0; i < 3; i += 1) await c.pollingHandshake(server);

    const polling = await c.request(server, { path: c.eioPath(server) });
    assert.equal(polling.status, 429, polling.body);
    const m = /too many new connections, retry after (\d+) ms/.exec(polling.body);
    assert.ok(m, `the 429 body says why: ${polling.body}`);
    assert.ok(Number(m[1]) <= 250);

    await assert.rejects(c.RawWs.open(server), (err) => {
      assert.equal(err.statusCode, 429, err.message);
      assert.match(err.body, /too many new connections/);
      return true;
    });
    const refused = c.createClient(server, { transports: ['websocket'] });
    await assert.rejects(c.connected(refused));
    assert.ok((await rejections(server, 'handshake')) >= before + 3);

    // One token comes back every 1/rate = 250 ms.
    await delay(260); // waiting for the refill is the point of the test
    const welcome = await c.connectClient(server, { transports: ['websocket'] });
    await c.assertEchoes(welcome, assert);
  });

  test('concurrent connections per IP: over the limit gets connect_error "too many connections"; a disconnect frees a slot', { timeout: 20000 }, async () => {
    const server = await start({ max_connections_per_ip: 2 });
    const before = await rejections(server, 'connection');
    // One session with two namespaces: two Socket.IO connections.
    const manager = c.createManager(server, { transports: ['websocket'] });
    const root = c.managerSocket(manager, '/');
    const custom = c.managerSocket(manager, '/custom');
    await Promise.all([c.connected(root), c.connected(custom)]);

    const third = c.createClient(server, { transports: ['websocket'] });
    await assert.rejects(c.connected(third), (err) => {
      assert.equal(err.message, 'too many connections');
      return true;
    });
    assert.equal(await rejections(server, 'connection'), before + 1);

    custom.disconnect();
    // Packets of one session are handled in order: once this ack is back the
    // server has handled the DISCONNECT sent before it.
    await c.ack(root, 'message-with-ack', ['sync']);
    const fourth = await c.connectClient(server, { transports: ['polling'] });
    await c.assertEchoes(fourth, assert);
  });

  test('concurrent connections per user: a second socket of the user is refused, other users and anonymous ones are not', { timeout: 20000 }, async () => {
    const server = await start({ max_connections_per_user: 1 });
    const manager = c.createManager(server, { transports: ['websocket'] });
    const root = c.managerSocket(manager, '/');
    const alice = c.managerSocket(manager, '/custom', { auth: { user: 'alice' } });
    await Promise.all([c.connected(root), c.connected(alice)]);

    const again = c.createClient(server, { transports: ['websocket'], auth: { user: 'alice' } });
    await assert.rejects(c.connected(again), (err) => {
      assert.equal(err.message, 'too many connections');
      return true;
    });
    await c.connectClient(server, { transports: ['websocket'], auth: { user: 'bob' } });
    await c.connectClient(server, { transports: ['websocket'] });
    await c.connectClient(server, { transports: ['websocket'] });

    alice.disconnect();
    await c.ack(root, 'message-with-ack', ['sync']);
    const back = await c.connectClient(server, { transports: ['websocket'], auth: { user: 'alice' } });
    await c.assertEchoes(back, assert);
  });

  test("a flood from one client does not slow another client's round trips", { timeout: 30000 }, async () => {
    // Heartbeats relaxed from the suite's 300ms/200ms: the flooder shares
    // this process, and its own event loop must not miss pongs.
    const server = await start(
      { default: { socket: { rate: 50, burst: 50 } }, disconnect_after_violations: 0 },
      { engineio: { ping_interval: '5s', ping_timeout: '5s' } },
    );
    const flooder = await c.connectClient(server, { transports: ['websocket'] });
    const other = await c.connectClient(server, { transports: ['websocket'] });
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      while (flooding) {
        for (let i = 0; i < 100; i += 1) flooder.emit('message', sent + i);
        sent += 100;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await flooder.inbox.take('error', { timeout: 5000 }); // the flood is being refused

    const started = Date.now();
    const slowest = [];
    for (let i = 0; i < 20; i += 1) {
      const t0 = Date.now();
      assert.deepEqual(await c.ack(other, 'message-with-ack', [i], 5000), [i]);
      slowest.push(Date.now() - t0);
    }
    const total = Date.now() - started;
    flooding = false;
    await flood;
    assert.ok(total < 3000, `20 round trips took ${total} ms during the flood (each: ${slowest.join(', ')} ms)`);
    assert.ok(sent >= 1000, `the flood sent ${sent} events`);
    assert.deepEqual(flooder.disconnects, []);
    assert.deepEqual(other.disconnects, []);
    await c.assertEchoes(other, assert);
  });

  test('a reload keeps the buckets and applies a changed rate', { timeout: 20000 }, async () => {
    const settings = (rate, extra = {}) => ({ default: { socket: { rate, burst: 4 } }, ...extra });
    const server = await start(settings(0.5), { admin: { token: TOKEN } });
    const reload = async (s) => {
      const r = await reloadWith(server, s);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.match(r.json.summary, /modules reconfigured: throttle/);
    };
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    assert.deepEqual(outcomes(await burst(socket, 'message-with-ack', 5)), [...repeat('pass', 4), 'limited']);

    // Another setting changes: the new instance gets the empty bucket handed over.
    await reload(settings(0.5, { disconnect_after_violations: 1000 }));
    assert.deepEqual(outcomes(await burst(socket, 'message-with-ack', 1)), ['limited'], 'the bucket survived the reload');

    // The rate goes from 0.5/s to 50/s: 100 ms refill the burst of 4 (the old
    // rate would have given back 0.05 of an event).
    await reload(settings(50));
    await delay(100); // waiting for the refill is the point of the test
    const answers = await burst(socket, 'message-with-ack', 5);
    assert.deepEqual(outcomes(answers), [...repeat('pass', 4), 'limited']);
    retryOf(answers[4].error, 20);
    assert.deepEqual(socket.disconnects, []);
  });

  test('an invalid throttle configuration is refused, naming the key; the running one stays', { timeout: 20000 }, async () => {
    const server = await start({ default: { socket: { rate: 1, burst: 1 } } }, { admin: { token: TOKEN } });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    const refused = [
      [{ events: { 'chat:*': { socket: { rate: 0 } } } }, /events\.chat:\*\.socket\.rate: expected a number above 0/],
      [{ events: { 'a*b': {} } }, /events\.a\*b: '\*' may only end a pattern/],
      [{ default: { sockets: { rate: 1 } } }, /default\.sockets: unknown key \(known keys: socket, user, ip\)/],
      [{ max_tracked_keys: 0 }, /max_tracked_keys: expected an integer of at least 1/],
      [{ rate: 5 }, /modules\.throttle\.config\.rate: unknown key for module 'throttle'/],
    ];
    for (const [settings, message] of refused) {
      const r = await reloadWith(server, settings);
      assert.equal(r.status, 422, JSON.stringify(r.json));
      assert.match(r.json.error, message);
    }
    assert.deepEqual(outcomes(await burst(socket, 'message-with-ack', 2)), ['pass', 'limited'], 'the old settings still apply');
  });
}
