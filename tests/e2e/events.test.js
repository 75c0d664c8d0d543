'use strict';
// Events and acknowledgements through the echo module, text and binary, over
// both transports: what goes in must come back exactly.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const c = require('./lib/client');

let server;
const sockets = {};

before(async () => {
  server = await startServer();
  sockets.websocket = await c.connectClient(server, { transports: ['websocket'] });
  sockets.polling = await c.connectClient(server, { transports: ['polling'] });
});

const TEXT_CASES = {
  'no arguments': [],
  'one string': ['hello'],
  'multiple arguments of every JSON type': ['text', 42, -3.5, 0, 2 ** 53 - 1, null, true, false, [], {}],
  'nested objects and arrays': [
    { user: { id: 7, tags: ['x', 'y'], profile: { langs: [{ code: 'fr', level: 3 }], empty: {} } } },
    [[1, [2, [3, [4]]]], { a: null }],
  ],
  'unicode and escapes': [
    'héllo wörld ✓ 日本語 Ελληνικά עברית',
    'emoji 🎉👩‍💻 outside the BMP',
    'quotes " and \\ backslash, newline \n tab \t',
    'control \u0000 \u001e \u001f and line separators \u2028 \u2029',
    '',
    { 'ключ': 'значение', '🔑': '🎁' },
  ],
  'ten arguments': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  'a large string': ['x'.repeat(200000)],
};

// Buffers come back as Buffers (the Node client decodes binary as Buffer).
const bin = (...bytes) => Buffer.from(bytes);
const BINARY_CASES = {
  'a Buffer argument': [bin(0, 1, 2, 253, 254, 255)],
  'Buffers mixed with text': ['before', bin(1), 'middle', bin(2, 2), 'after'],
  'binary nested in objects and arrays': [
    { file: { name: 'a.bin', data: bin(9, 8, 7) }, list: [bin(1), { deep: [bin(2), 'x'] }], n: 1 },
  ],
  'several attachments of different sizes': [
    bin(0),
    Buffer.alloc(1024, 0xab),
    Buffer.alloc(64 * 1024, 0x5a),
    Buffer.from('text as bytes: ✓', 'utf8'),
    Buffer.alloc(3, 0),
  ],
  'an empty Buffer': [Buffer.alloc(0), 'after-empty'],
  'a 200 kB Buffer': [Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 31) % 256))],
};

// Uint8Array/ArrayBuffer are sent as binary too; the server sees bytes.
function normalise(value) {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

function assertSameBinary(actual, expected, where = 'args') {
  if (Buffer.isBuffer(expected)) {
    assert.ok(Buffer.isBuffer(actual), `${where}: expected a Buffer, got ${Object.prototype.toString.call(actual)}`);
    assert.ok(actual.equals(expected), `${where}: bytes differ (length ${actual.length} vs ${expected.length})`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertSameBinary(actual[i], e, `${where}[${i}]`));
  } else if (expected && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const k of Object.keys(expected)) assertSameBinary(actual[k], expected[k], `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

for (const transport of ['websocket', 'polling']) {
  let socket;

  test(`[${transport}] the client uses ${transport}`, { timeout: 10000 }, async () => {
    socket = sockets[transport];
    assert.equal(socket.io.engine.transport.name, transport);
    assert.deepEqual(await socket.inbox.take('auth'), [{}]);
  });

  for (const [name, args] of Object.entries(TEXT_CASES)) {
    test(`[${transport}] message -> message-back: ${name}`, { timeout: 10000 }, async () => {
      socket.emit('message', ...args);
      assert.deepEqual(await socket.inbox.take('message-back'), args);
    });

    test(`[${transport}] message-with-ack is acknowledged with the same arguments: ${name}`, { timeout: 10000 }, async () => {
      assert.deepEqual(await c.ack(socket, 'message-with-ack', args), args);
    });
  }

  test(`[${transport}] emitWithAck resolves with the first acknowledged argument`, { timeout: 10000 }, async () => {
    const value = { ok: true, list: [1, 'two', null] };
    assert.deepEqual(await socket.timeout(3000).emitWithAck('message-with-ack', value, 'ignored'), value);
  });

  test(`[${transport}] acks are matched to their own request when many are in flight`, { timeout: 10000 }, async () => {
    const pending = [];
    for (let i = 0; i < 100; i += 1) pending.push(c.ack(socket, 'message-with-ack', [i, `n${i}`]));
    const results = await Promise.all(pending);
    results.forEach((r, i) => assert.deepEqual(r, [i, `n${i}`]));
  });

  test(`[${transport}] an ack callback fires exactly once`, { timeout: 10000 }, async () => {
    let calls = 0;
    const done = new Promise((resolve) => {
      socket.emit('message-with-ack', 'once', () => {
        calls += 1;
        resolve();
      });
    });
    await c.withTimeout(done, 3000, 'the ack');
    // any duplicate ack would arrive before this later echo
    await c.assertEchoes(socket, assert);
    assert.equal(calls, 1);
  });

  for (const [name, args] of Object.entries(BINARY_CASES)) {
    test(`[${transport}] binary message -> message-back: ${name}`, { timeout: 10000 }, async () => {
      socket.emit('message', ...args);
      assertSameBinary(await socket.inbox.take('message-back'), args);
    });

    test(`[${transport}] binary in acks: ${name}`, { timeout: 10000 }, async () => {
      assertSameBinary(await c.ack(socket, 'message-with-ack', args), args);
    });
  }

  test(`[${transport}] Uint8Array and ArrayBuffer arguments come back as the same bytes`, { timeout: 10000 }, async () => {
    const args = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7]).buffer, { view: new Uint8Array([8]) }];
    socket.emit('message', ...args);
    assertSameBinary(await socket.inbox.take('message-back'), normalise(args));
    assertSameBinary(await c.ack(socket, 'message-with-ack', args), normalise(args));
  });

  test(`[${transport}] text and binary events interleaved keep their order`, { timeout: 10000 }, async () => {
    const sent = [];
    for (let i = 0; i < 30; i += 1) {
      const args = i % 3 === 0 ? [i, Buffer.from([i, i + 1])] : [i, `t${i}`];
      sent.push(args);
      socket.emit('message', ...args);
    }
    for (const args of sent) assertSameBinary(await socket.inbox.take('message-back'), args);
  });

  test(`[${transport}] events the server does not handle get no answer and do not disturb the session`, { timeout: 10000 }, async () => {
    socket.emit('no-such-event', 1, 2);
    socket.emit('message-back', 'clients do not get their own events back');
    await c.assertEchoes(socket, assert);
    assert.equal(socket.inbox.count('no-such-event'), 0);
    assert.equal(
      socket.inbox.all('message-back').filter((a) => a[0] === 'clients do not get their own events back').length,
      0,
    );
    assert.deepEqual(socket.disconnects, []);
  });
}
