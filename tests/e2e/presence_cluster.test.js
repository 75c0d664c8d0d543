'use strict';
// The presence module across a cluster: nodes on one real redis-server, each
// tracking its own sockets and sharing the result with the others, so that
// every client sees the cluster-wide view (one presence:online when a user
// first appears anywhere, one presence:offline when they are gone
// everywhere), and presence:list / presence:query answer the same on every
// node. Also: a node killed with SIGKILL takes its users offline within its
// lease, and a Redis restart converges again without flapping the users
// who stayed connected. Switchboard only.
//
// "Exactly once" is checked with a sentinel: the events one node causes
// reach every other node in the order it sent them, so once an observer has
// the sentinel announcement (a later change from the same node), any
// duplicate of an earlier one would have arrived already.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { IS_SWITCHBOARD } = require('./lib/server');
const { toYaml } = require('./lib/config');
const { startCluster, metric, waitForMetric } = require('./lib/cluster');
const c = require('./lib/client');

const SECRET = crypto.randomBytes(32).toString('hex');
const GRACE_MS = 800;
const QUIET_MS = GRACE_MS + 700; // "did not happen" checks wait this long
const EVENT_TIMEOUT_MS = 6000; // cross-node events on a loaded machine

function presenceConfig(extra = {}) {
  return {
    engineio: { ping_interval: '5s', ping_timeout: '10s' },
    modules: {
      auth_jwt: { config: { keys: [{ algorithm: 'HS256', secret: SECRET }], expose_claims: ['name'] } },
      presence: { config: { rooms: ['chat:*'], claims: ['name'], grace_period: `${GRACE_MS}ms`, ...extra } },
    },
    namespaces: { '/': { modules: ['auth_jwt', 'test_rooms', 'presence'] } },
  };
}

function token(user) {
  const claims = { sub: user, name: user.toUpperCase(), exp: Math.floor(Date.now() / 1000) + 600 };
  return jwt.sign(claims, SECRET, { algorithm: 'HS256', noTimestamp: true });
}

const sockets = [];
async function connect(node, user) {
  const s = await c.connectClient(node, { transports: ['websocket'], auth: { token: token(user) } });
  sockets.push(s);
  return s;
}

async function join(socket, room) {
  assert.deepEqual(await c.ack(socket, 'join', [room]), [true]);
}

async function next(socket, event, room, userId, timeout = EVENT_TIMEOUT_MS) {
  const [payload] = await socket.inbox.take(event, {
    filter: (p) => p && p.room === room && (userId === undefined || p.userId === userId),
    timeout,
  });
  return payload;
}

function countOf(socket, event, room, userId) {
  return socket.inbox.all(event).filter(([p]) => p && p.room === room && p.userId === userId).length;
}

async function list(socket, room) {
  const [answer] = await c.ack(socket, 'presence:list', [{ room }], EVENT_TIMEOUT_MS);
  assert.equal(answer.ok, true, JSON.stringify(answer));
  return answer.users.map((u) => u.userId);
}

async function query(socket, userIds) {
  const [answer] = await c.ack(socket, 'presence:query', [{ userIds }], EVENT_TIMEOUT_MS);
  return answer.users;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value; for convergence, which no single event marks. */
async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last && last.ok !== false) return last;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await delay(100); // state poll
  }
}

/** Every presence event about `userId` in `room` that `socket` received, in order. */
function historyOf(socket, room, userId) {
  return socket.inbox.items
    .filter((i) => (i.event === 'presence:online' || i.event === 'presence:offline') && i.args[0].room === room && i.args[0].userId === userId)
    .map((i) => i.event);
}

/** Rewrites a node's configuration with `change` applied and reloads it (SIGHUP). */
async function reloadNode(node, change) {
  const config = JSON.parse(JSON.stringify(node.config));
  change(config);
  config.modules.test_rooms = { file: path.join(process.env.SWITCHBOARD_TEST_MODULES, 'test_rooms.so') };
  fs.writeFileSync(node.configPath, toYaml(config));
  const reloads = () => metric(node, 'switchboard_reloads_total', 'result="success"');
  const before = await reloads();
  node.process.kill('SIGHUP');
  await waitForMetric(node, 'switchboard_reloads_total', (v) => v > before, { labels: 'result="success"' });
}

/** A module message as the host frames it ('M', version 1, origin, module, payload), ASCII only. */
function moduleMessage(origin, module, payload) {
  const str = (s) => {
    const b = Buffer.from(s, 'latin1');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([len, b]);
  };
  return Buffer.concat([Buffer.from([0x4d, 1]), str(origin), str(module), str(payload)]).toString('latin1');
}

