'use strict';
// The backend module's connect proxy, and the host's pending connects under
// it (ABI 1.3 SB_CONNECT_PENDING + connect_decide): a Socket.IO CONNECT
// decided by the application's own HTTP backend (a real node:http server
// started here). Allowed connects get the backend's identity, rooms and
// data before the client hears CONNECT; refused ones get its message;
// failures refuse "backend unavailable"; the handshake's Cookie reaches the
// backend on both transports; a connect that ends while pending (closed,
// socketio.connect_timeout) leaks nothing and ignores the late answer; a
// packet for a namespace still pending closes the connection as in the
// reference server; a reload hands pending connects over; auth_jwt before
// the proxy lets the backend see the verified identity. Switchboard only.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');
const { ADMIN_TOKEN, authJwtConfig, token, reload } = require('./lib/auth');
const { BackendApp } = require('./lib/backend_app');
const { delay, closedPort, rpc, metrics, metricValue, inFlightDrains, counterReaches } = require('./lib/backend_helpers');

const SIGNING_SECRET = 'connect-proxy-secret-0123456789';
const ENGINEIO = { ping_interval: '5s', ping_timeout: '10s' };

/** The connect_error of a client that must be refused. */
async function refused(socket, timeout = 5000) {
  const err = await c.connected(socket, timeout).then(
    () => assert.fail('connected, but the connect should have been refused'),
    (e) => e,
  );
  return err;
}

/** What the test backend answers: connects by auth.mode, RPCs by event. */
function handler(app) {
  return async (req) => {
    if (req.path === '/events') return { json: {} };
    const body = req.json || {};
    if (req.path === '/rpc') return { json: { result: { args: body.args } } };
    if (req.path !== '/connect') return { status: 404, json: {} };
    const auth = body.auth || {};
    switch (auth.mode) {
      case 'allow':
        return {
          json: {
            allow: true,
            userId: auth.user,
            claims: { plan: 'pro' },
            rooms: auth.room ? [auth.room] : [],
            data: { tier: 'gold', prefs: { a: 1 } },
          },
        };
      case 'deny':
        return { json: { allow: false, message: 'not welcome here' } };
      case 'cookie': {
        const m = /session=([^;]+)/.exec((body.headers && body.headers.cookie) || '');
        return m ? { json: { allow: true, userId: `session-${m[1]}` } } : { json: { allow: false, message: 'no session' } };
      }
      case 'enrich':
        return { json: { allow: true, claims: { ...body.socket.claims, plan: 'team' } } };
      case 'gate':
        await app.gate;
        return { json: { allow: true, userId: auth.user, rooms: auth.room ? [auth.room] : [] } };
      case 'hang':
        return null;
      case 'badjson':
        return { body: '{"allow": tru' };
      case '500':
        return { status: 500, json: { allow: true } };
      default:
        return { json: { allow: true } };
    }
  };
}

function gate(app) {
  let release;
  app.gate = new Promise((r) => {
    release = r;
  });
  return release;
}

function proxyConfig(app, extra = {}) {
  return {
    engineio: ENGINEIO,
    socketio: { connect_timeout: '5s' },
    admin: { token: ADMIN_TOKEN },
    modules: {
      auth_jwt: { config: authJwtConfig() },
      backend: {
        config: {
          backends: { app: { url: app.url, secret: SIGNING_SECRET, timeout: '20s' } },
          connect: { path: '/connect' },
          rpc: [{ event: 'app:*', path: '/rpc' }],
          webhooks: { path: '/events', batch_delay: '10ms' },
          ...extra,
        },
      },
    },
    namespaces: {
      '/': { modules: ['backend', 'echo', 'test_rooms'] },
      '/jwt': { modules: ['auth_jwt', 'backend', 'echo', 'test_rooms'] },
    },
  };
}

const connectRequest = (app, match) =>
  app.waitFor((r) => r.path === '/connect' && r.json && match(r.json), 5000, 'a connect request');

