'use strict';
// Three nodes, one Redis: emits made on any node (a module's room broadcast,
// emit_to_user, the HTTP API) reach the addressed sockets on every node,
// each exactly once, and rooms are routed only to the nodes that have
// members. Redis going away pauses cross-node delivery without touching
// local delivery; when it returns the nodes recover by themselves.
//
// Exactly-once is checked the way rooms.test.js does on one node: after the
// emit under test, the same sender broadcasts a sentinel to the namespace.
// A node relays one origin's emits in the order they were made, so once
// every client has the sentinel, all earlier copies have arrived.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { IS_SWITCHBOARD, freePort } = require('./lib/server');
const { startCluster, startNode, metric, waitForMetric } = require('./lib/cluster');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES || '';
const KEY = 'cluster-key-0123456789abcdef';
const NODES = 3;
const CLIENTS = 18;

// client i: on node i % 3, user u<i % 4>, rooms by i % 4 (a, b, a+b, none)
const roomsOf = (i) => [['a'], ['b'], ['a', 'b'], []][i % 4];
const userOf = (i) => `u${i % 4}`;

if (IS_SWITCHBOARD) {
  describe('cluster of three nodes', () => {
    let cluster;
    let clients = [];
    let seq = 0;

    before(async () => {
      cluster = await startCluster({
        count: NODES,
        nodeConfig: async () => ({ api: { listen: [{ address: '127.0.0.1', port: await freePort() }], keys: [{ name: 'backend', key: KEY }] } }),
        config: {
          modules: {
            test_identity: { file: path.join(TEST_MODULES, 'test_identity.so') },
            test_rooms: { file: path.join(TEST_MODULES, 'test_rooms.so') },
            echo: {},
          },
          namespaces: { '/': { modules: ['test_identity', 'test_rooms', 'echo'] }, '/custom': { modules: ['test_identity', 'echo', 'test_rooms'] } },
        },
      });
      clients = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const node = cluster.nodes[i % NODES];
          const transports = i % 5 === 0 ? ['polling'] : ['websocket'];
          const socket = await c.connectClient(node, { auth: { user: userOf(i) }, transports });
          for (const room of roomsOf(i)) assert.deepEqual(await c.ack(socket, 'join', [room]), [true]);
          return { index: i, node: i % NODES, user: userOf(i), rooms: new Set(roomsOf(i)), socket };
        }),
      );
    });

    after(async () => {
      for (const cl of clients) cl.socket.close();
    });

    async function sentinelFrom(sender) {
      const sentinel = `sentinel-${seq}`;
      assert.deepEqual(await c.ack(sender.socket, 'broadcast', [{ event: sentinel, data: seq }]), [true]);
      await Promise.all(clients.map((cl) => cl.socket.inbox.take(sentinel, { timeout: 10000 })));
    }

    function counts(event) {
      return new Map(clients.map((cl) => [cl.index, cl.socket.inbox.all(event).length]));
    }

    function assertExactly(got, expected, label) {
      const want = new Set(expected.map((cl) => cl.index));
      assert.ok(want.size > 0 || label.includes('nobody'), `${label}: the case selects somebody`);
      for (const cl of clients) {
        assert.equal(got.get(cl.index), want.has(cl.index) ? 1 : 0,
          `${label}: client ${cl.index} on node ${cl.node} (user ${cl.user}, rooms [${[...cl.rooms]}])`);
      }
    }

    async function broadcast(sender, spec) {
      seq += 1;
      const event = `bc-${seq}`;
      const data = { seq, text: 'über ✓' };
      assert.deepEqual(await c.ack(sender.socket, 'broadcast', [{ ...spec, event, data }]), [true]);
      await sentinelFrom(sender);
      for (const cl of clients) for (const args of cl.socket.inbox.all(event)) assert.deepEqual(args, [data]);
      return counts(event);
    }

    const where = (pred) => clients.filter(pred);

    async function api(node, urlPath, body) {
      const port = node.config.api.listen[0].port;
      const res = await c.request({ port }, {
        method: 'POST', path: urlPath, body: JSON.stringify(body),
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      });
      return { status: res.status, json: JSON.parse(res.body) };
    }

    test('every node sees the others join', async () => {
      for (const node of cluster.nodes) {
        assert.equal(await metric(node, 'switchboard_cluster_nodes'), NODES);
        assert.equal(await metric(node, 'switchboard_cluster_redis_connected'), 1);
      }
    });

    test('a room broadcast reaches its members on every node exactly once', { timeout: 20000 }, async () => {
      for (const sender of [clients[0], clients[4], clients[8]]) {
        const got = await broadcast(sender, { rooms: ['a'] });
        assertExactly(got, where((cl) => cl.rooms.has('a')), `to [a] from node ${sender.node}`);
      }
    });

    test('a broadcast to two rooms reaches a socket in both once, on every node', { timeout: 20000 }, async () => {
      const got = await broadcast(clients[1], { rooms: ['a', 'b'] });
      assert.ok(clients.some((cl) => cl.rooms.has('a') && cl.rooms.has('b') && cl.node !== 1));
      assertExactly(got, where((cl) => cl.rooms.has('a') || cl.rooms.has('b')), 'to [a, b]');
    });

    test('except rooms apply on every node', { timeout: 20000 }, async () => {
      const got = await broadcast(clients[3], { rooms: ['a'], except: ['b'] });
      assertExactly(got, where((cl) => cl.rooms.has('a') && !cl.rooms.has('b')), 'to [a] except [b]');
      const all = await broadcast(clients[5], { rooms: [], except: ['a'] });
      assertExactly(all, where((cl) => !cl.rooms.has('a')), 'namespace except [a]');
    });

    test('a namespace broadcast reaches every socket of the namespace on every node once, and no other namespace', { timeout: 20000 }, async () => {
      const other = await c.connectClient(cluster.nodes[2], { namespace: '/custom', transports: ['websocket'] });
      const got = await broadcast(clients[7], {});
      assertExactly(got, clients, 'to the namespace');
      assert.equal(other.inbox.count(`bc-${seq}`), 0);
      other.close();
    });

    test('emit_to_user reaches the user on every node once, except the sending socket when asked', { timeout: 20000 }, async () => {
      seq += 1;
      const event = `to-user-${seq}`;
      const sender = clients[0]; // user u0, node 0
      assert.deepEqual(await c.ack(sender.socket, 'to_user', ['u2', event, { n: seq }]), [true]);
      seq += 1;
      const event2 = `to-user-${seq}`;
      assert.deepEqual(await c.ack(sender.socket, 'to_user', ['u0', event2, { n: seq }, true]), [true]);
      await sentinelFrom(sender);
      assertExactly(counts(event), where((cl) => cl.user === 'u2'), 'to user u2');
      assertExactly(counts(event2), where((cl) => cl.user === 'u0' && cl !== sender), 'to user u0 except the sender');
    });

    test('a room only goes to nodes that have members of it', async () => {
      const redis = cluster.redis;
      const channel = (room) => `${cluster.prefix}:r:/:${room}`;
      const subscribers = async (room) => (await redis.command('PUBSUB', 'NUMSUB', channel(room)))[1];
      assert.equal(await subscribers('a'), NODES);
      const lonely = await c.connectClient(cluster.nodes[1], { transports: ['websocket'] });
      assert.deepEqual(await c.ack(lonely, 'join', ['only-on-node-1']), [true]);
      assert.equal(await subscribers('only-on-node-1'), 1);
      const before = await Promise.all(cluster.nodes.map((n) => metric(n, 'switchboard_cluster_received_total')));
      assert.deepEqual(await c.ack(clients[0].socket, 'broadcast', [{ rooms: ['only-on-node-1'], event: 'lonely', data: 1 }]), [true]);
      assert.deepEqual(await lonely.inbox.take('lonely', { timeout: 5000 }), [1]);
      const afterCounts = await Promise.all(cluster.nodes.map((n) => metric(n, 'switchboard_cluster_received_total')));
      assert.equal(afterCounts[1], before[1] + 1, 'node 1 received it');
      assert.equal(afterCounts[2], before[2], 'node 2, without members, did not');
      lonely.close();
      await waitForMetric(cluster.nodes[1], 'switchboard_cluster_channels', () => true);
      for (let i = 0; i < 100 && (await subscribers('only-on-node-1')) !== 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50)); // the unsubscribe follows the disconnect
      }
      assert.equal(await subscribers('only-on-node-1'), 0, 'the last member left: the node stops listening');
    });

    test('an HTTP API emit on one node reaches rooms and users on every node exactly once', { timeout: 20000 }, async () => {
      for (const [i, node] of cluster.nodes.entries()) {
        seq += 1;
        const event = `api-${seq}`;
        const res = await api(node, '/api/v1/emit', { event, data: { seq }, rooms: ['b'], users: ['u0'], exceptUsers: ['u2'] });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        const local = where((cl) => cl.node === i && (cl.rooms.has('b') || cl.user === 'u0') && cl.user !== 'u2');
        assert.equal(res.json.recipients, local.length, 'recipients counts this node\'s sockets');
        await sentinelFrom(clients[i]);
        assertExactly(counts(event), where((cl) => (cl.rooms.has('b') || cl.user === 'u0') && cl.user !== 'u2'),
          `API emit on node ${i}`);
      }
    });

    test('an HTTP API disconnect of a user on one node disconnects their sockets on every node', { timeout: 20000 }, async () => {
      const victims = where((cl) => cl.user === 'u3');
      assert.ok(new Set(victims.map((v) => v.node)).size > 1, 'the user has sockets on several nodes');
      const gone = victims.map((v) => c.waitFor(v.socket, 'disconnect', { timeout: 10000 }));
      const res = await api(cluster.nodes[0], '/api/v1/disconnect', { userId: 'u3' });
      assert.equal(res.status, 200);
      assert.equal(res.json.cluster, true);
      assert.equal(res.json.disconnected, victims.filter((v) => v.node === 0).length);
      for (const [reason] of await Promise.all(gone)) assert.equal(reason, 'io server disconnect');
      clients = clients.filter((cl) => cl.user !== 'u3');
      const remote = clients.find((cl) => cl.node === 2);
      const byId = await api(cluster.nodes[0], '/api/v1/disconnect', { socketId: remote.socket.id });
      assert.equal(byId.status, 200);
      assert.equal((await c.waitFor(remote.socket, 'disconnect', { timeout: 10000 }))[0], 'io server disconnect');
      clients = clients.filter((cl) => cl !== remote);
    });
  });

  describe('cluster without Redis for a while', () => {
    let cluster;
    before(async () => {
      cluster = await startCluster({
        count: 2,
        lease: '2s',
        config: {
          modules: { test_rooms: { file: path.join(TEST_MODULES, 'test_rooms.so') }, echo: {} },
          namespaces: { '/': { modules: ['test_rooms', 'echo'] } },
        },
      });
    });

    async function pair() {
      const a = await c.connectClient(cluster.nodes[0], { transports: ['websocket'] });
      const b = await c.connectClient(cluster.nodes[1], { transports: ['websocket'] });
      const a2 = await c.connectClient(cluster.nodes[0], { transports: ['websocket'] });
      for (const s of [a, b, a2]) assert.deepEqual(await c.ack(s, 'join', ['r']), [true]);
      return { a, b, a2 };
    }

    test('Redis down: local delivery goes on, cross-node delivery pauses and is counted; Redis back: delivery resumes exactly once', { timeout: 60000 }, async () => {
      const { a, b, a2 } = await pair();
      assert.deepEqual(await c.ack(a, 'broadcast', [{ rooms: ['r'], event: 'before', data: 1 }]), [true]);
      assert.deepEqual(await b.inbox.take('before', { timeout: 5000 }), [1]);

      const mark = cluster.nodes[0].outputMark();
      await cluster.redis.stop();
      await waitForMetric(cluster.nodes[0], 'switchboard_cluster_redis_connected', (v) => v === 0);
      const dropped = await metric(cluster.nodes[0], 'switchboard_cluster_publish_dropped_total');
      for (let i = 0; i < 5; i += 1) {
        assert.deepEqual(await c.ack(a, 'broadcast', [{ rooms: ['r'], event: 'during', data: i }]), [true]);
      }
      for (let i = 0; i < 5; i += 1) assert.deepEqual(await a2.inbox.take('during', { timeout: 5000 }), [i]);
      assert.equal(await metric(cluster.nodes[0], 'switchboard_cluster_publish_dropped_total'), dropped + 5);
      await c.assertEchoes(b, assert);
      const log = cluster.nodes[0].output(mark);
      assert.equal((log.match(/cluster: 127\.0\.0\.1:\d+ lost/g) || []).length, 1, `one line for the outage:\n${log}`);

      await cluster.redis.start();
      for (const node of cluster.nodes) {
        await waitForMetric(node, 'switchboard_cluster_redis_connected', (v) => v === 1);
        await waitForMetric(node, 'switchboard_cluster_nodes', (v) => v === 2);
      }
      assert.match(cluster.nodes[0].output(mark), /connected to 127\.0\.0\.1:\d+ again after \d+ s/);
      assert.equal(b.inbox.count('during'), 0, 'nothing from the outage is replayed');
      assert.deepEqual(await c.ack(a, 'broadcast', [{ rooms: ['r'], event: 'after', data: 2 }]), [true]);
      assert.deepEqual(await b.inbox.take('after', { timeout: 5000 }), [2]);
      assert.deepEqual(await c.ack(b, 'broadcast', [{ rooms: ['r'], event: 'back', data: 3 }]), [true]);
      assert.deepEqual(await a.inbox.take('back', { timeout: 5000 }), [3]);
      assert.deepEqual(await a2.inbox.take('back', { timeout: 5000 }), [3]);
      // a sentinel proves no second copy is still on its way
      assert.deepEqual(await c.ack(b, 'broadcast', [{ rooms: ['r'], event: 'sentinel', data: 4 }]), [true]);
      await a.inbox.take('sentinel', { timeout: 5000 });
      assert.equal(a.inbox.count('back'), 1);
      assert.equal(b.inbox.count('after'), 1);
      for (const s of [a, b, a2]) s.close();
    });

    test('a killed node is declared gone by the others within its lease', { timeout: 30000 }, async () => {
      const extra = await startNode(cluster);
      for (const node of cluster.nodes) await waitForMetric(node, 'switchboard_cluster_nodes', (v) => v === 3);
      const killedAt = Date.now();
      await extra.kill9();
      for (const node of cluster.nodes) {
        await waitForMetric(node, 'switchboard_cluster_nodes', (v) => v === 2, { timeout: 10000 });
        const took = Date.now() - killedAt;
        assert.ok(took <= 2000 + 1500, `declared gone after ${took} ms (lease 2 s, checked every second)`);
      }
      assert.ok(await metric(cluster.nodes[0], 'switchboard_cluster_nodes_lost_total') >= 1);
      assert.match(cluster.nodes[1].output(), /node \S+ is gone \(2 nodes\)/);
    });

    test('a node that stops cleanly is gone for the others at once', { timeout: 30000 }, async () => {
      const extra = await startNode(cluster);
      for (const node of cluster.nodes) await waitForMetric(node, 'switchboard_cluster_nodes', (v) => v === 3);
      const stoppedAt = Date.now();
      await extra.stop();
      await waitForMetric(cluster.nodes[0], 'switchboard_cluster_nodes', (v) => v === 2, { timeout: 10000 });
      assert.ok(Date.now() - stoppedAt < 1500, 'the goodbye is not the lease running out');
    });
  });
}