async function closeAndWait(socket) {
  const gone = c.waitFor(socket, 'disconnect');
  socket.close();
  await gone.catch(() => {});
}

after(() => {
  for (const s of sockets) s.close();
});

if (IS_SWITCHBOARD) {
  describe('presence on three nodes', () => {
    let cluster;
    let A, B, C;
    const room = 'chat:main';
    const observers = {}; // one observer client per node, in `room`

    before(async () => {
      cluster = await startCluster({ count: 3, config: presenceConfig(), lease: '3s' });
      [A, B, C] = cluster.nodes;
      for (const [name, node] of [['oa', A], ['ob', B], ['oc', C]]) {
        observers[name] = await connect(node, name);
        await join(observers[name], room);
      }
      // Every observer knows the other two before the tests start.
      for (const s of Object.values(observers)) {
        await until('the observers to see each other', async () => (await list(s, room)).join() === 'oa,ob,oc', 8000);
      }
    });

    test('a user on node A appears once to room members on B and C; state and list are cluster-wide', async () => {
      const alice = await connect(A, 'alice');
      await join(alice, room);
      const state = await next(alice, 'presence:state', room);
      assert.deepEqual(state.users.map((u) => u.userId), ['alice', 'oa', 'ob', 'oc'], 'users of every node, with alice');
      assert.deepEqual(state.users.find((u) => u.userId === 'ob'), { userId: 'ob', name: 'OB' }, 'claims travel');
      for (const o of [observers.ob, observers.oc, observers.oa]) {
        assert.deepEqual(await next(o, 'presence:online', room, 'alice'), { room, userId: 'alice', name: 'ALICE' });
      }
      // Sentinel from node A: later than alice's arrival, so a duplicate would be in by now.
      const sentinel = await connect(A, 'sentinel1');
      await join(sentinel, room);
      for (const o of Object.values(observers)) {
        await next(o, 'presence:online', room, 'sentinel1');
        assert.equal(countOf(o, 'presence:online', room, 'alice'), 1, 'exactly one presence:online per observer');
      }

      // A joiner on B gets presence:state with the users of A and of B.
      const bob = await connect(B, 'bob');
      await join(bob, room);
      const bobState = await next(bob, 'presence:state', room);
      assert.deepEqual(bobState.users.map((u) => u.userId), ['alice', 'bob', 'oa', 'ob', 'oc', 'sentinel1']);
      for (const o of [observers.oa, observers.oc]) await next(o, 'presence:online', room, 'bob');

      // presence:list: the same cluster-wide list on every node.
      const expected = ['alice', 'bob', 'oa', 'ob', 'oc', 'sentinel1'];
      for (const o of Object.values(observers)) assert.deepEqual(await list(o, room), expected);

      // presence:query on C about users connected only on A and B.
      const answer = await query(observers.oc, ['alice', 'bob', 'nobody']);
      assert.deepEqual(answer, [
        { userId: 'alice', online: true },
        { userId: 'bob', online: true },
        { userId: 'nobody', online: false, lastSeen: null },
      ]);
    });

    test('a user on two nodes stays online when one closes; the last one leaving gives one presence:offline after the grace period', async () => {
      const danaA = await connect(A, 'dana');
      await join(danaA, room);
      const danaB = await connect(B, 'dana');
      await join(danaB, room);
      for (const o of Object.values(observers)) await next(o, 'presence:online', room, 'dana');

      await closeAndWait(danaA);
      await delay(QUIET_MS); // past node A's grace period: nothing may be announced
      for (const o of Object.values(observers)) {
        assert.equal(countOf(o, 'presence:offline', room, 'dana'), 0, 'dana is still on node B');
        assert.ok((await list(o, room)).includes('dana'));
      }
      assert.deepEqual(await query(observers.oa, ['dana']), [{ userId: 'dana', online: true }]);

      const closedAt = Date.now();
      await closeAndWait(danaB);
      for (const o of Object.values(observers)) {
        const off = await next(o, 'presence:offline', room, 'dana');
        assert.ok(Date.now() - closedAt >= GRACE_MS - 50, 'not before the grace period');
        assert.ok(Math.abs(off.lastSeen - closedAt) < 2000, `lastSeen ${off.lastSeen} is when the last socket left (${closedAt})`);
      }
      // Sentinels from both nodes that had dana: a duplicate would be in by now.
      const sA = await connect(A, 'sentinel2a');
      await join(sA, room);
      const sB = await connect(B, 'sentinel2b');
      await join(sB, room);
      for (const o of Object.values(observers)) {
        await next(o, 'presence:online', room, 'sentinel2a');
        await next(o, 'presence:online', room, 'sentinel2b');
        assert.deepEqual(historyOf(o, room, 'dana'), ['presence:online', 'presence:offline'], 'one online, one offline');
        assert.ok(!(await list(o, room)).includes('dana'));
      }
      const [d] = await query(observers.oc, ['dana']);
      assert.equal(d.online, false);
      assert.equal(typeof d.lastSeen, 'number');
    });

    test('a reload of one node keeps what the others said, announces nothing, and the new instance keeps talking', async () => {
      const listBefore = await list(observers.oa, room);
      const eventsBefore = Object.values(observers).map((o) => o.inbox.items.filter((i) => i.event.startsWith('presence:')).length);
      await reloadNode(B, (config) => {
        config.modules.presence.config.grace_period = `${GRACE_MS + 100}ms`;
      });
      assert.deepEqual(await list(observers.ob, room), listBefore, 'users of A and C still listed on B');
      // Changes after the reload travel both ways through the new instance.
      const fromA = await connect(A, 'after-reload-a');
      await join(fromA, room);
      assert.deepEqual(await next(observers.ob, 'presence:online', room, 'after-reload-a'), { room, userId: 'after-reload-a', name: 'AFTER-RELOAD-A' });
      const fromB = await connect(B, 'after-reload-b');
      await join(fromB, room);
      await next(observers.oa, 'presence:online', room, 'after-reload-b');
      await next(observers.oc, 'presence:online', room, 'after-reload-b');
      Object.values(observers).forEach((o, i) => {
        const presenceEvents = o.inbox.items.filter((e) => e.event.startsWith('presence:')).slice(eventsBefore[i]);
        assert.deepEqual(presenceEvents.map((e) => e.args[0].userId).sort(), ['after-reload-a', 'after-reload-b'], 'nothing announced because of the reload');
      });
      await closeAndWait(fromB);
      for (const o of [observers.oa, observers.oc]) await next(o, 'presence:offline', room, 'after-reload-b');
    });

    test('malformed or foreign messages from a peer are refused whole: nothing announced, nothing broken', async () => {
      const receivedBefore = await metric(C, 'switchboard_cluster_module_messages_received_total');
      const bad = [
        'not json',
        JSON.stringify({ v: 2, type: 'present', ns: '/', room, user: 'evil', claims: '' }),
        JSON.stringify({ v: 1, type: 'present', ns: '/', room, user: 'evil', claims: '"x":1}],[{"y":2' }),
        JSON.stringify({ v: 1, type: 'present', ns: '/', room, user: 'evil' }),
        JSON.stringify({ v: 1, type: 'snapshot', present: [['/', room, 'evil']], online: [], lastSeen: [] }),
        JSON.stringify({ v: 1, type: 'teleport' }),
      ];
      // From a node id nobody knows, nothing even reaches the module.
      for (const payload of bad) {
        await cluster.redis.command('PUBLISH', `${cluster.prefix}:m`, moduleMessage('forged.1', 'presence', payload));
      }
      // Forged in the name of a live node (A), they reach the module, which must refuse them.
      const aId = /node (\S+) joined/.exec(A.output())[1];
      for (const payload of bad) {
        await cluster.redis.command('PUBLISH', `${cluster.prefix}:m`, moduleMessage(aId, 'presence', payload));
      }
      await waitForMetric(C, 'switchboard_cluster_module_messages_received_total', (v) => v >= receivedBefore + bad.length);
      // A sentinel after them: anything they caused would be in by now.
      const s = await connect(A, 'sentinel3');
      await join(s, room);
      for (const o of Object.values(observers)) {
        await next(o, 'presence:online', room, 'sentinel3');
        assert.equal(countOf(o, 'presence:online', room, 'evil'), 0);
        assert.ok(!(await list(o, room)).includes('evil'));
      }
      assert.ok(C.output().includes(`presence peer message refused: claims are not JSON object members (from node ${aId})`));
      assert.ok(!C.output().includes('forged.1'), 'the host dropped the messages of a node it does not know');
      assert.match(C.output(), /presence peer message refused: unknown version/);
    });
  });

  describe('presence when a node dies', () => {
    let cluster;
    const room = 'chat:kill';
    const LEASE_MS = 2000;

    before(async () => {
      cluster = await startCluster({ count: 3, config: presenceConfig(), lease: '2s' });
    });

    test('kill -9 of a node takes its users offline on the others within the lease plus 2 s, once, for good', { timeout: 30000 }, async () => {
      const [A, B, C] = cluster.nodes;
      const ob = await connect(B, 'kob');
      await join(ob, room);
      const oc = await connect(C, 'koc');
      await join(oc, room);
      const kate = await connect(A, 'kate');
      await join(kate, room);
      const both = await connect(A, 'bea'); // also on B: stays online
      await join(both, room);
      const bea = await connect(B, 'bea');
      await join(bea, room);
      for (const o of [ob, oc]) {
        await next(o, 'presence:online', room, 'kate');
        await next(o, 'presence:online', room, 'bea');
      }
      await until('node C to list everyone', async () => (await list(oc, room)).join() === 'bea,kate,kob,koc', 8000);

      const killedAt = Date.now();
      await A.kill9();
      for (const o of [ob, oc]) {
        const off = await next(o, 'presence:offline', room, 'kate', LEASE_MS + 4000);
        const took = Date.now() - killedAt;
        assert.ok(took <= LEASE_MS + 2000, `kate went offline ${took} ms after the kill (bound: lease + 2 s)`);
        assert.ok(off.lastSeen >= killedAt, 'lastSeen is when the node was found dead');
      }
      await waitForMetric(B, 'switchboard_cluster_nodes', (v) => v === 2);
      await waitForMetric(C, 'switchboard_cluster_nodes', (v) => v === 2);
      // Sentinel from B, then a quiet period: no second offline, no comeback.
      const s = await connect(B, 'ksentinel');
      await join(s, room);
      await next(oc, 'presence:online', room, 'ksentinel');
      await delay(QUIET_MS);
      for (const o of [ob, oc]) {
        assert.deepEqual(historyOf(o, room, 'kate'), ['presence:online', 'presence:offline']);
        assert.deepEqual(historyOf(o, room, 'bea'), ['presence:online'], 'bea is still on node B');
        assert.deepEqual(await list(o, room), ['bea', 'kob', 'koc', 'ksentinel']);
      }
      const [k] = await query(oc, ['kate']);
      assert.equal(k.online, false, 'no grace period for a dead node: its lease already ran out');
      assert.ok(k.lastSeen >= killedAt);
    });
  });

  describe('presence across a Redis restart', () => {
    let cluster;
    const room = 'chat:redis';

    before(async () => {
      cluster = await startCluster({ count: 2, config: presenceConfig({ cluster_resync: '3s' }), lease: '2s' });
    });

    test('after Redis comes back the views converge, without flapping users who stayed connected', { timeout: 60000 }, async () => {
      const [A, B] = cluster.nodes;
      const oa = await connect(A, 'roa');
      await join(oa, room);
      const ob = await connect(B, 'rob');
      await join(ob, room);
      const stay = await connect(A, 'stay');
      await join(stay, room);
      const gone = await connect(B, 'gone');
      await join(gone, room);
      await next(ob, 'presence:online', room, 'stay');
      await next(oa, 'presence:online', room, 'gone');
      await until('both nodes to list everyone', async () => {
        const [la, lb] = [await list(oa, room), await list(ob, room)];
        return la.join() === 'gone,roa,rob,stay' && lb.join() === la.join();
      }, 8000);

      await cluster.redis.stop();
      for (const n of [A, B]) await waitForMetric(n, 'switchboard_cluster_redis_connected', (v) => v === 0);
      // Changes while the nodes cannot talk: each announces its own locally.
      const late = await connect(A, 'late');
      await join(late, room);
      await next(oa, 'presence:online', room, 'late');
      await closeAndWait(gone);
      await next(ob, 'presence:offline', room, 'gone');
      await delay(2500); // an outage longer than the lease
      await cluster.redis.start();

      for (const n of [A, B]) await waitForMetric(n, 'switchboard_cluster_nodes', (v) => v === 2, { timeout: 20000 });
      await next(ob, 'presence:online', room, 'late', 15000);
      await next(oa, 'presence:offline', room, 'gone', 15000);
      const expected = ['late', 'roa', 'rob', 'stay'];
      for (const o of [oa, ob]) {
        await until('the lists to converge', async () => {
          const got = await list(o, room);
          return got.join() === expected.join() || { ok: false, got };
        }, 15000);
      }
      // Past the resync window: nothing else happens.
      await delay(3500);
      for (const o of [oa, ob]) assert.deepEqual(await list(o, room), expected);
      for (const [o, who] of [[oa, 'rob'], [ob, 'roa'], [ob, 'stay'], [oa, 'stay']]) {
        assert.equal(countOf(o, 'presence:offline', room, who), 0, `${who} stayed connected: never offline`);
        assert.ok(countOf(o, 'presence:online', room, who) <= 1, `${who}: no second presence:online`);
      }
      assert.deepEqual(historyOf(ob, room, 'late'), ['presence:online']);
      assert.deepEqual(historyOf(oa, room, 'gone'), ['presence:online', 'presence:offline']);
      const answer = await query(ob, ['late', 'stay', 'gone']);
      assert.deepEqual(answer.map((u) => [u.userId, u.online]), [['late', true], ['stay', true], ['gone', false]]);
    });
  });
}
