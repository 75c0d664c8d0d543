'use strict';
// Hostile and malformed input. For each case the offending session must be
// closed (WebSocket closed, polling session gone), the server must stay up,
// and two healthy clients (one per transport) connected for the whole file
// must keep working and never be disconnected.
//
// The server runs with long heartbeat and connect timers, so a session that
// closes within the bound here was closed because of what it sent.

const crypto = require('node:crypto');
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, IS_SWITCHBOARD } = require('./lib/server');
const c = require('./lib/client');

const CLOSE_BOUND_MS = 1500;
let server;
const healthy = {};

before(async () => {
  server = await startServer({
    config: {
      engineio: { ping_interval: '5s', ping_timeout: '5s', max_payload: 100000 },
      socketio: { connect_timeout: '10s' },
    },
  });
  healthy.websocket = await c.connectClient(server, { transports: ['websocket'] });
  healthy.polling = await c.connectClient(server, { transports: ['polling'] });
});

async function assertServerHealthy() {
  assert.ok(server.isRunning(), `server exited: ${JSON.stringify(server.exitInfo)}`);
  for (const [name, socket] of Object.entries(healthy)) {
    assert.deepEqual(socket.disconnects, [], `healthy ${name} client was disconnected`);
    await c.assertEchoes(socket, assert);
  }
  // and new clients are still accepted
  const fresh = await c.connectClient(server, { transports: ['websocket'] });
  await c.assertEchoes(fresh, assert);
  fresh.close();
}

/** Opens a raw session, connected to "/" unless connect is false. */
async function rawSession(connect = true) {
  if (connect) return (await c.rawSioSession(server)).raw;
  const raw = await c.RawWs.open(server, { autoPong: true });
  await c.readOpenPacket(raw);
  return raw;
}

async function assertClosedSoon(raw, label) {
  const t0 = Date.now();
  const closed = await raw.waitClosed(CLOSE_BOUND_MS).catch(() => null);
  assert.ok(closed, `${label}: the session is still open after ${CLOSE_BOUND_MS} ms`);
  assert.ok(Date.now() - t0 <= CLOSE_BOUND_MS);
  return closed;
}

// ---- WebSocket ------------------------------------------------------------------

const bytes = (...b) => Buffer.from(b);

const WS_CASES = [
  { name: 'unknown Engine.IO packet type "9"', frames: ['9'] },
  { name: 'an empty text frame', frames: [''] },
  { name: 'an empty Engine.IO message "4"', frames: ['4'] },
  { name: 'an EVENT before any CONNECT', connect: false, frames: ['42["message","too early"]'] },
  { name: 'an ACK before any CONNECT', connect: false, frames: ['431["x"]'] },
  { name: 'a second CONNECT to "/"', frames: ['40'] },
  { name: 'unknown Socket.IO packet type "9"', frames: ['49["x"]'] },
  { name: 'invalid JSON 42["a",', frames: ['42["a",'] },
  { name: 'non-array event payload 42{"a":1}', frames: ['42{"a":1}'] },
  { name: 'empty event array 42[]', frames: ['42[]'] },
  { name: 'null event name 42[null,1]', frames: ['42[null,1]'] },
  { name: 'object event name 42[{"a":1}]', frames: ['42[{"a":1}]'] },
  { name: 'garbage ack id 42abc["x"]', frames: ['42abc["x"]'] },
  { name: 'negative ack id 42-1["x"]', frames: ['42-1["x"]'] },
  { name: 'an EVENT for a namespace the session has not joined', frames: ['42/custom,["message","x"]'] },
  { name: 'a CONNECT payload that is not an object', frames: [], connect: false, connectWith: '40"just a string"' },
  { name: 'a binary frame with no pending placeholder', frames: [bytes(1, 2, 3)] },
  {
    name: 'BINARY_EVENT announcing 2 attachments, then a text packet',
    frames: ['452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', '4garbage'],
  },
  {
    name: 'BINARY_EVENT announcing 2 attachments, then another event',
    frames: ['452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', bytes(1), '42["message","x"]'],
  },
  {
    name: 'a placeholder index beyond the attachments',
    frames: ['451-["message",{"_placeholder":true,"num":5}]', bytes(1)],
  },
  { name: 'a binary frame before any CONNECT', connect: false, frames: [bytes(0xff, 0x00)] },
];

