'use strict';
// A subscriber that stops reading must not hold back the others in its room
// or grow the server's memory: once its queue passes limits.max_send_queue it
// is dropped, and everyone else still gets every broadcast, in order.
// Switchboard only: the Node server has no send-queue limit.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, IS_SWITCHBOARD } = require('./lib/server');
const c = require('./lib/client');

const BROADCASTS = 400;
const PAD = 'x'.repeat(40 * 1024); // 16 MB in all: more than the loopback socket buffers absorb

async function eventually(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (IS_SWITCHBOARD) {
  test('a subscriber that stops reading is dropped at max_send_queue; the rest of the room gets everything', { timeout: 120000 }, async () => {
    const server = await startServer({
      config: {
        limits: { max_send_queue: '256KiB' },
        // the queue limit, not a missed pong, must be what drops it
        engineio: { ping_interval: '30s', ping_timeout: '30s' },
      },
    });
    try {
      const fast = await Promise.all([0, 1].map(() => c.connectClient(server, { transports: ['websocket'] })));
      const received = fast.map(() => []);
      for (const [i, s] of fast.entries()) {
        assert.deepEqual(await c.ack(s, 'join', ['bulk']), [true]);
        s.on('bulk', (data) => received[i].push(data.n));
      }

      const { raw: slow } = await c.rawSioSession(server);
      slow.send('421["join","bulk"]');
      assert.equal(await slow.nextText(), '431[true]');
      slow.ws._socket.pause(); // stops reading: the kernel buffers fill, then the server's queue

      const publisher = await c.connectClient(server, { transports: ['websocket'] });
      for (let n = 0; n < BROADCASTS; n++) {
        assert.deepEqual(await c.ack(publisher, 'broadcast', [{ rooms: ['bulk'], event: 'bulk', data: { n, pad: PAD } }]), [true]);
      }
      await eventually(() => received.every((r) => r.length === BROADCASTS), 60000, 'every broadcast at both fast subscribers');
      const inOrder = Array.from({ length: BROADCASTS }, (_, n) => n);
      for (const r of received) assert.deepEqual(r, inOrder);

      // The slow one reads again: it gets what was in flight, then the close.
      slow.ws._socket.resume();
      await slow.waitClosed(30000);
      const bulkFrames = slow.frames.filter((f) => f.text && f.text.startsWith('42["bulk"')).length;
      assert.ok(bulkFrames < BROADCASTS, `the slow subscriber was dropped (it got ${bulkFrames} of ${BROADCASTS})`);

      const metrics = (await c.request(server, { path: '/metrics' })).body;
      assert.match(metrics, /^switchboard_send_queue_overflows_total [1-9]/m);
      assert.equal((await c.request(server, { path: '/healthz' })).status, 200);
      for (const s of [...fast, publisher]) assert.ok(s.connected, 'the others are still connected');
    } finally {
      await server.stop();
    }
  });
}
