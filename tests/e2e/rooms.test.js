'use strict';
// Rooms and broadcasts through the test_rooms module, with 30 clients.
//
// Delivery is checked exactly: after each broadcast under test, a "sentinel"
// broadcast to the whole namespace is sent from the same socket; once every
// client has the sentinel, everything sent before it to that client has
// arrived too (one server, one ordered stream per client), so counts taken
// then are final.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

const N = 30;
let server;
let clients = []; // {socket, rooms: Set}
let customClient;

// group by index: 0 -> a, 1 -> b, 2 -> a and b, 3 -> none
function initialRooms(i) {
  return [['a'], ['b'], ['a', 'b'], []][i % 4];
}

before(async () => {
  server = await startServer();
  clients = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const socket = await c.connectClient(server, { transports: ['websocket'] });
      const rooms = new Set(initialRooms(i));
      for (const room of rooms) {
        const res = await c.ack(socket, 'join', [room]);
        assert.deepEqual(res, [true]);
      }
      return { index: i, socket, rooms };
    }),
  );
  // a member of room "a" in another namespace must never see "/" broadcasts
  customClient = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
  assert.deepEqual(await c.ack(customClient, 'join', ['a']), [true]);
});

let seq = 0;

/**
 * Sends broadcast {rooms, except} from `sender` with a unique event name,
 * then a sentinel to everyone; resolves with the number of copies each
 * client received of the broadcast (index -> count).
 */
async function broadcastAndCount(sender, spec) {
  seq += 1;
  const event = `bc-${seq}`;
  const data = { seq, note: 'payload ✓', list: [1, 2, 3] };
  const res = await c.ack(sender.socket, 'broadcast', [{ ...spec, event, data }]);
  assert.deepEqual(res, [true], 'broadcast is acknowledged with true');
  const sentinel = `sentinel-${seq}`;
  assert.deepEqual(await c.ack(sender.socket, 'broadcast', [{ event: sentinel, data: seq }]), [true]);
  await Promise.all(clients.map((cl) => cl.socket.inbox.take(sentinel, { timeout: 5000 })));
  const counts = new Map();
  for (const cl of clients) {
    const got = cl.socket.inbox.all(event);
    for (const args of got) assert.deepEqual(args, [data], 'one argument: the data');
    counts.set(cl.index, got.length);
  }
  return counts;
}

function assertDelivered(counts, expectedIndexes, label) {
  const expected = new Set(expectedIndexes);
  for (const [index, count] of counts) {
    const rooms = [...clients.find((cl) => cl.index === index).rooms];
    assert.equal(count, expected.has(index) ? 1 : 0, `${label}: client ${index} (rooms [${rooms}]) got ${count}`);
  }
}

const members = (pred) => clients.filter((cl) => pred(cl.rooms)).map((cl) => cl.index);

test('rooms ack lists joined rooms, sorted, without the socket id room', { timeout: 10000 }, async () => {
  for (const cl of clients) {
    const [rooms] = await c.ack(cl.socket, 'rooms');
    assert.deepEqual(rooms, [...cl.rooms].sort(), `client ${cl.index}`);
    assert.ok(!rooms.includes(cl.socket.id));
  }
  const extra = await c.connectClient(server, { transports: ['websocket'] });
  for (const room of ['zeta', 'alpha', 'mid', 'alpha']) assert.deepEqual(await c.ack(extra, 'join', [room]), [true]);
  assert.deepEqual(await c.ack(extra, 'rooms'), [['alpha', 'mid', 'zeta']]);
});

test('broadcast to [a] reaches each member of a exactly once, the sender included, and nobody else', { timeout: 15000 }, async () => {
  const sender = clients[0]; // in a
  const counts = await broadcastAndCount(sender, { rooms: ['a'] });
  const expected = members((r) => r.has('a'));
  assert.ok(expected.includes(sender.index));
  assertDelivered(counts, expected, 'to [a]');
  assert.equal(customClient.inbox.count(`bc-${seq}`), 0, 'other namespaces are not reached');
});

test('broadcast from a non-member reaches the room but not the sender', { timeout: 15000 }, async () => {
  const sender = clients[3]; // in no room
  const counts = await broadcastAndCount(sender, { rooms: ['b'] });
  assertDelivered(counts, members((r) => r.has('b')), 'to [b] from outside');
});

test('broadcast to [a, b] reaches a client in both rooms once', { timeout: 15000 }, async () => {
  const counts = await broadcastAndCount(clients[1], { rooms: ['a', 'b'] });
  const expected = members((r) => r.has('a') || r.has('b'));
  assert.ok(clients.some((cl) => cl.rooms.has('a') && cl.rooms.has('b')));
  assertDelivered(counts, expected, 'to [a, b]');
});