for (const tc of WS_CASES) {
  test(`ws: ${tc.name} closes the session; others are unaffected`, { timeout: 15000 }, async () => {
    const raw = await rawSession(tc.connect !== false);
    if (tc.connectWith) raw.send(tc.connectWith);
    for (const f of tc.frames) raw.send(f, { binary: Buffer.isBuffer(f) });
    await assertClosedSoon(raw, tc.name);
    await assertServerHealthy();
  });
}

// socket.io@4.8.4 accepts a number as event name (its parser allows
// `typeof payload[0] === "number"`) and just finds no handler; PROTOCOL.md
// requires a string, so the close is checked on switchboard only.
if (IS_SWITCHBOARD) {
  test('ws: numeric event name 42[1] closes the session', { timeout: 15000 }, async () => {
    const raw = await rawSession();
    raw.send('42[1]');
    await assertClosedSoon(raw, '42[1]');
    await assertServerHealthy();
  });
}

test('ws: numeric event name 42[1] does not disturb other clients', { timeout: 15000 }, async () => {
  const raw = await rawSession();
  raw.send('42[1]');
  raw.send('42[1,"x"]');
  await assertServerHealthy();
  assert.ok(!raw.frames.some((f) => f.text && f.text.startsWith('42["message-back"')));
});

for (const [label, frame] of [
  ['text', `42["message","${'x'.repeat(150000)}"]`],
  ['binary', Buffer.alloc(150000, 7)],
]) {
  test(`ws: a ${label} frame larger than maxPayload is closed with 1009`, { timeout: 15000 }, async () => {
    const raw = await rawSession();
    raw.send(frame, { binary: Buffer.isBuffer(frame) });
    const closed = await assertClosedSoon(raw, `oversized ${label} frame`);
    assert.equal(closed.code, 1009);
    assert.ok(!raw.frames.some((f) => f.text && f.text.startsWith('42["message-back"')), 'the oversized event was not handled');
    await assertServerHealthy();
  });
}

test('ws: well-formed but unexpected packets do not close the session', { timeout: 15000 }, async () => {
  const raw = await rawSession();
  raw.send('42["no-such-event",1]'); // no handler
  raw.send('43999["x"]'); // ack for an id the server never used
  raw.send('42["message","alive"]');
  if (IS_SWITCHBOARD) {
    // switchboard tells the client that no module handles the event
    assert.equal(
      await raw.nextText(),
      `42["error",{"code":"NOT_FOUND","message":"No handler for event 'no-such-event'","event":"no-such-event"}]`,
    );
  }
  assert.equal(await raw.nextText(), '42["message-back","alive"]', 'nothing else was answered');
  assert.ok(raw.isOpen());
  await assertServerHealthy();
});

