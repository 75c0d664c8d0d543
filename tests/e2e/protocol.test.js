'use strict';
// Engine.IO over raw HTTP and WebSocket, without the client library: the
// handshake, error answers, polling semantics, payload limits, CORS and the
// polling -> WebSocket upgrade, byte for byte where the protocol fixes them.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, IS_SWITCHBOARD } = require('./lib/server');
const c = require('./lib/client');

let server; // default settings
let quiet; // long timers: a session only closes because of what a test does

before(async () => {
  [server, quiet] = await Promise.all([
    startServer(),
    startServer({
      config: {
        engineio: { ping_interval: '10s', ping_timeout: '5s' },
        socketio: { connect_timeout: '10s' },
      },
    }),
  ]);
});

const ERRORS = {
  transportUnknown: { code: 0, message: 'Transport unknown' },
  sidUnknown: { code: 1, message: 'Session ID unknown' },
  badHandshakeMethod: { code: 2, message: 'Bad handshake method' },
  badRequest: { code: 3, message: 'Bad request' },
  unsupportedVersion: { code: 5, message: 'Unsupported protocol version' },
};

function assertJsonError(res, expected) {
  assert.equal(res.status, 400, `status for ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), expected);
}

function normaliseContentType(v) {
  return String(v).toLowerCase().replace(/\s+/g, '');
}

// ---- handshake --------------------------------------------------------------

test('polling handshake: 200, text/plain, open packet with the configured values', { timeout: 10000 }, async () => {
  const res = await c.request(server, { path: c.eioPath(server) });
  assert.equal(res.status, 200);
  assert.equal(normaliseContentType(res.headers['content-type']), 'text/plain;charset=utf-8');
  assert.equal(res.body[0], '0', `body: ${res.body}`);
  const open = JSON.parse(res.body.slice(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.ok(open.sid.length >= 8, `sid "${open.sid}" is too short to be unguessable`);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, 300);
  assert.equal(open.pingTimeout, 200);
  assert.equal(open.maxPayload, 1000000);

  const again = await c.pollingHandshake(server);
  assert.notEqual(again.sid, open.sid, 'every handshake opens a new session');
});

test('websocket handshake: the first frame is the open packet with upgrades []', { timeout: 10000 }, async () => {
  const raw = await c.RawWs.open(server);
  const frame = await raw.next();
  assert.equal(typeof frame.text, 'string', 'a text frame');
  assert.equal(frame.text[0], '0');
  const open = JSON.parse(frame.text.slice(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.deepEqual(open.upgrades, []);
  assert.equal(open.pingInterval, 300);
  assert.equal(open.pingTimeout, 200);
  assert.equal(open.maxPayload, 1000000);
  assert.equal(typeof open.sid, 'string');
  raw.send('40');
  const reply = await raw.nextText();
  const m = /^40\{"sid":"([^"]+)"\}$/.exec(reply);
  assert.ok(m, `CONNECT reply: ${reply}`);
  assert.notEqual(m[1], open.sid, 'the Socket.IO id differs from the Engine.IO sid');
});

// ---- error answers ------------------------------------------------------------

test('unknown transport -> 400 {"code":0,"message":"Transport unknown"}', { timeout: 10000 }, async () => {
  assertJsonError(await c.request(server, { path: c.eioPath(server, { transport: 'carrier-pigeon' }) }), ERRORS.transportUnknown);
});

test('unknown sid -> 400 {"code":1,"message":"Session ID unknown"} for GET and POST', { timeout: 10000 }, async () => {
  assertJsonError(await c.pollGet(server, 'no-such-session'), ERRORS.sidUnknown);
  assertJsonError(await c.pollPost(server, 'no-such-session', '40'), ERRORS.sidUnknown);
});

test('POST without sid -> 400 {"code":2,"message":"Bad handshake method"}', { timeout: 10000 }, async () => {
  assertJsonError(await c.request(server, { method: 'POST', path: c.eioPath(server), body: '40' }), ERRORS.badHandshakeMethod);
});

test('EIO=3 -> 400 {"code":5,"message":"Unsupported protocol version"}', { timeout: 10000 }, async () => {
  assertJsonError(await c.request(server, { path: c.eioPath(server, { EIO: '3' }) }), ERRORS.unsupportedVersion);
});

test('missing EIO is refused with 400', { timeout: 10000 }, async () => {
  const res = await c.request(server, { path: c.eioPath(server, { EIO: undefined }) });
  assert.equal(res.status, 400);
  const body = JSON.parse(res.body);
  assert.ok(
    [JSON.stringify(ERRORS.unsupportedVersion), JSON.stringify(ERRORS.badRequest)].includes(JSON.stringify(body)),
    `body: ${res.body}`,
  );
});

test('transport=websocket on a plain GET (no Upgrade) -> 400 {"code":3,"message":"Bad request"}', { timeout: 10000 }, async () => {
  assertJsonError(await c.request(server, { path: c.eioPath(server, { transport: 'websocket' }) }), ERRORS.badRequest);
});

test('websocket upgrade with an unknown sid is refused with 400', { timeout: 10000 }, async () => {
  const err = await c.RawWs.open(server, { query: { sid: 'no-such-session' } }).then(
    () => assert.fail('the upgrade was accepted'),
    (e) => e,
  );
  assert.equal(err.statusCode, 400, String(err));
});

// ---- polling ------------------------------------------------------------------------

test('polling: POST answers "ok"; GET returns packets joined by \\x1e', { timeout: 10000 }, async () => {
  const { sid } = await c.pollingHandshake(quiet);
  const post = await c.pollPost(quiet, sid, '40{"token":"abc"}');
  assert.equal(post.status, 200);
  assert.equal(post.body, 'ok');

  const connect = await c.pollGet(quiet, sid);
  assert.equal(connect.status, 200);
  assert.equal(normaliseContentType(connect.headers['content-type']), 'text/plain;charset=utf-8');
  const [reply, auth, ...rest] = connect.body.split(c.RS);
  assert.match(reply, /^40\{"sid":"[^"]+"\}$/);
  assert.notEqual(JSON.parse(reply.slice(2)).sid, sid, 'the Socket.IO id differs from the Engine.IO sid');
  assert.equal(auth, '42["auth",{"token":"abc"}]');
  assert.deepEqual(rest, []);

  // two packets in one POST, answered in order in one GET
  assert.equal((await c.pollPost(quiet, sid, `42["message","one"]${c.RS}42["message",2]${c.RS}427["message-with-ack","three"]`)).body, 'ok');
  const packets = await c.pollPackets(quiet, sid, { until: (p) => p.length >= 3 });
  assert.deepEqual(packets, ['42["message-back","one"]', '42["message-back",2]', '437["three"]']);
});

test('polling: binary travels as "b" + base64 in both directions', { timeout: 10000 }, async () => {
  const { sid } = await c.pollingHandshake(quiet);
  await c.pollPost(quiet, sid, '40');
  await c.pollPackets(quiet, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  const post = await c.pollPost(quiet, sid, `451-["message",{"_placeholder":true,"num":0}]${c.RS}b${bytes.toString('base64')}`);
  assert.equal(post.body, 'ok');
  const packets = await c.pollPackets(quiet, sid, { until: (p) => p.length >= 2 });
  assert.deepEqual(packets, ['451-["message-back",{"_placeholder":true,"num":0}]', `b${bytes.toString('base64')}`]);
});

test('polling: a second concurrent GET -> 400 and the session is closed', { timeout: 10000 }, async () => {
  const { sid } = await c.pollingHandshake(quiet);
  await c.pollPost(quiet, sid, '40');
  await c.pollPackets(quiet, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
  // both GETs wait for data; whichever the server sees second is the overlap
  const results = await Promise.all([c.pollGet(quiet, sid), c.pollGet(quiet, sid)]);
  const statuses = results.map((r) => r.status).sort();
  assert.ok(statuses.includes(400), `statuses ${statuses}: one GET must be refused`);
  const held = results.find((r) => r.status !== 400);
  if (held) {
    // the held GET is ended by the session closing
    assert.equal(held.status, 200);
    assert.ok(held.body.split(c.RS).includes('1'), `the held GET got ${JSON.stringify(held.body)}`);
  }
  const closed = await c.pollingSessionClosed(quiet, sid, 2000);
  if (closed.how === '400') assertJsonError(closed.response, ERRORS.sidUnknown);
});

async function postTooLarge(srv) {
  const { sid, open } = await c.pollingHandshake(srv);
  await c.pollPost(srv, sid, '40');
  await c.pollPackets(srv, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
  const body = `42["message","${'x'.repeat(open.maxPayload)}"]`;
  const res = await c.pollPost(srv, sid, body, { timeout: 10000 }).catch((err) => ({ status: `error: ${err.message}` }));
  return { sid, res };
}

test('polling: a POST body larger than maxPayload -> 413', { timeout: 15000 }, async () => {
  const { sid, res } = await postTooLarge(quiet);
  assert.equal(res.status, 413);
  // the oversized message was not delivered: a GET gets no echo (it either
  // reports the session closed or waits, as there is nothing to send)
  const after = await c.pollGet(quiet, sid, { timeout: 500 }).catch(() => null);
  if (after && after.status === 200) assert.ok(!after.body.includes('message-back'), `GET after 413: ${after.body.slice(0, 80)}`);
});

// PROTOCOL.md: a 413 also closes the session. socket.io@4.8.4 answers 413 but
// keeps the session open (engine.io's polling transport only ends that one
// request), so this is checked on switchboard only.
if (IS_SWITCHBOARD) {
  test('polling: after a 413 the session is closed', { timeout: 15000 }, async () => {
    const { sid, res } = await postTooLarge(quiet);
    assert.equal(res.status, 413);
    await c.pollingSessionClosed(quiet, sid, 2000);
  });
}

test('polling: a POST body of exactly maxPayload is accepted', { timeout: 15000 }, async () => {
  const { sid, open } = await c.pollingHandshake(quiet);
  await c.pollPost(quiet, sid, '40');
  await c.pollPackets(quiet, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
  const head = '42["message","';
  const tail = '"]';
  const body = head + 'y'.repeat(open.maxPayload - head.length - tail.length) + tail;
  assert.equal(Buffer.byteLength(body), open.maxPayload);
  const res = await c.pollPost(quiet, sid, body, { timeout: 10000 });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'ok');
  const packets = await c.pollPackets(quiet, sid, { until: (p) => p.length >= 1, timeout: 5000 });
  assert.equal(packets[0].length, body.length + '-back'.length);
});

// ---- CORS -----------------------------------------------------------------------------

test('CORS with origins ["*"]: requests from any origin are allowed, preflight answers 204', { timeout: 10000 }, async () => {
  const origin = 'http://example.com';
  const res = await c.request(server, { path: c.eioPath(server), headers: { Origin: origin } });
  assert.equal(res.status, 200);
  const allow = res.headers['access-control-allow-origin'];
  assert.ok(allow === '*' || allow === origin, `Access-Control-Allow-Origin: ${allow}`);
  if (allow === origin) assert.match(String(res.headers.vary), /origin/i, 'an echoed origin needs Vary: Origin');

  const pre = await c.request(server, {
    method: 'OPTIONS',
    path: c.eioPath(server),
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  const preAllow = pre.headers['access-control-allow-origin'];
  assert.ok(preAllow === '*' || preAllow === origin, `preflight Access-Control-Allow-Origin: ${preAllow}`);
  const methods = String(pre.headers['access-control-allow-methods']).toUpperCase();
  assert.match(methods, /\bGET\b/);
  assert.match(methods, /\bPOST\b/);
  assert.match(String(pre.headers['access-control-allow-headers']), /content-type/i);

  // error answers carry CORS headers too, so a browser can read them
  const err = await c.request(server, { path: c.eioPath(server, { transport: 'nope' }), headers: { Origin: origin } });
  assert.equal(err.status, 400);
  assert.ok(['*', origin].includes(err.headers['access-control-allow-origin']));
});

test('CORS with an origin list and credentials: only listed origins are allowed', { timeout: 10000 }, async () => {
  const allowed = 'http://allowed.test';
  const srv = await startServer({ config: { cors: { origins: [allowed], credentials: true } } });
  const ok = await c.request(srv, { path: c.eioPath(srv), headers: { Origin: allowed } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], allowed);
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  assert.match(String(ok.headers.vary), /origin/i);

  const pre = await c.request(srv, {
    method: 'OPTIONS',
    path: c.eioPath(srv),
    headers: { Origin: allowed, 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], allowed);
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');

  const evil = 'http://evil.test';
  const bad = await c.request(srv, { path: c.eioPath(srv), headers: { Origin: evil } });
  const badAllow = bad.headers['access-control-allow-origin'];
  assert.ok(badAllow === undefined || (badAllow !== evil && badAllow !== '*'), `Access-Control-Allow-Origin: ${badAllow}`);
  const badPre = await c.request(srv, {
    method: 'OPTIONS',
    path: c.eioPath(srv),
    headers: { Origin: evil, 'Access-Control-Request-Method': 'POST' },
  });
  const badPreAllow = badPre.headers['access-control-allow-origin'];
  assert.ok(badPreAllow === undefined || (badPreAllow !== evil && badPreAllow !== '*'), `preflight Access-Control-Allow-Origin: ${badPreAllow}`);
  await srv.stop();
});

// ---- upgrade --------------------------------------------------------------------------

/** A polling session, connected to "/", its auth event read. */
async function connectedPollingSession(srv) {
  const { sid } = await c.pollingHandshake(srv);
  await c.pollPost(srv, sid, '40');
  await c.pollPackets(srv, sid, { until: (p) => p.some((x) => x.startsWith('42["auth"')) });
  return sid;
}

test('upgrade: 2probe -> 3probe, the pending GET ends with noop, then polling with that sid is refused', { timeout: 10000 }, async () => {
  const sid = await connectedPollingSession(quiet);
  const pending = c.pollGet(quiet, sid);
  const ws = await c.RawWs.open(quiet, { query: { sid } });
  ws.send('2probe');
  assert.equal(await ws.nextText(), '3probe');
  const ended = await pending;
  assert.equal(ended.status, 200);
  assert.deepEqual(ended.body.split(c.RS), ['6'], 'the pending GET is released with a noop');
  ws.send('5');

  ws.send('42["message","over websocket"]');
  assert.equal(await ws.nextText(), '42["message-back","over websocket"]');
  ws.send('423["message-with-ack",{"a":1}]');
  assert.equal(await ws.nextText(), '433[{"a":1}]');

  const get = await c.pollGet(quiet, sid);
  assert.equal(get.status, 400, `polling GET after upgrade: ${get.status} ${get.body}`);
  assert.ok([1, 3].includes(JSON.parse(get.body).code), `body: ${get.body}`);
  const post = await c.pollPost(quiet, sid, '42["message","x"]');
  assert.equal(post.status, 400, `polling POST after upgrade: ${post.status} ${post.body}`);

  // the upgraded session is unaffected by the refused requests
  ws.send('42["message","still"]');
  assert.equal(await ws.nextText(), '42["message-back","still"]');
});

test('upgrade: a GET sent after the probe is answered at once with a noop, so the client can pause polling and finish', { timeout: 10000 }, async () => {
  const sid = await connectedPollingSession(quiet); // ping_interval 10 s: a held GET would hang far past the 2 s below
  const ws = await c.RawWs.open(quiet, { query: { sid } });
  ws.send('2probe');
  assert.equal(await ws.nextText(), '3probe');
  const late = await c.pollGet(quiet, sid, { timeout: 2000 });
  assert.equal(late.status, 200);
  assert.deepEqual(late.body.split(c.RS), ['6']);
  ws.send('5');
  ws.send('42["message","after the upgrade"]');
  assert.equal(await ws.nextText(3000, (f) => f.text === '6'), '42["message-back","after the upgrade"]');
});

test('upgrade: packets queued for the session during the probe are delivered over the websocket', { timeout: 10000 }, async () => {
  const sid = await connectedPollingSession(quiet);
  const ws = await c.RawWs.open(quiet, { query: { sid } });
  ws.send('2probe');
  assert.equal(await ws.nextText(), '3probe');
  // sent over polling while the probe is done but the upgrade not yet
  assert.equal((await c.pollPost(quiet, sid, '42["message","during probe"]')).body, 'ok');
  ws.send('5');
  assert.equal(await ws.nextText(3000, (f) => f.text === '6'), '42["message-back","during probe"]');
});

test('upgrade: a second websocket for an upgraded session is closed, the first keeps working', { timeout: 10000 }, async () => {
  const sid = await connectedPollingSession(quiet);
  const ws = await c.RawWs.open(quiet, { query: { sid } });
  ws.send('2probe');
  assert.equal(await ws.nextText(), '3probe');
  ws.send('5');
  ws.send('42["message","first"]');
  assert.equal(await ws.nextText(), '42["message-back","first"]');

  const second = new c.RawWs(`${quiet.wsUrl}${quiet.path}?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`);
  const refused = await second.opened.then(
    () => null,
    (e) => e,
  );
  if (!refused) {
    second.send('2probe');
    const frame = await second.next(2000).catch(() => null);
    assert.equal(frame, null, `the second websocket got ${JSON.stringify(frame)}`);
    await second.waitClosed(2000);
  }
  ws.send('42["message","first again"]');
  assert.equal(await ws.nextText(), '42["message-back","first again"]');
});

test('WebSocket: a burst of events in one TCP write gets every reply, in order and intact (text, 16-bit lengths, binary)', async () => {
  const { raw } = await c.rawSioSession(quiet);
  const sent = [];
  const socket = raw.ws._socket;
  socket.cork(); // all frames leave in one write and reach the server in one read
  for (let i = 0; i < 40; i++) {
    const text = i % 3 === 0 ? `big-${i}-${'x'.repeat(300 + i)}` : `small-${i}`; // > 125 bytes takes a 16-bit length
    sent.push(text);
    raw.send(`42["message",${JSON.stringify(text)}]`);
  }
  raw.send('451-["message",{"_placeholder":true,"num":0}]');
  raw.send(Buffer.from([0, 1, 2, 253, 254, 255]), { binary: true });
  process.nextTick(() => socket.uncork());

  for (const text of sent) assert.equal(await raw.nextText(), `42["message-back",${JSON.stringify(text)}]`);
  assert.equal(await raw.nextText(), '451-["message-back",{"_placeholder":true,"num":0}]');
  const attachment = await raw.next();
  assert.deepEqual(attachment.binary, Buffer.from([0, 1, 2, 253, 254, 255]));
  raw.close();
});
