'use strict';
// The HTTP API for backends (docs/http-api.md): API keys and scopes, errors
// that name the wrong field, limits, the core routes (emit, disconnect, room
// members, stats) checked against real socket.io-client sockets, and module
// routes through the ABI (test_http): answered at once and later, prefixes,
// conflicts, a reload with an answer pending, a removed module.
// Switchboard only.

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startServer, freePort, IS_SWITCHBOARD } = require('./lib/server');
const { toYaml } = require('./lib/config');
const { checkConfig } = require('./lib/check_config');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES || '';
const KEY = 'backend-key-0123456789abcdef';
const READ_KEY = 'reader-key-0123456789abcdef';
const FILE_KEY = 'file-key-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const testModule = (name) => path.join(TEST_MODULES, `${name}.so`);

/** One API call; resolves with {status, headers, json}. `key: null` sends no Authorization. */
async function api(server, method, urlPath, { key = KEY, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key !== null && !h.authorization) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await c.request({ port: server.apiPort }, { method, path: urlPath, headers: h, body: payload, timeout: 15000 });
  return { status: res.status, headers: res.headers, json: res.body ? JSON.parse(res.body) : null };
}

async function startApiServer(apiSettings, extra = {}) {
  const apiPort = await freePort();
  const server = await startServer({
    config: {
      api: { listen: [{ address: '127.0.0.1', port: apiPort }], ...apiSettings },
      admin: { token: ADMIN_TOKEN },
      ...extra,
    },
  });
  server.apiPort = apiPort;
  return server;
}

function expectError(res, status, code, messagePattern) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.code, code);
  if (messagePattern) assert.match(res.json.error.message, messagePattern);
}