if (IS_SWITCHBOARD) {
  describe('backend: connect proxy', () => {
    let app;
    let server;

    before(async () => {
      app = new BackendApp({ secret: SIGNING_SECRET });
      app.handler = handler(app);
      await app.start();
      server = await startServer({ config: proxyConfig(app) });
    });
    after(() => app.stop());

    test('allow: identity, rooms and data are applied before CONNECT and seen by the other modules', async () => {
      const room = c.nonce('proxy-room');
      const ann = c.createClient(server, {
        transports: ['websocket'],
        auth: { mode: 'allow', user: 'ann', room },
        query: { lang: 'fr', q: 'a b+c 100%', empty: '' },
      });
      await c.connected(ann);
      const req = await connectRequest(app, (j) => j.auth.user === 'ann');
      assert.equal(req.signed, true, 'the connect request is signed');
      assert.deepEqual(Object.keys(req.json).sort(), ['auth', 'headers', 'query', 'socket', 'type']);
      assert.equal(req.json.type, 'connect');
      assert.deepEqual(req.json.auth, { mode: 'allow', user: 'ann', room });
      assert.deepEqual(req.json.headers, {}, 'no cookie or authorization was sent');
      assert.deepEqual(req.json.query, { lang: 'fr', q: 'a b+c 100%', empty: '' });
      assert.equal(req.json.socket.id, ann.id);
      assert.equal(req.json.socket.namespace, '/');
      assert.equal(req.json.socket.userId, null);
      assert.equal(req.json.socket.remoteAddress, '127.0.0.1');
      // The echo module after the proxy ran once the connect was accepted.
      assert.deepEqual(await ann.inbox.take('auth'), [{ mode: 'allow', user: 'ann', room }]);
      // The room is the hub's: test_rooms lists it, and a broadcast to it arrives.
      assert.ok((await rpc(ann, 'rooms')).includes(room));
      const other = await c.connectClient(server, { transports: ['websocket'], auth: { mode: 'open' } });
      await rpc(other, 'broadcast', [{ rooms: [room], event: 'news', data: { n: 1 } }]);
      assert.deepEqual(await ann.inbox.take('news'), [{ n: 1 }]);
      assert.equal(other.inbox.count('news'), 0);
      // The identity and data reach the backend with a later RPC.
      assert.deepEqual(await rpc(ann, 'app:echo', ['x']), { ok: true, result: { args: ['x'] } });
      const call = await app.waitFor((r) => r.path === '/rpc' && r.json.socket.id === ann.id);
      assert.equal(call.json.socket.userId, 'ann');
      assert.deepEqual(call.json.socket.claims, { plan: 'pro' });
      assert.deepEqual(call.json.socket.data, { tier: 'gold', prefs: { a: 1 } });
      // Webhooks: the connect, then the room the backend put it in.
      await app.waitFor(
        () => app.webhookEvents('/events').some((e) => e.socket.id === ann.id && e.name === 'join'),
        5000,
        'the join webhook',
      );
      const names = app.webhookEvents('/events').filter((e) => e.socket.id === ann.id).map((e) => e.name);
      assert.deepEqual(names, ['connect', 'join']);
      const joined = app.webhookEvents('/events').find((e) => e.socket.id === ann.id && e.name === 'join');
      assert.equal(joined.room, room);
      assert.equal(joined.socket.userId, 'ann');
      await counterReaches(server, 'switchboard_backend_connects_total', ['outcome="allowed"'], 1);
    });

    test('refuse: the client gets the backend message, and nothing of the socket stays', async () => {
      const bob = c.createClient(server, { transports: ['websocket'], auth: { mode: 'deny' } });
      const err = await refused(bob);
      assert.equal(err.message, 'not welcome here');
      const req = await connectRequest(app, (j) => j.auth.mode === 'deny');
      await counterReaches(server, 'switchboard_backend_connects_total', ['outcome="denied"'], 1);
      // A refused socket was never announced.
      const open = await c.connectClient(server, { transports: ['websocket'], auth: { mode: 'open' } });
      await rpc(open, 'app:echo', []);
      await delay(100); // a webhook batch would leave within its 10 ms delay
      assert.equal(app.webhookEvents('/events').filter((e) => e.socket.id === req.json.socket.id).length, 0);
    });

    for (const transport of ['polling', 'websocket']) {
      test(`cookie and authorization of the ${transport} handshake reach the backend`, async () => {
        const sess = c.nonce('s');
        const s = c.createClient(server, {
          transports: [transport],
          auth: { mode: 'cookie', t: transport },
          extraHeaders: { cookie: `theme=dark; session=${sess}`, authorization: 'Bearer handshake-token' },
        });
        await c.connected(s);
        const req = await connectRequest(app, (j) => j.auth.mode === 'cookie' && j.auth.t === transport);
        assert.deepEqual(req.json.headers, {
          cookie: `theme=dark; session=${sess}`,
          authorization: 'Bearer handshake-token',
        });
        await rpc(s, 'app:echo', []);
        const call = await app.waitFor((r) => r.path === '/rpc' && r.json.socket.id === s.id);
        assert.equal(call.json.socket.userId, `session-${sess}`);
        // Without a cookie the backend says no.
        const none = c.createClient(server, { transports: [transport], auth: { mode: 'cookie', t: `${transport}-none` } });
        assert.equal((await refused(none)).message, 'no session');
        const noneReq = await connectRequest(app, (j) => j.auth.t === `${transport}-none`);
        assert.deepEqual(noneReq.json.headers, {});
      });
    }

    test('an answer outside the contract or a 500 refuses with "backend unavailable"', async () => {
      for (const mode of ['badjson', '500']) {
        const s = c.createClient(server, { transports: ['websocket'], auth: { mode } });
        assert.equal((await refused(s)).message, 'backend unavailable');
      }
      await counterReaches(server, 'switchboard_backend_connects_total', ['outcome="unavailable"'], 2);
      assert.match(server.output(), /connect refused: backend 'app' answered outside the contract/);
      assert.match(server.output(), /connect refused: backend 'app' answered HTTP 500/);
    });

    test('the transport closing while pending: no leak, the late answer is ignored', async () => {
      const release = gate(app);
      const user = c.nonce('late');
      const s = c.createClient(server, { transports: ['websocket'], auth: { mode: 'gate', user, room: user } });
      const req = await connectRequest(app, (j) => j.auth.user === user);
      const before = metricValue(await metrics(server), 'switchboard_backend_connects_total', ['outcome="abandoned"']);
      s.io.engine.close();
      await counterReaches(server, 'switchboard_backend_connects_total', ['outcome="abandoned"'], before + 1);
      release();
      await inFlightDrains(server);
      const open = await c.connectClient(server, { transports: ['websocket'], auth: { mode: 'open' } });
      await rpc(open, 'app:echo', []);
      await delay(100); // webhook batches leave within 10 ms
      assert.equal(app.webhookEvents('/events').filter((e) => e.socket.id === req.json.socket.id).length, 0);
    });

    test('a packet for the namespace while its connect is pending closes the connection, as in Node', async () => {
      const release = gate(app);
      const user = c.nonce('eager');
      const raw = await c.RawWs.open(server, { autoPong: true });
      await c.readOpenPacket(raw);
      raw.send(`40${JSON.stringify({ mode: 'gate', user })}`);
      await connectRequest(app, (j) => j.auth.user === user);
      const rpcsBefore = app.requests.filter((r) => r.path === '/rpc').length;
      raw.send('42["app:echo","too early"]');
      await raw.waitClosed();
      release();
      await inFlightDrains(server);
      assert.equal(app.requests.filter((r) => r.path === '/rpc').length, rpcsBefore, 'the event was not handled');
    });

    test('a reload while connects are pending hands them to the new instance: each is answered once', async () => {
      const release = gate(app);
      const users = [c.nonce('r1'), c.nonce('r2')];
      const sockets = users.map((user) =>
        c.createClient(server, { transports: ['websocket'], auth: { mode: 'gate', user, room: user } }),
      );
      const connects = [];
      for (const s of sockets) s.on('connect', () => connects.push(s.id));
      for (const user of users) await connectRequest(app, (j) => j.auth.user === user);
      const r = await reload(server, {
        modules: { backend: { config: proxyConfig(app, { max_rpcs_per_socket: 17 }).modules.backend.config } },
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.match(JSON.stringify(r.json), /backend/);
      release();
      await Promise.all(sockets.map((s) => c.connected(s, 5000)));
      for (let i = 0; i < users.length; i += 1) assert.ok((await rpc(sockets[i], 'rooms')).includes(users[i]));
      await delay(200); // a second CONNECT answer would follow right behind
      assert.equal(connects.length, 2);
      for (const user of users)
        assert.equal(app.requests.filter((x) => x.path === '/connect' && x.json.auth.user === user).length, 1);
      await inFlightDrains(server);
    });

    test('a reload that takes the backend out of the chain refuses its pending connects', async () => {
      const release = gate(app);
      const user = c.nonce('gone');
      const s = c.createClient(server, { transports: ['websocket'], auth: { mode: 'gate', user } });
      const refusal = refused(s, 15000); // listening before the reload answers it
      await connectRequest(app, (j) => j.auth.user === user);
      const r = await reload(server, { namespaces: { '/': { modules: ['echo', 'test_rooms'] } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal((await refusal).message, 'connect aborted by a reload');
      release();
      // Without the proxy in the chain a connect is accepted at once.
      await c.connectClient(server, { transports: ['websocket'], auth: { mode: 'deny' } });
      const back = await reload(server, { namespaces: { '/': { modules: ['backend', 'echo', 'test_rooms'] } } });
      assert.equal(back.status, 200, JSON.stringify(back.json));
      await inFlightDrains(server);
    });

    test('auth_jwt first: the backend sees the verified identity and may enrich it', async () => {
      const jay = c.createClient(server, {
        namespace: '/jwt',
        transports: ['websocket'],
        auth: { token: token({ sub: 'jay', role: 'admin' }), mode: 'enrich', tag: 'jay' },
      });
      await c.connected(jay);
      const req = await connectRequest(app, (j) => j.auth.tag === 'jay');
      assert.equal(req.json.socket.namespace, '/jwt');
      assert.equal(req.json.socket.userId, 'jay');
      assert.equal(req.json.socket.claims.role, 'admin');
      await rpc(jay, 'app:echo', []);
      const call = await app.waitFor((r) => r.path === '/rpc' && r.json.socket.id === jay.id);
      assert.equal(call.json.socket.userId, 'jay', 'the user id auth_jwt set stays');
      assert.equal(call.json.socket.claims.plan, 'team');
      assert.equal(call.json.socket.claims.role, 'admin');
      // A bad token is refused by auth_jwt: the backend is never asked.
      const before = app.requests.filter((r) => r.path === '/connect').length;
      const bad = c.createClient(server, {
        namespace: '/jwt',
        transports: ['websocket'],
        auth: { token: 'not-a-token', mode: 'allow', user: 'mallory' },
      });
      await refused(bad);
      await delay(100); // a request to the backend would have been made synchronously
      assert.equal(app.requests.filter((r) => r.path === '/connect').length, before);
    });
  });

  describe('backend: connect proxy failures', () => {
    test('backend down: refused promptly with "backend unavailable", the server stays up', async () => {
      const port = await closedPort();
      const server = await startServer({
        config: {
          engineio: ENGINEIO,
          modules: {
            backend: {
              config: {
                backends: { down: { url: `http://127.0.0.1:${port}`, connect_timeout: '1s' } },
                connect: '/connect',
              },
            },
          },
          namespaces: { '/': { modules: ['backend', 'echo', 'test_rooms'] } },
        },
      });
      const started = Date.now();
      const s = c.createClient(server, { transports: ['websocket'] });
      assert.equal((await refused(s)).message, 'backend unavailable');
      assert.ok(Date.now() - started < 3000, `refused after ${Date.now() - started} ms`);
      await counterReaches(server, 'switchboard_backend_connects_total', ['backend="down"', 'outcome="unavailable"'], 1);
      assert.equal((await c.request(server, { path: '/healthz' })).status, 200);
      await server.stop();
    });

    test('socketio.connect_timeout bounds a backend that never answers', async () => {
      const app = new BackendApp();
      app.handler = () => null;
      await app.start();
      const server = await startServer({
        config: {
          engineio: ENGINEIO,
          socketio: { connect_timeout: '800ms' },
          modules: {
            backend: { config: { backends: { app: { url: app.url, timeout: '60s' } }, connect: { path: '/connect' } } },
          },
          namespaces: { '/': { modules: ['backend', 'echo', 'test_rooms'] } },
        },
      });
      const started = Date.now();
      const s = c.createClient(server, { transports: ['websocket'] });
      assert.equal((await refused(s, 5000)).message, 'connect timeout');
      const took = Date.now() - started;
      assert.ok(took >= 700 && took < 4000, `refused after ${took} ms`);
      await counterReaches(server, 'switchboard_backend_connects_total', ['outcome="timeout"'], 1);
      await inFlightDrains(server);
      await server.stop();
      await app.stop();
    });
  });
}
