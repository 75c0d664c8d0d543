'use strict';
// Timers: the server's heartbeat (ping every ping_interval, close when no
// pong within ping_timeout) and the Socket.IO connect timeout. The server
// runs with ping_interval 300ms, ping_timeout 200ms, connect_timeout 1000ms.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

let server;
let PING_INTERVAL;
let PING_TIMEOUT;
let CONNECT_TIMEOUT;

before(async () => {
  server = await startServer({
    config: {
      engineio: { ping_interval: '300ms', ping_timeout: '200ms' },
      socketio: { connect_timeout: '1000ms' },
    },
  });
  PING_INTERVAL = server.duration('engineio', 'ping_interval');
  PING_TIMEOUT = server.duration('engineio', 'ping_timeout');
  CONNECT_TIMEOUT = server.duration('socketio', 'connect_timeout');
});

/** Resolves after `ms`: used only where elapsed time itself is what is tested. */
const observeFor = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

for (const transport of ['websocket', 'polling']) {
  test(`[${transport}] a client answering pings stays connected for 2 s and receives pings`, { timeout: 10000 }, async () => {
    const socket = await c.connectClient(server, { transports: [transport] });
    let pings = 0;
    socket.io.on('ping', () => {
      pings += 1;
    });
    await observeFor(2000);
    assert.ok(socket.connected, 'still connected');
    assert.deepEqual(socket.disconnects, []);
    // ~6 pings expected in 2 s at a 300 ms interval; allow for timer jitter
    assert.ok(pings >= 4, `received ${pings} pings in 2 s`);
    assert.ok(pings <= 8, `received ${pings} pings in 2 s: faster than the interval`);
    await c.assertEchoes(socket, assert);
  });
}

test('the handshake advertises the configured heartbeat', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server);
  const open = await c.readOpenPacket(raw);
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
});

test('a raw websocket that never answers pings is closed after ping_interval + ping_timeout', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server, { autoPong: false });
  await c.readOpenPacket(raw);
  raw.send('40'); // connected, so the connect timeout is not what closes it
  assert.match(await raw.nextText(), /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await raw.nextText(), '42["auth",{}]');

  const ping = await raw.next(PING_INTERVAL + 1000);
  assert.deepEqual(ping, { text: '2' }, 'the server pings first');
  const firstPingAfter = Date.now() - raw.openedAt;
  assert.ok(firstPingAfter >= PING_INTERVAL - 50, `first ping after ${firstPingAfter} ms`);

  const closed = await raw.waitClosed(3000);
  const elapsed = closed.at - raw.openedAt;
  assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50, `closed after ${elapsed} ms: too early`);
  assert.ok(elapsed <= 3000, `closed after ${elapsed} ms`);
  assert.ok(raw.pings <= 2, `${raw.pings} pings before closing`);
});

test('a raw websocket answering pings stays open across many intervals', { timeout: 10000 }, async () => {
  const { raw } = await c.rawSioSession(server, { autoPong: true });
  // 5 answered pings (~1.5 s) is far past ping_interval + ping_timeout
  await raw.waitPings(5, 5000);
  assert.ok(raw.isOpen());
  raw.send('42["message","alive"]');
  assert.equal(await raw.nextText(), '42["message-back","alive"]');
});

test('a polling session that never answers pings is closed', { timeout: 10000 }, async () => {
  const { sid } = await c.pollingHandshake(server);
  assert.equal((await c.pollPost(server, sid, '40')).body, 'ok');
  const start = Date.now();
  const seen = [];
  let closedBy = null;
  while (!closedBy && Date.now() - start < 3000) {
    const res = await c.pollGet(server, sid, { timeout: 3000 });
    if (res.status === 400) {
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
      closedBy = '400';
    } else {
      const packets = res.body.split(c.RS);
      seen.push(...packets);
      if (packets.includes('1')) closedBy = 'close packet';
    }
  }
  const elapsed = Date.now() - start;
  assert.ok(closedBy, `session still open after ${elapsed} ms; saw ${JSON.stringify(seen)}`);
  assert.ok(seen.includes('2'), `a ping was sent first; saw ${JSON.stringify(seen)}`);
  assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 100, `closed after ${elapsed} ms`);
});

test('a raw websocket that never sends CONNECT is closed after connect_timeout', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server, { autoPong: true }); // heartbeat kept alive
  await c.readOpenPacket(raw);
  const closed = await raw.waitClosed(CONNECT_TIMEOUT + 2000);
  const elapsed = closed.at - raw.openedAt;
  assert.ok(elapsed >= CONNECT_TIMEOUT - 100, `closed after ${elapsed} ms: before the connect timeout`);
  assert.ok(elapsed <= CONNECT_TIMEOUT + 1500, `closed after ${elapsed} ms`);
  assert.ok(raw.pings >= 2, `pings were answered meanwhile (${raw.pings})`);
});

test('a polling session that never sends CONNECT is closed after connect_timeout', { timeout: 10000 }, async () => {
  const { sid } = await c.pollingHandshake(server);
  const start = Date.now();
  let closedBy = null;
  let pongs = 0;
  while (!closedBy && Date.now() - start < CONNECT_TIMEOUT + 2000) {
    const res = await c.pollGet(server, sid, { timeout: 3000 });
    if (res.status === 400) {
      closedBy = '400';
      break;
    }
    for (const p of res.body.split(c.RS)) {
      if (p === '1') closedBy = 'close packet';
      if (p === '2') {
        pongs += 1;
        await c.pollPost(server, sid, '3');
      }
    }
  }
  const elapsed = Date.now() - start;
  assert.ok(closedBy, `still open after ${elapsed} ms`);
  assert.ok(elapsed >= CONNECT_TIMEOUT - 100, `closed after ${elapsed} ms: before the connect timeout`);
  assert.ok(elapsed <= CONNECT_TIMEOUT + 1500, `closed after ${elapsed} ms`);
  assert.ok(pongs >= 2, `pings were answered meanwhile (${pongs})`);
});

test('CONNECT sent late, but within connect_timeout, keeps the session', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server, { autoPong: true });
  await c.readOpenPacket(raw);
  await raw.waitPings(1, 3000); // the first ping (~300 ms) before connecting
  raw.send('40');
  assert.match(await raw.nextText(), /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await raw.nextText(), '42["auth",{}]');
  // stay past the connect deadline (about 5 pings = 1.5 s), then prove it works
  await raw.waitPings(5, 5000);
  assert.ok(Date.now() - raw.openedAt > CONNECT_TIMEOUT);
  raw.send('42["message","late but fine"]');
  assert.equal(await raw.nextText(), '42["message-back","late but fine"]');
});
