'use strict';
// The backend module: client events forwarded as RPCs to the application's
// own HTTP backend (a real node:http server started here), the answers'
// results, errors and actions, every limit and failure, webhooks with
// retries, a reload with RPCs in flight, HTTPS with a test CA, and the
// example backends of docs/backend.md (Node, Python, Go) run for real. Switchboard only.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');
const { ADMIN_TOKEN, authJwtConfig, connectAs, reload } = require('./lib/auth');
const { BackendApp, verifySignature } = require('./lib/backend_app');
const { delay, closedPort, rpc, metrics, metricValue, inFlightDrains } = require('./lib/backend_helpers');

const SIGNING_SECRET = 'backend-signing-secret-0123456789';
const ROOT = path.join(__dirname, '..', '..');
// Heartbeats slow enough that a loaded machine does not drop a client while
// a test waits for a slow backend.
const ENGINEIO = { ping_interval: '5s', ping_timeout: '10s' };

/** What the test backend answers, by event name (and the webhook path). */
function standardHandler(app) {
  return async (req, res) => {
    if (req.path === '/events') return { status: app.webhookStatus || 200, json: {} };
    const { event = '', args } = req.json || {};
    // app:echo, flaky:echo, ...: the part after the first ':' says what to do.
    switch (event.slice(event.indexOf(':') + 1)) {
      case 'echo':
        return { json: { result: { args } } };
      case 'fail':
        return { json: { error: args[0] } };
      case 'act':
        return { json: { result: 'done', actions: args[0] } };
      case 'slow':
        await delay(args[0]);
        return { json: { result: 'slow' } };
      case 'gate':
        await app.gate;
        return { json: { result: args[0] } };
      case 'hang':
        return null;
      case '500':
        return { status: 500, json: { result: 'ignored' } };
      case 'badjson':
        return { body: '{"result": nope' };
      case 'nocontract':
        return { json: { hello: 'world' } };
      case 'huge': {
        // 50 MB, streamed: the server must give up at its response cap.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1 << 20, 'a');
        res.write('{"result":"');
        let sent = 0;
        const more = () => {
          while (sent < 50 && !res.destroyed) {
            sent += 1;
            if (!res.write(chunk)) return res.once('drain', more);
          }
          if (!res.destroyed) res.end('"}');
          return undefined;
        };
        res.on('error', () => {});
        more();
        return null;
      }
      default:
        return { status: 404, json: { error: { code: 'NOT_FOUND', message: `no handler for ${event}` } } };
    }
  };
}

function backendModule(config) {
  return {
    engineio: ENGINEIO,
    modules: {
      auth_jwt: { config: authJwtConfig() },
      backend: { config },
    },
    namespaces: { '/': { modules: ['auth_jwt', 'echo', 'test_rooms', 'backend'] } },
  };
}