if (IS_SWITCHBOARD) {
  describe('Redis connection settings', () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const { startRedis } = require('./lib/redis');
    const { startServer } = require('./lib/server');
    const modules = { config: { modules: { echo: {} }, namespaces: { '/': { modules: ['echo'] } } } };

    test('ACL user and password (from a file), a database number, over a unix socket', { timeout: 30000 }, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redis-sock-'));
      const sock = path.join(dir, 'redis.sock');
      const redis = await startRedis(['--unixsocket', sock, '--unixsocketperm', '700']);
      assert.equal(await redis.command('ACL', 'SETUSER', 'sb', 'on', '>pw-0123456789', '~*', '&*', '+@all'), 'OK');
      assert.equal(await redis.command('ACL', 'SETUSER', 'default', 'off'), 'OK');
      const passFile = path.join(dir, 'redis.pass');
      fs.writeFileSync(passFile, 'pw-0123456789\n');
      const redisConfig = { address: `unix:${sock}`, username: 'sb', password_file: passFile, db: 3 };
      const nodes = await Promise.all([0, 1].map(() => startServer({
        config: { ...modules.config, cluster: { redis: redisConfig, prefix: 'acl', node_lease: '2s' } },
      })));
      for (const node of nodes) await waitForMetric(node, 'switchboard_cluster_nodes', (v) => v === 2);
      assert.match(nodes[0].output(), new RegExp(`connected to unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/3`));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('a wrong password is logged once with the reason, and the node serves its own clients meanwhile', { timeout: 30000 }, async () => {
      const redis = await startRedis(['--requirepass', 'right-password-0123']);
      const node = await startServer({
        config: { ...modules.config, cluster: { redis: { address: redis.address, password: 'wrong-password' }, prefix: 'pw' } },
      });
      const deadline = Date.now() + 10000;
      while (!/AUTH refused: WRONGPASS/.test(node.output()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50)); // the log line is what we wait for
      }
      assert.match(node.output(), /\[redis\] cluster: 127\.0\.0\.1:\d+ unreachable: AUTH refused: WRONGPASS/);
      assert.equal(await metric(node, 'switchboard_cluster_redis_connected'), 0);
      const client = await c.connectClient(node, { transports: ['websocket'] });
      await c.assertEchoes(client, assert);
      client.close();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // several retries happen in this window
      assert.equal((node.output().match(/AUTH refused/g) || []).length, 2, 'once per connection (command and pub/sub), not per retry');
    });
  });
}