test('except removes members of the excepted rooms', { timeout: 15000 }, async () => {
  const counts = await broadcastAndCount(clients[0], { rooms: ['a'], except: ['b'] });
  assertDelivered(counts, members((r) => r.has('a') && !r.has('b')), 'to [a] except [b]');
});

test('except without rooms: the whole namespace minus the excepted room', { timeout: 15000 }, async () => {
  const counts = await broadcastAndCount(clients[1], { rooms: [], except: ['a'] });
  assertDelivered(counts, members((r) => !r.has('a')), 'to all except [a]');
});

test('broadcast to a room nobody is in reaches nobody', { timeout: 15000 }, async () => {
  const counts = await broadcastAndCount(clients[0], { rooms: ['empty-room'] });
  assertDelivered(counts, [], 'to [empty-room]');
});

test('broadcast without rooms reaches every socket of the namespace once, the sender included', { timeout: 15000 }, async () => {
  const counts = await broadcastAndCount(clients[5], {});
  assertDelivered(counts, clients.map((cl) => cl.index), 'to everyone');
  assert.equal(customClient.inbox.count(`bc-${seq}`), 0, 'other namespaces are not reached');
});

test('leave removes the socket from the room', { timeout: 15000 }, async () => {
  const leaver = clients[2]; // in a and b
  assert.deepEqual(await c.ack(leaver.socket, 'leave', ['a']), [true]);
  leaver.rooms.delete('a');
  assert.deepEqual(await c.ack(leaver.socket, 'rooms'), [['b']]);
  const counts = await broadcastAndCount(clients[0], { rooms: ['a'] });
  assert.equal(counts.get(leaver.index), 0);
  assertDelivered(counts, members((r) => r.has('a')), 'to [a] after leave');
  // leaving a room one is not in is harmless
  assert.deepEqual(await c.ack(leaver.socket, 'leave', ['not-joined']), [true]);
  assert.deepEqual(await c.ack(leaver.socket, 'rooms'), [['b']]);
});

test('a disconnected socket leaves its rooms', { timeout: 15000 }, async () => {
  const gone = clients[4]; // in a
  assert.ok(gone.rooms.has('a'));
  gone.socket.disconnect();
  clients = clients.filter((cl) => cl !== gone);
  const counts = await broadcastAndCount(clients[0], { rooms: ['a'] });
  assertDelivered(counts, members((r) => r.has('a')), 'to [a] after a member left');
  assert.equal(gone.socket.inbox.count(`bc-${seq}`), 0);
});

test('rooms are per namespace: /custom room "a" only gets /custom broadcasts', { timeout: 15000 }, async () => {
  const other = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
  assert.deepEqual(await c.ack(other, 'rooms'), [[]]);
  assert.deepEqual(await c.ack(other, 'broadcast', [{ rooms: ['a'], event: 'custom-a', data: 'hi' }]), [true]);
  assert.deepEqual(await customClient.inbox.take('custom-a'), ['hi']);
  // a round trip on a "/" client: any leaked copy would have been sent by now
  await c.assertEchoes(clients[0].socket, assert);
  for (const cl of clients) assert.equal(cl.socket.inbox.count('custom-a'), 0);
  assert.equal(other.inbox.count('custom-a'), 0, 'the /custom sender is not in "a"');
});

test('broadcast data may carry binary', { timeout: 15000 }, async () => {
  const payload = { name: 'blob', bytes: Buffer.from([0, 1, 2, 250]) };
  assert.deepEqual(await c.ack(clients[0].socket, 'broadcast', [{ rooms: ['b'], event: 'bin-bc', data: payload }]), [true]);
  const targets = clients.filter((cl) => cl.rooms.has('b'));
  const got = await Promise.all(targets.map((cl) => cl.socket.inbox.take('bin-bc')));
  for (const [data] of got) {
    assert.equal(data.name, 'blob');
    assert.ok(Buffer.isBuffer(data.bytes) && data.bytes.equals(payload.bytes));
  }
});

test('a polling client takes part in rooms like a websocket one', { timeout: 15000 }, async () => {
  const poller = await c.connectClient(server, { transports: ['polling'] });
  assert.deepEqual(await c.ack(poller, 'join', ['p-room']), [true]);
  const ws = await c.connectClient(server, { transports: ['websocket'] });
  assert.deepEqual(await c.ack(ws, 'join', ['p-room']), [true]);
  assert.deepEqual(await c.ack(ws, 'broadcast', [{ rooms: ['p-room'], event: 'mixed', data: [1, 'two'] }]), [true]);
  assert.deepEqual(await poller.inbox.take('mixed'), [[1, 'two']]);
  assert.deepEqual(await ws.inbox.take('mixed'), [[1, 'two']]);
});
