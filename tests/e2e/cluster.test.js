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
const { startCluster, metric, waitForMetric } = require('./lib/cluster');
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
      const apiPort = await freePort();
      cluster = await startCluster({
        count: NODES,
        config: {
          modules: {
            test_identity: { file: path.join(TEST_MODULES, 'test_identity.so') },
            test_rooms: { file: path.join(TEST_MODULES, 'test_rooms.so') },
            echo: {},
          },
          namespaces: { '/': { modules: ['test_identity', 'test_rooms', 'echo'] }, '/custom': { modules: ['test_identity', 'echo', 'test_rooms'] } },
        },
      });
      // The API is only on the last node, so API calls are always made on a node other than most senders'.
      cluster.apiNode = cluster.nodes[NODES - 1];
      clients = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const node = cluster.nodes[i % NODES];
          const transports = i % 5 === 0 ? ['polling'] : ['websocket'];
          const socket = await c.connectClient(node, { auth: { user: userOf(i) }, transports });
          for (const room of roomsOf(i)) assert.deepEqual(await c.ack(socket, 'join', [room]), [true]);
          return { index: i, node: i % NODES, user: userOf(i), rooms: new Set(roomsOf(i)), socket };
        }),
      );
      void apiPort;
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
  });
}
