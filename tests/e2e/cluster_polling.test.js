'use strict';
// Two nodes behind a plain round-robin load balancer (no sticky sessions):
// a long-polling request that lands on the node that does not own the
// session is forwarded by it to the owner, whose answer comes back. The
// balancer is a tiny proxy written here (node:http), sending each request
// to the next node in turn.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { IS_SWITCHBOARD } = require('./lib/server');
const { startCluster, metric } = require('./lib/cluster');
const c = require('./lib/client');

const RS = '\x1e';

/** A round-robin HTTP proxy in front of `nodes`; `hits[i]` counts requests sent to node i. */
function roundRobinProxy(nodes) {
  let next = 0;
  const hits = nodes.map(() => 0);
  const pick = () => {
    const i = next;
    next = (next + 1) % nodes.length;
    hits[i] += 1;
    return nodes[i];
  };
  const server = http.createServer((req, res) => {
    const node = pick();
    const up = http.request(
      { host: '127.0.0.1', port: node.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (upRes) => {
        res.writeHead(upRes.statusCode, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  // WebSocket upgrades go round-robin too, as raw TCP.
  server.on('upgrade', (req, socket, head) => {
    const node = pick();
    const up = net.connect(node.port, '127.0.0.1', () => {
      let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${lines}\r\n`);
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      resolve({ url: `http://127.0.0.1:${port}`, path: nodes[0].path, port, hits, close: () => server.close() });
    });
  });
}

const forwardedOk = async (nodes) => {
  let sum = 0;
  for (const n of nodes) sum += (await metric(n, 'switchboard_cluster_forwarded_requests_total', 'result="ok"')) || 0;
  return sum;
};

if (IS_SWITCHBOARD) {
  describe('cluster behind a round-robin load balancer (long-polling)', () => {
    let cluster;
    let A;
    let B;
    let proxy;

    before(async () => {
      cluster = await startCluster({ count: 2 });
      [A, B] = cluster.nodes;
      proxy = await roundRobinProxy(cluster.nodes);
    });

    after(async () => {
      if (proxy) proxy.close();
    });

    test('session ids start with the owner node\'s tag; another node serves GET and POST for it', async () => {
      const a1 = await c.pollingHandshake(A);
      const a2 = await c.pollingHandshake(A);
      const b1 = await c.pollingHandshake(B);
      assert.equal(a1.sid.length, 21);
      assert.equal(a1.sid.slice(0, 6), a2.sid.slice(0, 6));
      assert.notEqual(a1.sid.slice(0, 6), b1.sid.slice(0, 6));
      // POST to B reaches A: the Socket.IO CONNECT is answered on A's session...
      const post = await c.pollPost(B, a1.sid, '40');
      assert.equal(post.status, 200);
      assert.equal(post.body, 'ok');
      // ...and a GET on B returns A's packets.
      const packets = await c.pollPackets(B, a1.sid, { until: (p) => p.some((x) => x.startsWith('40')) });
      assert.ok(packets.find((x) => x.startsWith('40{"sid":')), JSON.stringify(packets));
      // A held GET on B waits for the owner's ping, and the pong via B keeps the session.
      const ping = await c.pollGet(B, a1.sid, { timeout: 3000 });
      assert.equal(ping.status, 200);
      assert.ok(ping.body.split(RS).includes('2'), ping.body);
      assert.equal((await c.pollPost(B, a1.sid, '3')).status, 200);
      assert.ok((await metric(B, 'switchboard_cluster_forwarded_requests_total', 'result="ok"')) >= 4);
    });

    test('a forwarded request is never forwarded again; unknown tags are unknown sessions', async () => {
      const a = await c.pollingHandshake(A);
      const guarded = await c.pollGet(B, a.sid, { headers: { 'X-Switchboard-Forwarded': '1' } });
      assert.equal(guarded.status, 400);
      assert.deepEqual(JSON.parse(guarded.body), { code: 1, message: 'Session ID unknown' });
      const started = Date.now();
      const unknown = await c.pollGet(B, `zzzzzz${a.sid.slice(6)}`);
      assert.equal(unknown.status, 400);
      assert.deepEqual(JSON.parse(unknown.body), { code: 1, message: 'Session ID unknown' });
      assert.ok(Date.now() - started < 2000);
    });

    test('socket.io-client on polling through the balancer: events, acks, broadcasts from both nodes, heartbeats', async () => {
      const before = await forwardedOk(cluster.nodes);
      const hitsBefore = [...proxy.hits];
      const client = await c.connectClient(proxy, { transports: ['polling'] });
      await c.assertEchoes(client, assert);
      const onA = await c.connectClient(A, { transports: ['websocket'] });
      const onB = await c.connectClient(B, { transports: ['websocket'] });
      assert.deepEqual(await c.ack(onA, 'broadcast', [{ event: 'from-a', data: 1 }]), [true]);
      assert.deepEqual(await c.ack(onB, 'broadcast', [{ event: 'from-b', data: 2 }]), [true]);
      assert.deepEqual(await client.inbox.take('from-a'), [1]);
      assert.deepEqual(await client.inbox.take('from-b'), [2]);
      // Several ping intervals (300 ms each) pass; the session stays.
      const sid = client.io.engine.id;
      await new Promise((resolve) => setTimeout(resolve, 2000)); // the time span under test, not a synchronisation
      assert.equal(client.connected, true);
      assert.equal(client.io.engine.id, sid);
      assert.deepEqual(client.disconnects, []);
      await c.assertEchoes(client, assert);
      assert.ok(proxy.hits[0] > hitsBefore[0] && proxy.hits[1] > hitsBefore[1], JSON.stringify(proxy.hits));
      assert.ok((await forwardedOk(cluster.nodes)) > before);
      client.close();
    });

    test('default transports through the balancer: stays connected whether or not the upgrade lands on the owner', async () => {
      for (let i = 0; i < 4; i += 1) {
        const client = await c.connectClient(proxy, {});
        const upgradeErrors = [];
        client.io.engine.on('upgradeError', (e) => upgradeErrors.push(e));
        await c.assertEchoes(client, assert);
        await new Promise((resolve) => setTimeout(resolve, 700)); // lets the upgrade probe finish either way
        assert.equal(client.connected, true);
        assert.deepEqual(client.disconnects, []);
        await c.assertEchoes(client, assert);
        // A failed probe (it went to the non-owner) leaves the client on polling.
        if (upgradeErrors.length) assert.equal(client.io.engine.transport.name, 'polling');
        client.close();
      }
    });

    test('the owner killed: a request to the other node is answered at once with an error', async () => {
      const a = await c.pollingHandshake(A);
      await A.kill9();
      const started = Date.now();
      const res = await c.pollGet(B, a.sid, { timeout: 5000 });
      assert.equal(res.status, 400);
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
      assert.ok(Date.now() - started < 3000);
      assert.ok((await metric(B, 'switchboard_cluster_forwarded_requests_total', 'result="error"')) >= 1);
    });
  });
}