if (IS_SWITCHBOARD) {
  describe('backend: RPC proxy', () => {
    let app;
    let flaky;
    let server;
    let downPort;

    before(async () => {
      app = new BackendApp({ secret: SIGNING_SECRET });
      app.handler = standardHandler(app);
      await app.start();
      flaky = new BackendApp();
      flaky.handler = standardHandler(flaky);
      await flaky.start();
      downPort = await closedPort();
      server = await startServer({
        config: backendModule({
          backends: {
            app: {
              url: `${app.url}/`,
              secret: SIGNING_SECRET,
              headers: { Authorization: 'Bearer static-app-token' },
              timeout: '1500ms',
              max_response_bytes: 65536,
            },
            flaky: { url: flaky.url, timeout: '5s' },
            down: { url: `http://127.0.0.1:${downPort}`, connect_timeout: '1s' },
          },
          rpc: [
            { event: 'flaky:*', backend: 'flaky', path: '/rpc' },
            { event: 'down:*', backend: 'down', path: '/rpc' },
            { event: 'app:*', backend: 'app', path: '/rpc' },
          ],
          max_rpcs_per_socket: 10,
          max_request_bytes: 4096,
        }),
      });
    });
    after(async () => {
      await app.stop();
      await flaky.stop();
    });

    test('result: the ack carries the result; the request has the contract shape and a valid signature', async () => {
      const alice = await connectAs(server, { sub: 'alice', role: 'member' });
      assert.deepEqual(await rpc(alice, 'app:echo', [{ item: 'book' }, 2]), {
        ok: true,
        result: { args: [{ item: 'book' }, 2] },
      });
      const req = await app.waitFor((r) => r.json && r.json.event === 'app:echo' && r.json.socket.id === alice.id);
      assert.equal(req.path, '/rpc');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers.authorization, 'Bearer static-app-token');
      assert.equal(req.signed, true, `signature ${req.headers['x-switchboard-signature']} does not verify`);
      const t = Number(/^t=(\d+),/.exec(req.headers['x-switchboard-signature'])[1]);
      assert.ok(Math.abs(t - Date.now() / 1000) < 60, 'the signature carries the current time');
      assert.equal(verifySignature('another secret', req.headers['x-switchboard-signature'], req.body), false);
      assert.deepEqual(Object.keys(req.json).sort(), ['args', 'event', 'socket', 'type']);
      assert.equal(req.json.type, 'rpc');
      assert.deepEqual(req.json.args, [{ item: 'book' }, 2]);
      const s = req.json.socket;
      assert.equal(s.namespace, '/');
      assert.equal(s.userId, 'alice');
      assert.deepEqual(s.claims, { sub: 'alice', role: 'member' });
      assert.equal(s.remoteAddress, '127.0.0.1');
      // Events no rule names are left to the rest of the chain (test_rooms here).
      const before = app.requests.length;
      assert.ok(Array.isArray(await rpc(alice, 'rooms')));
      assert.equal(app.requests.length, before);
    });

    test('error: an uppercase code passes through, anything else becomes INTERNAL', async () => {
      const bob = await connectAs(server, { sub: 'bob' });
      assert.deepEqual(await rpc(bob, 'app:fail', [{ code: 'OUT_OF_STOCK', message: 'no more books' }]), {
        ok: false,
        error: { code: 'OUT_OF_STOCK', message: 'no more books' },
      });
      assert.deepEqual(await rpc(bob, 'app:fail', [{ code: 'out of stock', message: 'lower case' }]), {
        ok: false,
        error: { code: 'INTERNAL', message: 'lower case' },
      });
      assert.deepEqual(await rpc(bob, 'app:fail', [{ message: 'no code' }]), {
        ok: false,
        error: { code: 'INTERNAL', message: 'no code' },
      });
    });

    test('actions join and leave: the room broadcasts reach the socket only while it is in the room', async () => {
      const carol = await connectAs(server, { sub: 'carol' });
      const dave = await connectAs(server, { sub: 'dave' });
      const room = c.nonce('order');
      assert.deepEqual(await rpc(carol, 'app:act', [[{ join: room }]]), { ok: true, result: 'done' });
      assert.ok((await rpc(carol, 'rooms')).includes(room));
      await rpc(dave, 'app:act', [[{ emit: { rooms: [room], event: 'order:updated', args: [{ n: 1 }] } }]]);
      assert.deepEqual(await carol.inbox.take('order:updated'), [{ n: 1 }]);
      assert.equal(dave.inbox.count('order:updated'), 0, 'dave is not in the room');
      assert.deepEqual(await rpc(carol, 'app:act', [[{ leave: room }]]), { ok: true, result: 'done' });
      assert.ok(!(await rpc(carol, 'rooms')).includes(room));
      await rpc(dave, 'app:act', [[{ emit: { rooms: room, event: 'order:updated', args: [{ n: 2 }] } }]]);
      // A later emit to carol herself arrives after anything the room broadcast would have sent.
      await rpc(dave, 'app:act', [[{ emit: { socket: carol.id, event: 'marker', args: [] } }]]);
      await carol.inbox.take('marker');
      assert.equal(carol.inbox.count('order:updated'), 1, 'no broadcast after leave');
    });

    test('action emit: to users, to one socket, to the caller; in order before the ack', async () => {
      const erin1 = await connectAs(server, { sub: 'erin' });
      const erin2 = await connectAs(server, { sub: 'erin' });
      const frank = await connectAs(server, { sub: 'frank' });
      const order = [];
      frank.onAny((event) => order.push(event));
      const answer = await new Promise((resolve) => {
        frank.emit(
          'app:act',
          [
            { emit: { users: ['erin'], event: 'to-erin', args: ['hi', 1] } },
            { emit: { socket: erin2.id, event: 'to-erin2', args: [] } },
            { emit: { event: 'to-caller', args: [{ x: true }] } },
          ],
          (a) => {
            order.push('ack');
            resolve(a);
          },
        );
      });
      assert.deepEqual(answer, { ok: true, result: 'done' });
      assert.deepEqual(order, ['to-caller', 'ack'], 'the caller hears its emit before the ack');
      assert.deepEqual(await erin1.inbox.take('to-erin'), ['hi', 1]);
      assert.deepEqual(await erin2.inbox.take('to-erin'), ['hi', 1]);
      assert.deepEqual(await erin2.inbox.take('to-erin2'), []);
      assert.equal(erin1.inbox.count('to-erin2'), 0);
      assert.equal(frank.inbox.count('to-erin'), 0);
    });

    test('action data: the values come back in socket.data of later requests', async () => {
      const gina = await connectAs(server, { sub: 'gina' });
      await rpc(gina, 'app:act', [[{ data: { cart: 'c-17', items: 3, flags: { vip: true } } }]]);
      await rpc(gina, 'app:echo', ['after']);
      let req = await app.waitFor((r) => r.json && r.json.socket.id === gina.id && r.json.args[0] === 'after');
      assert.deepEqual(req.json.socket.data, { cart: 'c-17', items: 3, flags: { vip: true } });
      await rpc(gina, 'app:act', [[{ data: { cart: null, items: 4 } }]]);
      await rpc(gina, 'app:echo', ['later']);
      req = await app.waitFor((r) => r.json && r.json.socket.id === gina.id && r.json.args[0] === 'later');
      assert.deepEqual(req.json.socket.data, { items: 4, flags: { vip: true } });
    });

    test('action disconnect: the client gets its ack, then is disconnected', async () => {
      const hank = await connectAs(server, { sub: 'hank' });
      const gone = c.waitFor(hank, 'disconnect');
      assert.deepEqual(await rpc(hank, 'app:act', [[{ emit: { event: 'bye', args: [] } }, { disconnect: true }]]), {
        ok: true,
        result: 'done',
      });
      assert.equal((await gone)[0], 'io server disconnect');
      assert.equal(hank.inbox.count('bye'), 1);
    });

    test('an answer that breaks the contract in one action applies none of them', async () => {
      const ivy = await connectAs(server, { sub: 'ivy' });
      const answer = await rpc(ivy, 'app:act', [[{ emit: { event: 'first', args: [] } }, { teleport: 'moon' }]]);
      assert.equal(answer.ok, false);
      assert.equal(answer.error.code, 'UNAVAILABLE');
      assert.match(answer.error.message, /unknown action 'teleport'/);
      await c.assertEchoes(ivy, assert);
      assert.equal(ivy.inbox.count('first'), 0);
    });

    test('an event without an ack is still forwarded: its actions apply, its result is dropped', async () => {
      const jack = await connectAs(server, { sub: 'jack' });
      jack.emit('app:act', [{ emit: { event: 'no-ack-done', args: [7] } }]);
      assert.deepEqual(await jack.inbox.take('no-ack-done'), [7]);
      await app.waitFor((r) => r.json && r.json.socket.id === jack.id);
      // A failure without an ack arrives as an `error` event.
      jack.emit('app:fail', { code: 'NOPE', message: 'refused' });
      assert.deepEqual(await jack.inbox.take('error'), [{ code: 'NOPE', message: 'refused', event: 'app:fail' }]);
      await c.assertEchoes(jack, assert);
    });

    test('binary arguments are forwarded as base64 under $binary', async () => {
      const kim = await connectAs(server, { sub: 'kim' });
      const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
      const answer = await rpc(kim, 'app:echo', [{ name: 'photo.png', data: bytes }, bytes.subarray(0, 1)]);
      assert.deepEqual(answer, {
        ok: true,
        result: { args: [{ name: 'photo.png', data: { $binary: bytes.toString('base64') } }, { $binary: 'AA==' }] },
      });
    });

    test('a request over max_request_bytes is refused with INVALID and never sent', async () => {
      const leo = await connectAs(server, { sub: 'leo' });
      const before = app.requests.length;
      const answer = await rpc(leo, 'app:echo', ['x'.repeat(5000)]);
      assert.equal(answer.ok, false);
      assert.equal(answer.error.code, 'INVALID');
      assert.match(answer.error.message, /more than the 4096/);
      await rpc(leo, 'app:echo', ['small']);
      assert.ok(!app.requests.slice(before).some((r) => r.body.includes('xxxxxxxxxx')));
    });

    test('100 concurrent RPCs from one socket: the per-socket limit refuses some with RATE_LIMITED, none is lost', async () => {
      const mia = await connectAs(server, { sub: 'mia' });
      const answers = await Promise.all(Array.from({ length: 100 }, () => rpc(mia, 'app:slow', [150], 10000)));
      const ok = answers.filter((a) => a.ok);
      const limited = answers.filter((a) => !a.ok && a.error.code === 'RATE_LIMITED');
      assert.equal(ok.length + limited.length, 100, JSON.stringify(answers.filter((a) => !a.ok && a.error.code !== 'RATE_LIMITED')));
      assert.ok(ok.length >= 10, `${ok.length} answered`);
      assert.ok(limited.length > 0, 'some were over the limit');
      assert.ok(ok.every((a) => a.result === 'slow'));
      // The slots come back: a later RPC goes through.
      assert.deepEqual(await rpc(mia, 'app:echo', []), { ok: true, result: { args: [] } });
    });

    test('failures answer UNAVAILABLE promptly: backend down, hangs, 500, invalid JSON, not the contract, 50 MB', async () => {
      const nora = await connectAs(server, { sub: 'nora' });
      const cases = [
        ['down:order', /not reachable/, 3000],
        ['app:hang', /did not answer in time/, 4000],
        ['app:500', /answered HTTP 500/, 1500],
        ['app:badjson', /not JSON/, 1500],
        ['app:nocontract', /neither result nor error/, 1500],
        ['app:huge', /more than 65536 bytes/, 4000],
      ];
      for (const [event, message, within] of cases) {
        const started = Date.now();
        const answer = await rpc(nora, event, [], 8000);
        assert.equal(answer.ok, false, event);
        assert.equal(answer.error.code, 'UNAVAILABLE', `${event}: ${JSON.stringify(answer)}`);
        assert.match(answer.error.message, message, event);
        assert.ok(Date.now() - started < within, `${event} took ${Date.now() - started} ms`);
      }
      const m = await metrics(server);
      assert.ok(metricValue(m, 'switchboard_backend_rpcs_total', ['backend="app"', 'outcome="unavailable"']) >= 5, m);
      assert.ok(metricValue(m, 'switchboard_backend_rpcs_total', ['backend="down"', 'outcome="unavailable"']) >= 1);
      assert.ok(server.isRunning());
      await c.assertEchoes(nora, assert);
      await inFlightDrains(server);
    });

    test('a backend restarted mid-run: waiting clients get UNAVAILABLE, later ones are answered, nothing leaks', async () => {
      const olga = await connectAs(server, { sub: 'olga' });
      const pending = Array.from({ length: 5 }, () => rpc(olga, 'flaky:slow', [3000], 8000));
      await flaky.waitFor(() => flaky.requests.filter((r) => r.json && r.json.socket.id === olga.id).length >= 5);
      const started = Date.now();
      await flaky.stop();
      const answers = await Promise.all(pending);
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
      for (const a of answers) assert.equal(a.error && a.error.code, 'UNAVAILABLE', JSON.stringify(a));
      const whileDown = await rpc(olga, 'flaky:echo', ['down']);
      assert.equal(whileDown.error.code, 'UNAVAILABLE');
      await flaky.start();
      assert.deepEqual(await rpc(olga, 'flaky:echo', ['back']), { ok: true, result: { args: ['back'] } });
      await inFlightDrains(server);
      assert.ok(server.isRunning());
    });
  });

  describe('backend: limits per backend', () => {
    let app;
    let server;

    before(async () => {
      app = new BackendApp();
      app.handler = standardHandler(app);
      await app.start();
      server = await startServer({
        config: backendModule({
          backends: { app: { url: app.url, max_in_flight: 2, max_queue: 3 } },
          rpc: [{ event: 'app:*', path: '/rpc' }],
          binary: 'refuse',
        }),
      });
    });
    after(() => app.stop());

    test('over max_in_flight RPCs wait in the queue; beyond the queue they get UNAVAILABLE', async () => {
      // One socket: its events reach the server in the order sent.
      const s = await connectAs(server, { sub: 'queue' });
      let release;
      app.gate = new Promise((r) => {
        release = r;
      });
      const answers = [];
      for (let i = 0; i < 7; i += 1) answers.push(rpc(s, 'app:gate', [i], 8000));
      // Two in flight at the backend; three queued; two refused at once.
      const refused = await Promise.race([Promise.all([answers[5], answers[6]]), delay(3000).then(() => null)]);
      assert.ok(refused, 'the RPCs beyond the queue were answered at once');
      for (const a of refused) {
        assert.equal(a.error.code, 'UNAVAILABLE');
        assert.match(a.error.message, /overloaded: 2 requests in flight and 3 waiting/);
      }
      const gated = () => app.requests.filter((r) => r.json && r.json.event === 'app:gate').length;
      await app.waitFor(() => gated() >= 2, 5000, 'two requests at the backend');
      await delay(200); // a third request would arrive right behind
      assert.equal(gated(), 2, 'no more than max_in_flight at once');
      release();
      const done = await Promise.all(answers.slice(0, 5));
      assert.deepEqual(done.map((a) => a.result), [0, 1, 2, 3, 4]);
    });

    test('binary: refuse answers INVALID for an event with binary arguments', async () => {
      const b = await connectAs(server, { sub: 'bin' });
      const answer = await rpc(b, 'app:echo', [Buffer.from('abc')]);
      assert.equal(answer.error.code, 'INVALID');
      assert.match(answer.error.message, /binary arguments are not forwarded/);
    });
  });

  describe('backend: webhooks', () => {
    let app;
    let server;

    before(async () => {
      app = new BackendApp({ secret: SIGNING_SECRET });
      app.handler = standardHandler(app);
      await app.start();
      server = await startServer({
        config: backendModule({
          backends: { app: { url: app.url, secret: SIGNING_SECRET, timeout: '1s' } },
          webhooks: { path: '/events', batch_delay: '20ms', retry_initial: '100ms', retry_max: '300ms', max_queue: 1000 },
        }),
      });
    });
    after(() => app.stop());

    function eventsOf(sid) {
      return app.webhookEvents('/events').filter((e) => e.socket.id === sid);
    }

    test('connect, join, leave and disconnect arrive signed, in order, with the socket', async () => {
      const s = await connectAs(server, { sub: 'wendy' });
      const sid = s.id;
      await rpc(s, 'join', ['lobby']);
      await rpc(s, 'leave', ['lobby']);
      s.disconnect();
      await app.waitFor(() => eventsOf(sid).some((e) => e.name === 'disconnect'), 5000, 'the disconnect webhook');
      const events = eventsOf(sid);
      // user:wendy is auth_jwt's user room, joined before the connect completed.
      assert.deepEqual(
        events.map((e) => [e.name, e.room || e.reason || null]),
        [
          ['connect', null],
          ['join', 'user:wendy'],
          ['join', 'lobby'],
          ['leave', 'lobby'],
          ['leave', 'user:wendy'],
          ['disconnect', 'client namespace disconnect'],
        ],
      );
      for (const e of events) {
        assert.equal(e.socket.userId, 'wendy');
        assert.equal(e.socket.namespace, '/');
        assert.equal(typeof e.ts, 'number');
        assert.match(e.id, /^[0-9a-f]{16}-\d+$/);
      }
      const requests = app.requests.filter((r) => r.path === '/events');
      assert.ok(requests.every((r) => r.signed === true && r.json.type === 'events'));
    });

    test('while the backend answers 500 events are held and retried, then delivered in order with the same ids', async () => {
      app.webhookStatus = 500;
      const s = await connectAs(server, { sub: 'xena' });
      const sid = s.id;
      await rpc(s, 'join', ['r1']);
      await rpc(s, 'join', ['r2']);
      s.disconnect();
      // At least two failed attempts that carry this socket's events.
      await app.waitFor(
        () => app.requests.filter((r) => r.path === '/events' && r.status === 500 && r.body.includes(sid)).length >= 2,
        5000,
        'retried webhook batches',
      );
      app.webhookStatus = 200;
      await app.waitFor((r) => r.path === '/events' && r.status === 200 && r.body.includes(sid), 5000, 'delivery');
      await app.waitFor(
        () =>
          app.requests
            .filter((r) => r.path === '/events' && r.status === 200)
            .flatMap((r) => r.json.events)
            .some((e) => e.socket.id === sid && e.name === 'disconnect'),
        5000,
        'the disconnect delivered',
      );
      const delivered = app.requests
        .filter((r) => r.path === '/events' && r.status === 200)
        .flatMap((r) => r.json.events)
        .filter((e) => e.socket.id === sid);
      const names = delivered.map((e) => `${e.name}:${e.room || ''}`);
      assert.deepEqual(names.slice(0, 4), ['connect:', 'join:user:xena', 'join:r1', 'join:r2']);
      assert.deepEqual(names.slice(4, 7).sort(), ['leave:r1', 'leave:r2', 'leave:user:xena']);
      assert.deepEqual(names.slice(7), ['disconnect:']);
      // Retries repeat the ids: a backend deduplicates on them.
      const failedIds = app.requests
        .filter((r) => r.path === '/events' && r.status === 500)
        .flatMap((r) => r.json.events)
        .filter((e) => e.socket.id === sid)
        .map((e) => e.id);
      const deliveredIds = delivered.map((e) => e.id);
      assert.ok(failedIds.length > 0 && failedIds.every((id) => deliveredIds.includes(id)));
      assert.equal(new Set(deliveredIds).size, deliveredIds.length, 'no id delivered twice once answered 200');
      const seqs = deliveredIds.map((id) => Number(id.split('-')[1]));
      assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, 'in id order');
      const m = await metrics(server);
      assert.ok(metricValue(m, 'switchboard_backend_webhook_retries_total', ['module="backend"']) >= 2, m);
    });

    test('queue overflow: events beyond max_queue are dropped, counted and logged once', async () => {
      const small = await startServer({
        config: backendModule({
          backends: { app: { url: app.url, timeout: '1s' } },
          webhooks: { path: '/down', batch_size: 2, batch_delay: '10ms', retry_initial: '5s', max_queue: 3 },
        }),
      });
      const sockets = [];
      for (let i = 0; i < 4; i += 1) sockets.push(await connectAs(small, { sub: `o${i}` }));
      for (const s of sockets) await rpc(s, 'join', ['crowd']);
      const m = await metrics(small);
      const dropped = metricValue(m, 'switchboard_backend_webhook_events_total', ['module="backend"', 'outcome="dropped"']);
      assert.ok(dropped >= 4, `dropped ${dropped}\n${m}`);
      assert.equal((small.output().match(/webhook queue full/g) || []).length, 1, small.output());
      await small.stop();
    });
  });

  describe('backend: reload with RPCs in flight', () => {
    let app;
    let server;

    before(async () => {
      app = new BackendApp();
      app.handler = standardHandler(app);
      await app.start();
      server = await startServer({
        config: {
          ...backendModule({
            backends: { app: { url: app.url, max_in_flight: 3, timeout: '10s' } },
            rpc: [{ event: 'app:*', path: '/rpc' }],
            max_rpcs_per_socket: 20,
            webhooks: { path: '/events', batch_delay: '10ms', retry_initial: '100ms', retry_max: '200ms' },
          }),
          admin: { token: ADMIN_TOKEN },
        },
      });
    });
    after(() => app.stop());

    test('every pending client gets exactly one ack, whether its request was in flight or queued', async () => {
      const s = await connectAs(server, { sub: 'rita' });
      const acks = new Map();
      s.io.engine.on('packet', (p) => {
        const m = p.type === 'message' && /^3(\d+)/.exec(p.data);
        if (m) acks.set(m[1], (acks.get(m[1]) || 0) + 1);
      });
      let release;
      app.gate = new Promise((r) => {
        release = r;
      });
      const answers = Array.from({ length: 6 }, (_, i) => rpc(s, 'app:gate', [i], 15000));
      await app.waitFor(() => app.requests.filter((r) => r.json && r.json.event === 'app:gate').length >= 3);
      const r = await reload(server, { modules: { backend: { config: { max_rpcs_per_socket: 21 } } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.ok(JSON.stringify(r.json).includes('backend'), JSON.stringify(r.json));
      release();
      const done = await Promise.all(answers);
      assert.deepEqual(done.map((a) => a.result), [0, 1, 2, 3, 4, 5]);
      await delay(300); // a duplicate ack would arrive right behind the first
      assert.equal(acks.size, 6);
      assert.ok([...acks.values()].every((n) => n === 1), JSON.stringify([...acks]));
      assert.deepEqual(await rpc(s, 'app:echo', ['after']), { ok: true, result: { args: ['after'] } });
      await inFlightDrains(server);
    });

    test('webhook events held while the backend fails are delivered by the new instance, same ids', async () => {
      app.webhookStatus = 500;
      const s = await connectAs(server, { sub: 'sam' });
      await rpc(s, 'join', ['handover']);
      const failedIds = (
        await app.waitFor(
          (r) => r.path === '/events' && r.status === 500 && r.body.includes('"room":"handover"'),
          5000,
          'a failed webhook batch',
        )
      ).json.events
        .filter((e) => e.socket.id === s.id)
        .map((e) => e.id);
      const r = await reload(server, { modules: { backend: { config: { max_rpcs_per_socket: 22 } } } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      app.webhookStatus = 200;
      const delivered = await app.waitFor(
        (x) => x.path === '/events' && x.status === 200 && x.body.includes('"room":"handover"'),
        5000,
        'the batch delivered after the reload',
      );
      const ids = delivered.json.events.filter((e) => e.socket.id === s.id).map((e) => e.id);
      assert.deepEqual(ids.slice(0, failedIds.length), failedIds);
      assert.deepEqual(
        delivered.json.events.filter((e) => e.socket.id === s.id).map((e) => e.name),
        ['connect', 'join', 'join'],
      );
    });
  });

  describe('backend: HTTPS with a test CA', () => {
    let dir;
    let app;
    let server;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-backend-tls-'));
      const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Backend Test CA');
      ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '1', '-subj', '/CN=Other CA');
      ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
      fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
      ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
      app = new BackendApp({
        tls: { key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) },
      });
      app.handler = standardHandler(app);
      await app.start();
      server = await startServer({
        config: {
          ...backendModule({
            backends: {
              own_ca: { url: app.url, ca_file: path.join(dir, 'ca.pem') },
              server_ca: { url: app.url },
              wrong_ca: { url: app.url, ca_file: path.join(dir, 'other.pem') },
            },
            rpc: [
              { event: 'own:*', backend: 'own_ca', path: '/rpc' },
              { event: 'server:*', backend: 'server_ca', path: '/rpc' },
              { event: 'wrong:*', backend: 'wrong_ca', path: '/rpc' },
            ],
          }),
          http_client: { ca_file: path.join(dir, 'ca.pem') },
        },
      });
    });
    after(async () => {
      await app.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('verified with the backend ca_file or http_client.ca_file; a wrong CA is UNAVAILABLE', async () => {
      const s = await connectAs(server, { sub: 'tina' });
      app.handler = () => ({ json: { result: 'over tls' } });
      assert.deepEqual(await rpc(s, 'own:x'), { ok: true, result: 'over tls' });
      assert.deepEqual(await rpc(s, 'server:x'), { ok: true, result: 'over tls' });
      const wrong = await rpc(s, 'wrong:x');
      assert.equal(wrong.error.code, 'UNAVAILABLE');
      assert.match(wrong.error.message, /TLS/);
    });
  });

  describe('backend: the examples of docs/backend.md', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'backend.md'), 'utf8');
    const exampleYaml = fs.readFileSync(path.join(ROOT, 'conf', 'examples', 'backend.yaml'), 'utf8');
    const children = [];
    let dir;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-backend-examples-'));
    });
    after(() => {
      for (const child of children) child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The fenced block of `lang` whose first line is `firstLine`. */
    function block(lang, firstLine) {
      const re = new RegExp('```' + lang + '\\n(' + firstLine.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '[^\\n]*\\n[\\s\\S]*?)```');
      const m = re.exec(doc);
      assert.ok(m, `docs/backend.md has a ${lang} block starting with ${firstLine}`);
      return m[1];
    }

    function startChild(file, args, env) {
      const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => {
        output += d;
      });
      child.stderr.on('data', (d) => {
        output += d;
      });
      child.output = () => output;
      children.push(child);
      return child;
    }

    async function listening(port, child) {
      const deadline = Date.now() + 10000;
      for (;;) {
        const ok = await new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`example did not listen on ${port}:\n${child.output()}`);
        await delay(50); // readiness probe interval
      }
    }

    /** Runs conf/examples/backend.yaml against the example backend on `port`: connects, one RPC, webhooks. */
    async function exercise(port, child) {
      const yamlPort = await closedPort();
      const config = exampleYaml
        .replace('http://127.0.0.1:8000', `http://127.0.0.1:${port}`)
        .replace(/port: 3000/, `port: ${yamlPort}`)
        .replace(/address: 0\.0\.0\.0/, 'address: 127.0.0.1');
      const file = path.join(dir, `backend-${port}.yaml`);
      fs.writeFileSync(file, config);
      const sb = startChild(path.resolve(process.env.SWITCHBOARD_BIN), ['-c', file, '--modules-path', path.resolve(process.env.SWITCHBOARD_MODULES)], {});
      await listening(yamlPort, sb);
      const handle = { url: `http://127.0.0.1:${yamlPort}`, path: '/socket.io/', port: yamlPort };
      // The example's connect proxy: a name in the CONNECT payload or a
      // session cookie makes the user; nothing is refused with its message.
      const anonymous = c.createClient(handle, { transports: ['websocket'] });
      await assert.rejects(c.connected(anonymous), /sign in first/);
      const byCookie = await c.connectClient(handle, { transports: ['polling'], extraHeaders: { cookie: 'session=bea' } });
      assert.equal((await rpc(byCookie, 'order:create', [{ item: 'pen' }])).result.by, 'bea');
      byCookie.disconnect();
      const s = await c.connectClient(handle, { transports: ['websocket'], auth: { name: 'ann' } });
      const answer = await rpc(s, 'order:create', [{ item: 'book', quantity: 2 }]);
      assert.equal(answer.ok, true, JSON.stringify(answer));
      assert.equal(answer.result.by, 'ann');
      assert.equal(answer.result.item, 'book');
      assert.equal(answer.result.quantity, 2);
      assert.match(String(answer.result.orderId), /.+/);
      assert.ok((await s.inbox.take('order:created')).length === 1);
      const refused = await rpc(s, 'order:create', [{ quantity: 2 }]);
      assert.deepEqual(refused.error && refused.error.code, 'INVALID');
      s.disconnect();
      const deadline = Date.now() + 5000;
      while (!/webhook connect .*verified/.test(child.output()) || !/webhook disconnect .*verified/.test(child.output())) {
        if (Date.now() > deadline) assert.fail(`the example did not log verified webhooks:\n${child.output()}`);
        await delay(50); // the example logs asynchronously
      }
      sb.kill('SIGTERM');
    }

    test('conf/examples/backend.yaml passes -t', () => {
      const out = execFileSync(path.resolve(process.env.SWITCHBOARD_BIN), [
        '-t', '-c', path.join(ROOT, 'conf', 'examples', 'backend.yaml'), '--modules-path', path.resolve(process.env.SWITCHBOARD_MODULES),
      ]);
      assert.match(String(out), /test is successful/);
    });

    test('the Node example decides connects, answers an RPC and verifies webhooks', async () => {
      const file = path.join(dir, 'backend.js');
      fs.writeFileSync(file, block('js', '// backend.js'));
      const port = await closedPort();
      const child = startChild(process.execPath, [file], { PORT: String(port) });
      await listening(port, child);
      await exercise(port, child);
    });

    test('the Python example decides connects, answers an RPC and verifies webhooks', async () => {
      const file = path.join(dir, 'backend.py');
      fs.writeFileSync(file, block('python', '# backend.py'));
      const port = await closedPort();
      const child = startChild('python3', ['-u', file], { PORT: String(port) });
      await listening(port, child);
      await exercise(port, child);
    });

    test('the Go example builds, decides connects, answers an RPC and verifies webhooks', { timeout: 120000 }, async () => {
      const file = path.join(dir, 'backend.go');
      fs.writeFileSync(file, block('go', '// backend.go'));
      const binary = path.join(dir, 'backend-go');
      execFileSync('go', ['build', '-o', binary, file], {
        env: { ...process.env, GO111MODULE: 'off', GOCACHE: path.join(dir, 'gocache'), HOME: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const port = await closedPort();
      const child = startChild(binary, [], { PORT: String(port) });
      await listening(port, child);
      await exercise(port, child);
    });
  });
}
