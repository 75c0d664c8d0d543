'use strict';
// Plain HTTP endpoints beside the Engine.IO path. /healthz and /metrics exist
// on switchboard only (the Node reference server has neither), so those tests
// are registered for the switchboard target alone.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, IS_SWITCHBOARD } = require('./lib/server');
const c = require('./lib/client');

let server;

before(async () => {
  server = await startServer();
});

test('an unknown path -> 404', { timeout: 10000 }, async () => {
  for (const path of ['/', '/nope', '/socket.io.js.map', '/favicon.ico']) {
    const res = await c.request(server, { path });
    assert.equal(res.status, 404, `GET ${path}`);
  }
  // the server still serves Socket.IO afterwards
  const socket = await c.connectClient(server, { transports: ['websocket'] });
  await c.assertEchoes(socket, assert);
});

if (IS_SWITCHBOARD) {
  test('GET /healthz -> 200 JSON with "status":"ok"', { timeout: 10000 }, async () => {
    const res = await c.request(server, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /json/i);
    assert.match(res.body, /"status"\s*:\s*"ok"/);
    assert.equal(JSON.parse(res.body).status, 'ok');
  });

  test('GET /metrics -> 200 Prometheus text with connection and socket gauges', { timeout: 10000 }, async () => {
    const a = await c.connectClient(server, { transports: ['websocket'] });
    const b = await c.connectClient(server, { transports: ['polling'] });
    const custom = await c.connectClient(server, { namespace: '/custom', transports: ['websocket'] });
    await Promise.all([a, b, custom].map((s) => c.assertEchoes(s, assert)));

    const res = await c.request(server, { path: '/metrics' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/i);
    const value = (name) => {
      const lines = res.body.split('\n').filter((l) => new RegExp(`^${name}(\\{[^}]*\\})?\\s+[-+0-9.eE]+`).test(l));
      assert.ok(lines.length > 0, `no sample of ${name} in:\n${res.body}`);
      return lines.reduce((sum, l) => sum + Number(l.trim().split(/\s+/).pop()), 0);
    };
    assert.match(res.body, /\bswitchboard_connections\b/);
    assert.match(res.body, /\bswitchboard_sockets\b/);
    assert.ok(value('switchboard_connections') >= 3, 'three client connections are open');
    assert.ok(value('switchboard_sockets') >= 3, 'three Socket.IO sockets are connected');
  });

  test('the health and metrics endpoints do not disturb connected clients', { timeout: 10000 }, async () => {
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.request(server, { path: i % 2 ? '/healthz' : '/metrics' })));
    await c.assertEchoes(socket, assert);
    assert.deepEqual(socket.disconnects, []);
  });
}