test('ws: DISCONNECT from "/" then CONNECT again on the same session', { timeout: 15000 }, async () => {
  const raw = await rawSession();
  raw.send('40/custom,');
  assert.match(await raw.nextText(), /^40\/custom,\{"sid":"[^"]+"\}$/);
  assert.equal(await raw.nextText(), '42/custom,["auth",{}]');
  raw.send('41');
  // a round trip on /custom: the DISCONNECT from "/" has been handled after it
  raw.send('42/custom,["message","barrier"]');
  assert.equal(await raw.nextText(), '42/custom,["message-back","barrier"]');
  raw.send('40{"again":true}');
  const reply = await raw.nextText();
  assert.match(reply, /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await raw.nextText(), '42["auth",{"again":true}]');
  raw.send('42["message","back again"]');
  assert.equal(await raw.nextText(), '42["message-back","back again"]');
  await assertServerHealthy();
});

test('ws: connections dropped abruptly mid-handshake or mid-session do not hurt the server', { timeout: 20000 }, async () => {
  const opened = await Promise.all(Array.from({ length: 10 }, () => rawSession()));
  for (const raw of opened) {
    raw.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'); // left incomplete
    raw.ws.terminate(); // no close frame
  }
  const half = Array.from({ length: 10 }, () => new c.RawWs(`${server.wsUrl}${server.path}?EIO=4&transport=websocket`));
  for (const raw of half) raw.ws.once('upgrade', () => raw.ws.terminate());
  await Promise.all(half.map((raw) => raw.closed));
  await Promise.all(opened.map((raw) => raw.closed));
  await assertServerHealthy();
});

// ---- raw TCP ------------------------------------------------------------------------

function assertHttpErrorIfAny(data, label) {
  if (data.length === 0) return; // closing without an answer is fine
  assert.match(data.toString('latin1'), /^HTTP\/1\.[01] 4\d\d /, `${label}: answered ${JSON.stringify(data.toString('latin1').slice(0, 80))}`);
}

test('tcp: a truncated request line, then the client closes', { timeout: 15000 }, async () => {
  const res = await c.rawTcp(server, ['GET / HTTP/1.1\r\n'], { endWrite: true, timeout: 5000 });
  assertHttpErrorIfAny(res.data, 'truncated request');
  await assertServerHealthy();
});

test('tcp: random bytes are refused and the connection closed', { timeout: 15000 }, async () => {
  const junk = crypto.randomBytes(8192);
  junk[0] = 0x00; // never a valid method
  const res = await c.rawTcp(server, [junk], { timeout: 5000 });
  assertHttpErrorIfAny(res.data, 'random bytes');
  await assertServerHealthy();
});

test('tcp: an extremely long header line is refused and the connection closed', { timeout: 15000 }, async () => {
  const res = await c.rawTcp(
    server,
    [`GET ${server.path}?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ${'a'.repeat(256 * 1024)}\r\n\r\n`],
    { timeout: 5000 },
  );
  assertHttpErrorIfAny(res.data, 'long header');
  assert.ok(!res.data.toString('latin1').startsWith('HTTP/1.1 200'), 'not served');
  await assertServerHealthy();
});

test('tcp: an extremely long request URL is refused and the connection closed', { timeout: 15000 }, async () => {
  const res = await c.rawTcp(
    server,
    [`GET ${server.path}?EIO=4&transport=polling&x=${'a'.repeat(256 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`],
    { timeout: 5000 },
  );
  assertHttpErrorIfAny(res.data, 'long URL');
  await assertServerHealthy();
});

test('tcp: a WebSocket upgrade with an invalid Sec-WebSocket-Key is refused', { timeout: 15000 }, async () => {
  const res = await c.rawTcp(
    server,
    [
      `GET ${server.path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: !!\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ],
    { timeout: 5000 },
  );
  assert.ok(!res.data.toString('latin1').startsWith('HTTP/1.1 101'), 'the upgrade must not be accepted');
  assertHttpErrorIfAny(res.data, 'bad websocket key');
  await assertServerHealthy();
});

test('tcp: many connections opened and dropped at once', { timeout: 15000 }, async () => {
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      c.rawTcp(server, i % 2 ? ['GET /socket.io/?EIO=4&transport=pol'] : [], { endWrite: true, timeout: 5000 }),
    ),
  );
  await assertServerHealthy();
});

// ---- polling --------------------------------------------------------------------------

const POLLING_CASES = [
  ['unknown Engine.IO packet type', '9'],
  ['invalid JSON', '42["a",'],
  ['non-array event payload', '42{"a":1}'],
  ['an Engine.IO message that is not a Socket.IO packet', '4garbage'],
  ['a valid packet followed by a malformed one', `42["message","x"]${c.RS}9`],
  ['a binary packet without a pending placeholder', 'bAQID'],
  ['a second CONNECT to "/"', '40'],
];

for (const [name, body] of POLLING_CASES) {
  test(`polling: POST with ${name} closes the session`, { timeout: 15000 }, async () => {
    const { sid } = await c.pollingHandshake(server);
    assert.equal((await c.pollPost(server, sid, '40')).body, 'ok');
    await c.pollPackets(server, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
    const res = await c.pollPost(server, sid, body);
    assert.ok([200, 400].includes(res.status), `POST answered ${res.status} ${res.body}`);
    await c.pollingSessionClosed(server, sid, CLOSE_BOUND_MS);
    await assertServerHealthy();
  });
}

test('polling: a POST with an unknown sid or after the session closed is refused with 400', { timeout: 15000 }, async () => {
  const { sid } = await c.pollingHandshake(server);
  await c.pollPost(server, sid, '9');
  await c.pollingSessionClosed(server, sid, CLOSE_BOUND_MS);
  const again = await c.pollPost(server, sid, '42["message","x"]');
  assert.equal(again.status, 400);
  assert.deepEqual(JSON.parse(again.body), { code: 1, message: 'Session ID unknown' });
  await assertServerHealthy();
});