if (IS_SWITCHBOARD) {
  describe('HTTP API', () => {
    let server;
    let dir;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-api-'));
      const keyFile = path.join(dir, 'api.key');
      fs.writeFileSync(keyFile, `${FILE_KEY}\n`);
      server = await startApiServer(
        {
          keys: [
            { name: 'backend', key: KEY },
            { name: 'reader', key: READ_KEY, scopes: ['read'] },
            { name: 'from-file', key_file: keyFile },
          ],
          max_body: '4KB',
          request_timeout: '2s',
        },
        {
          modules: {
            test_identity: { file: testModule('test_identity') },
            test_rooms: { file: testModule('test_rooms') },
            echo: {},
            test_http: { file: testModule('test_http'), config: { tag: 'one', try_routes: ['GET /api/v1/emit', 'GET /api/v1/', 'GET /outside'] } },
            test_http_b: { file: testModule('test_http'), config: { tag: 'b', status_route: '/api/b/status' } },
          },
          namespaces: { '/': { modules: ['test_identity', 'test_rooms', 'echo'] }, '/custom': { modules: ['test_identity', 'echo', 'test_rooms'] } },
        },
      );
    });
    after(async () => {
      if (server) await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const as = (user, namespace = '/') =>
      c.connectClient(server, { namespace, auth: user ? { user } : {}, transports: ['websocket'] });

    test('the API listener is announced at startup', () => {
      assert.match(server.output(), new RegExp(`HTTP API listening on http://127\\.0\\.0\\.1:${server.apiPort}/api/ with 3 key\\(s\\)`));
    });

    test('auth: no key, another scheme or an unknown key is 401; a key read from key_file works', async () => {
      const none = await api(server, 'GET', '/api/v1/stats', { key: null });
      expectError(none, 401, 'UNAUTHORIZED', /missing Authorization header/);
      assert.match(none.headers['www-authenticate'], /^Bearer/);
      expectError(await api(server, 'GET', '/api/v1/stats', { headers: { authorization: `Basic ${KEY}` } }), 401, 'UNAUTHORIZED',
        /scheme must be Bearer/);
      expectError(await api(server, 'GET', '/api/v1/stats', { key: `${KEY}x` }), 401, 'UNAUTHORIZED', /unknown API key/);
      expectError(await api(server, 'GET', '/api/v1/stats', { key: KEY.slice(0, -1) }), 401, 'UNAUTHORIZED', /unknown API key/);
      const metrics = (await c.request(server, { path: '/metrics' })).body;
      assert.match(metrics, /^switchboard_api_responses_total\{status="401"\} [1-9]\d*$/m, 'refusals are counted');
      assert.match(metrics, /^switchboard_api_requests_in_flight 0$/m);
      // an unknown route says nothing to someone without a key
      expectError(await api(server, 'GET', '/api/v9/nothing', { key: 'wrong-key' }), 401, 'UNAUTHORIZED');
      // a refused request with a body still gets its answer
      expectError(await api(server, 'POST', '/api/v1/emit', { key: null, body: { event: 'x' } }), 401, 'UNAUTHORIZED');
      assert.equal((await api(server, 'GET', '/api/v1/stats', { key: FILE_KEY })).status, 200);
      assert.equal((await api(server, 'GET', '/api/v1/stats', { headers: { authorization: `bearer ${KEY}` } })).status, 200,
        'the scheme is case-insensitive');
    });

    test('scopes: a read-only key reads, but may not emit, disconnect or call module routes (403)', async () => {
      assert.equal((await api(server, 'GET', '/api/v1/stats', { key: READ_KEY })).status, 200);
      assert.equal((await api(server, 'GET', '/api/v1/rooms/members?room=x', { key: READ_KEY })).status, 200);
      expectError(await api(server, 'POST', '/api/v1/emit', { key: READ_KEY, body: { event: 'x' } }), 403, 'FORBIDDEN',
        /the API key 'reader' lacks the scope 'emit'/);
      expectError(await api(server, 'POST', '/api/v1/disconnect', { key: READ_KEY, body: { userId: 'x' } }), 403, 'FORBIDDEN',
        /lacks the scope 'disconnect'/);
      expectError(await api(server, 'GET', '/api/test/sync', { key: READ_KEY }), 403, 'FORBIDDEN', /lacks the scope 'modules'/);
    });

    test('validation errors are 400 and name the field', async () => {
      const cases = [
        [{ event: 'x', room: 'a' }, /^room: unknown field \(known fields: namespace, event, data, args, rooms, users, exceptRooms, exceptUsers\)$/],
        [{}, /^event: required$/],
        [{ event: '' }, /^event: expected a non-empty string$/],
        [{ event: 'disconnect' }, /^event: 'disconnect' is reserved by Socket\.IO$/],
        [{ event: 'x', rooms: 'lobby' }, /^rooms: expected an array of strings$/],
        [{ event: 'x', rooms: ['a', 3] }, /^rooms\[1\]: expected a non-empty string$/],
        [{ event: 'x', rooms: [] }, /^rooms: must not be empty/],
        [{ event: 'x', exceptUsers: [''] }, /^exceptUsers\[0\]: expected a non-empty string$/],
        [{ event: 'x', data: 1, args: [1] }, /^data, args: give one of them/],
        [{ event: 'x', args: { a: 1 } }, /^args: expected an array/],
        [{ event: 'x', namespace: '/nope' }, /^namespace: '\/nope' is not a configured namespace$/],
        ['[1,2]', /^the body must be a JSON object$/],
        ['{"event":', /^the body must be a JSON object$/],
      ];
      for (const [body, message] of cases) {
        expectError(await api(server, 'POST', '/api/v1/emit', { body }), 400, 'INVALID', message);
      }
      expectError(await api(server, 'POST', '/api/v1/emit'), 400, 'INVALID', /^the body must be a JSON object$/);
      expectError(await api(server, 'POST', '/api/v1/disconnect', { body: { userId: 'a', socketId: 'b' } }), 400, 'INVALID',
        /^userId, socketId: give exactly one of them$/);
      expectError(await api(server, 'POST', '/api/v1/disconnect', { body: { userId: 5 } }), 400, 'INVALID',
        /^userId: expected a non-empty string$/);
      expectError(await api(server, 'GET', '/api/v1/rooms/members'), 400, 'INVALID', /^room: required query parameter$/);
      expectError(await api(server, 'GET', '/api/v1/rooms/members?room=a&sort=asc'), 400, 'INVALID', /^sort: unknown query parameter/);
    });

    test('unknown route 404, wrong method 405 (with Allow), body over max_body 413', async () => {
      expectError(await api(server, 'GET', '/api/v1/nothing'), 404, 'NOT_FOUND', /no route \/api\/v1\/nothing/);
      expectError(await api(server, 'GET', '/elsewhere'), 404, 'NOT_FOUND');
      const wrong = await api(server, 'GET', '/api/v1/emit');
      expectError(wrong, 405, 'METHOD_NOT_ALLOWED', /\/api\/v1\/emit takes POST/);
      assert.equal(wrong.headers.allow, 'POST');
      expectError(await api(server, 'DELETE', '/api/v1/stats'), 405, 'METHOD_NOT_ALLOWED');
      expectError(await api(server, 'POST', '/api/test/sync'), 405, 'METHOD_NOT_ALLOWED', /POST is not served on \/api\/test\/sync/);
      const big = JSON.stringify({ event: 'x', data: 'a'.repeat(5000) });
      expectError(await api(server, 'POST', '/api/v1/emit', { body: big }), 413, 'PAYLOAD_TOO_LARGE', /api\.max_body is 4000/);
      // the listener is fine afterwards
      assert.equal((await api(server, 'GET', '/api/v1/stats')).status, 200);
    });

    test('emit to rooms, users and a whole namespace, with exceptions: each right socket gets it exactly once', async () => {
      const [a1, a2, b1, c1, anon, custom] = await Promise.all([as('alice'), as('alice'), as('bob'), as('carol'), as(null), as('alice', '/custom')]);
      const sockets = { a1, a2, b1, c1, anon, custom };
      await Promise.all([c.ack(a1, 'join', ['r1']), c.ack(a1, 'join', ['r2']), c.ack(a2, 'join', ['r1']), c.ack(b1, 'join', ['r2']),
        c.ack(anon, 'join', ['r1']), c.ack(custom, 'join', ['r1'])]);
      const cases = [
        ['e1', { rooms: ['r1', 'r2'] }, ['a1', 'a2', 'b1', 'anon']],
        ['e2', { rooms: ['r1'], exceptRooms: ['r2'] }, ['a2', 'anon']],
        ['e3', { users: ['alice'] }, ['a1', 'a2']],
        ['e4', { users: ['bob', 'alice'], rooms: ['r1'] }, ['a1', 'a2', 'anon', 'b1']],
        ['e5', { exceptUsers: ['alice'] }, ['b1', 'c1', 'anon']],
        ['e6', { rooms: ['r1'], exceptUsers: ['alice'] }, ['anon']],
        ['e7', { users: ['alice', 'carol'], exceptRooms: ['r1'] }, ['c1']],
        ['e8', {}, ['a1', 'a2', 'b1', 'c1', 'anon']],
        ['e9', { namespace: '/custom' }, ['custom']],
        ['e10', { rooms: ['nobody-here'] }, []],
        ['e11', { users: ['nobody'] }, []],
      ];
      for (const [event, target, expected] of cases) {
        const res = await api(server, 'POST', '/api/v1/emit', { body: { event, data: { n: event }, ...target } });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(res.json, { recipients: expected.length }, `${event} ${JSON.stringify(target)}`);
      }
      const multi = await api(server, 'POST', '/api/v1/emit', { body: { event: 'multi', args: [1, 'two', { three: 3 }], users: ['bob'] } });
      assert.deepEqual(multi.json, { recipients: 1 });
      // Sent last, to everybody: whatever came before it has arrived once it is there.
      for (const ns of ['/', '/custom']) await api(server, 'POST', '/api/v1/emit', { body: { event: 'sentinel', namespace: ns } });
      await Promise.all(Object.values(sockets).map((s) => s.inbox.take('sentinel', { timeout: 10000 })));
      for (const [event, , expected] of cases) {
        for (const [name, s] of Object.entries(sockets)) {
          const got = s.inbox.all(event);
          if (expected.includes(name)) assert.deepEqual(got, [[{ n: event }]], `${name} gets ${event} exactly once`);
          else assert.deepEqual(got, [], `${name} does not get ${event}`);
        }
      }
      assert.deepEqual(b1.inbox.all('multi'), [[1, 'two', { three: 3 }]]);
      for (const s of Object.values(sockets)) s.close();
    });

    test('disconnect one socket by its id, or every socket of a user', async () => {
      const [d1, d2, dOther, e1] = await Promise.all([as('dave'), as('dave'), as('dave', '/custom'), as('erin')]);
      const erinGone = c.waitFor(e1, 'disconnect', { timeout: 10000 });
      const erinId = e1.id;
      assert.deepEqual((await api(server, 'POST', '/api/v1/disconnect', { body: { socketId: erinId } })).json, { disconnected: 1 });
      assert.equal((await erinGone)[0], 'io server disconnect');
      expectError(await api(server, 'POST', '/api/v1/disconnect', { body: { socketId: erinId } }), 404, 'SOCKET_NOT_FOUND',
        new RegExp(`socketId: no connected socket '${erinId}'`));

      const gone = [d1, d2].map((s) => c.waitFor(s, 'disconnect', { timeout: 10000 }));
      assert.deepEqual((await api(server, 'POST', '/api/v1/disconnect', { body: { userId: 'dave', namespace: '/' } })).json,
        { disconnected: 2 });
      assert.deepEqual((await Promise.all(gone)).map((args) => args[0]), ['io server disconnect', 'io server disconnect']);
      assert.equal(dOther.connected, true, 'only the namespace asked for');
      const otherGone = c.waitFor(dOther, 'disconnect', { timeout: 10000 });
      assert.deepEqual((await api(server, 'POST', '/api/v1/disconnect', { body: { userId: 'dave' } })).json, { disconnected: 1 });
      await otherGone;
      assert.deepEqual((await api(server, 'POST', '/api/v1/disconnect', { body: { userId: 'dave' } })).json, { disconnected: 0 });
    });

    test('room members: socket ids and user ids, room names percent-encoded', async () => {
      const room = 'team a&b=ü';
      const [f1, f2, g1, anon] = await Promise.all([as('frank'), as('frank'), as('gina'), as(null)]);
      await Promise.all([f1, f2, g1, anon].map((s) => c.ack(s, 'join', [room])));
      const res = await api(server, 'GET', `/api/v1/rooms/members?namespace=%2F&room=${encodeURIComponent(room)}`);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.namespace, '/');
      assert.equal(res.json.room, room);
      assert.equal(res.json.count, 4);
      const byId = (a, b) => (a.id < b.id ? -1 : 1);
      assert.deepEqual(res.json.sockets.sort(byId), [
        { id: f1.id, userId: 'frank' }, { id: f2.id, userId: 'frank' }, { id: g1.id, userId: 'gina' }, { id: anon.id, userId: null },
      ].sort(byId));
      assert.deepEqual(res.json.users, ['frank', 'gina']);
      const empty = await api(server, 'GET', '/api/v1/rooms/members?room=nobody&namespace=%2Fcustom');
      assert.deepEqual(empty.json, { namespace: '/custom', room: 'nobody', count: 0, sockets: [], users: [] });
      for (const s of [f1, f2, g1, anon]) s.close();
    });

    test('stats: connections, sockets and rooms per namespace, uptime, version', async () => {
      const [h1, h2] = await Promise.all([as('hank'), as('hank', '/custom')]);
      await c.ack(h1, 'join', ['stats-room']);
      const res = await api(server, 'GET', '/api/v1/stats');
      assert.equal(res.status, 200);
      assert.match(res.json.version, /^\d+\.\d+\.\d+/);
      assert.equal(typeof res.json.uptimeSeconds, 'number');
      assert.ok(res.json.connections >= 2);
      const root = res.json.namespaces.find((n) => n.name === '/');
      const custom = res.json.namespaces.find((n) => n.name === '/custom');
      assert.ok(root.sockets >= 1 && custom.sockets >= 1 && root.rooms >= 1, JSON.stringify(res.json));
      assert.equal(res.json.sockets, root.sockets + custom.sockets);
      h1.close();
      h2.close();
    });

    test('module routes: exact and prefix, answered at once and from a timer; a second answer is refused', async () => {
      const sync = await api(server, 'GET', '/api/test/sync?b=2&a=x%20y%26z', { key: FILE_KEY });
      assert.equal(sync.status, 200);
      assert.deepEqual(sync.json, { tag: 'one', method: 'GET', path: '/api/test/sync', query: 'b=2&a=x%20y%26z', key: 'from-file' });
      const echo = await api(server, 'POST', '/api/test/echo', { body: { hello: ['world'] } });
      assert.equal(echo.status, 201);
      assert.deepEqual(echo.json, { tag: 'one', body: { hello: ['world'] } });
      assert.equal((await api(server, 'POST', '/api/test/echo', { body: 'not json' })).status, 400);
      assert.deepEqual((await api(server, 'GET', '/api/test/items/42/details')).json, { tag: 'one', item: '42/details' });
      assert.equal((await api(server, 'GET', '/api/test/items')).status, 404, 'a prefix route serves what is under it');
      const later = await api(server, 'POST', '/api/test/async', { body: { n: 7 } });
      assert.equal(later.status, 202);
      assert.deepEqual(later.json, { tag: 'one', async: true, body: { n: 7 } });
      const status = await api(server, 'GET', '/api/test/status');
      assert.equal(status.json.double, -2, 'the second http_respond is refused with SB_ERR_INVALID');
      assert.equal(status.json.pending, 0);
    });

    test('module routes: a path the core or another module serves is refused, and the first holder keeps it', async () => {
      const one = (await api(server, 'GET', '/api/test/status')).json;
      assert.equal(one.routes['GET /api/test/sync'], 0);
      assert.equal(one.routes['GET /api/v1/emit'], -2, 'a core route');
      assert.equal(one.routes['GET /api/v1/'], -2, 'a prefix over core routes');
      assert.equal(one.routes['GET /outside'], -2, 'outside /api/');
      const b = (await api(server, 'GET', '/api/b/status')).json;
      assert.equal(b.tag, 'b');
      assert.equal(b.routes['GET /api/b/status'], 0);
      for (const r of ['GET /api/test/sync', 'POST /api/test/echo', 'GET /api/test/items/', 'POST /api/test/async', 'GET /api/test/never'])
        assert.equal(b.routes[r], -2, `${r} is test_http's`);
      assert.equal((await api(server, 'GET', '/api/test/sync')).json.tag, 'one');
      assert.match(server.output(), /module test_http_b: route GET \/api\/test\/sync refused: already served by module test_http/);
    });

    test('a module that never answers: 504 after api.request_timeout', async () => {
      const started = Date.now();
      const res = await api(server, 'GET', '/api/test/never');
      const took = Date.now() - started;
      expectError(res, 504, 'TIMEOUT', /did not answer within api\.request_timeout/);
      assert.ok(took >= 1500 && took < 10000, `answered after ${took} ms (request_timeout 2s)`);
    });
  });

  describe('HTTP API module routes across reloads', () => {
    let server;
    const base = {
      modules: {
        echo: {},
        test_rooms: { file: testModule('test_rooms') },
        test_http: { file: testModule('test_http'), config: { tag: 'v1', delay_ms: 60000 } },
      },
    };
    before(async () => {
      server = await startApiServer({ keys: [{ name: 'backend', key: KEY }], request_timeout: '60s' }, base);
    });
    after(() => server && server.stop());

    /** Rewrites the running server's config file with other modules (listeners, keys and admin token stay). */
    function rewrite(modules) {
      fs.writeFileSync(server.configPath, toYaml({ ...server.config, modules }));
    }
    async function reload() {
      const res = await c.request(server, { method: 'POST', path: '/admin/reload', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(res.status, 200, res.body);
    }

    test('a reload answers the old instance\'s pending request 503; the new instance serves; a removed module\'s routes are 404', { timeout: 30000 }, async () => {
      assert.equal((await api(server, 'GET', '/api/test/sync')).json.tag, 'v1');
      const pending = api(server, 'POST', '/api/test/async', { body: { waiting: true } });
      const deadline = Date.now() + 10000;
      while ((await api(server, 'GET', '/api/test/status')).json.pending !== 1) {
        if (Date.now() > deadline) throw new Error('the async request never reached the module');
        await new Promise((r) => setTimeout(r, 20)); // nothing to await: the module only counts it
      }
      rewrite({ ...base.modules, test_http: { file: testModule('test_http'), config: { tag: 'v2', delay_ms: 50 } } });
      await reload();
      expectError(await pending, 503, 'UNAVAILABLE', /module test_http was reloaded or unloaded before answering/);
      assert.equal((await api(server, 'GET', '/api/test/sync')).json.tag, 'v2');
      assert.deepEqual((await api(server, 'POST', '/api/test/async', { body: 1 })).json, { tag: 'v2', async: true, body: 1 });
      assert.equal((await api(server, 'GET', '/api/test/status')).json.routes['GET /api/test/sync'], 0,
        'the new instance registered the routes the old one held');

      const { test_http: _, ...without } = base.modules;
      rewrite(without);
      await reload();
      expectError(await api(server, 'GET', '/api/test/sync'), 404, 'NOT_FOUND');
      expectError(await api(server, 'GET', '/api/test/items/1'), 404, 'NOT_FOUND');
      assert.equal((await api(server, 'GET', '/api/v1/stats')).status, 200);
    });
  });

  describe('HTTP API limits', () => {
    let server;
    before(async () => {
      server = await startApiServer({
        keys: [{ name: 'k1', key: `${KEY}-1` }, { name: 'k2', key: `${KEY}-2` }, { name: 'k3', key: `${KEY}-3` }],
        rate_limit: { per_second: 1, burst: 3 },
        max_concurrent: 2,
        request_timeout: '2s',
      }, {
        modules: { echo: {}, test_rooms: { file: testModule('test_rooms') }, test_http: { file: testModule('test_http') } },
      });
    });
    after(() => server && server.stop());

    test('rate limit per key: 429 with Retry-After once the burst is spent; other keys unaffected', async () => {
      for (let i = 0; i < 3; i += 1) assert.equal((await api(server, 'GET', '/api/v1/stats', { key: `${KEY}-1` })).status, 200);
      const limited = await api(server, 'GET', '/api/v1/stats', { key: `${KEY}-1` });
      expectError(limited, 429, 'RATE_LIMITED', /the API key 'k1' is over its rate limit/);
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal((await api(server, 'GET', '/api/v1/stats', { key: `${KEY}-2` })).status, 200);
    });

    test('a slow client holding a request open does not hold up sockets, and is cut off', { timeout: 20000 }, async () => {
      const slow = net.connect({ host: '127.0.0.1', port: server.apiPort });
      const closed = new Promise((resolve) => slow.on('close', resolve));
      slow.on('error', () => {});
      slow.write(`POST /api/v1/emit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}-3\r\nContent-Length: 100\r\n\r\n{"ev`);
      const socket = await c.connectClient(server, { transports: ['websocket'] });
      await c.assertEchoes(socket, assert);
      const started = Date.now();
      await c.withTimeout(closed, 15000, 'the slow API connection to be closed');
      assert.ok(Date.now() - started < 15000);
      await c.assertEchoes(socket, assert);
      socket.close();
    });

    test('requests in flight are bounded: 503 beyond max_concurrent, served again once they end', { timeout: 20000 }, async () => {
      const held = [api(server, 'GET', '/api/test/never', { key: `${KEY}-3` }), api(server, 'GET', '/api/test/never', { key: `${KEY}-3` })];
      // both are in flight once the module has them; the third is refused at once
      const deadline = Date.now() + 10000;
      let busy;
      for (;;) {
        busy = await api(server, 'GET', '/api/v1/stats', { key: `${KEY}-2` });
        if (busy.status === 503 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50)); // the held requests are not observable otherwise
      }
      expectError(busy, 503, 'BUSY', /too many API requests in flight/);
      for (const res of await Promise.all(held)) expectError(res, 504, 'TIMEOUT');
      // two seconds have passed: k2 has a token again, and a slot is free
      assert.equal((await api(server, 'GET', '/api/v1/stats', { key: `${KEY}-2` })).status, 200);
    });
  });

  test('no api.keys: the API is off, and the log says so', async () => {
    const server = await startServer({});
    assert.match(server.output(), /HTTP API off: no api\.keys configured/);
    await server.stop();
  });

  test('switchboard -t reports bad api settings with file, line and key', async () => {
    const cases = [
      [{ api: { keys: [{ name: 'a', key: 'short' }] } }, /switchboard\.yaml:\d+: api\.keys\[0\]\.key: must be at least 16 characters/],
      [{ api: { keys: [{ name: 'a', key: KEY, scopes: ['write'] }] } }, /api\.keys\[0\]\.scopes: unknown scope 'write'/],
      [{ api: { keys: [{ key: KEY }] } }, /api\.keys\[0\]\.name: is required/],
      [{ api: { keys: [{ name: 'a' }] } }, /api\.keys\[0\]\.key: is required \(or key_file\)/],
      [{ api: { keys: [{ name: 'a', key: KEY }, { name: 'a', key: READ_KEY }] } }, /api\.keys\[1\]\.name: duplicate key name 'a'/],
      [{ api: { keys: [{ name: 'a', key_file: '/nonexistent/api.key' }] } }, /api\.keys\[0\]\.key_file: cannot read file/],
      [{ api: { keys: [{ name: 'a', key: KEY }], max_body: 'lots' } }, /api\.max_body: expected a size/],
      [{ api: { listen: [{ port: 70000 }], keys: [{ name: 'a', key: KEY }] } }, /api\.listen\[0\]\.port: must be between 0 and 65535/],
      [{ api: { keys: [{ name: 'a', key: KEY }], rate_limit: { burst: 5 } } }, /api\.rate_limit\.per_second: is required/],
      [{ api: { key: KEY } }, /api\.key: unknown key \(known keys: keys, listen, max_body, max_concurrent, rate_limit, request_timeout\)/],
    ];
    for (const [override, pattern] of cases) {
      const { code, stderr } = await checkConfig(override);
      assert.notEqual(code, 0, JSON.stringify(override));
      assert.match(stderr, pattern);
    }
  });
}
