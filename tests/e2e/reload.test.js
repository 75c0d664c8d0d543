'use strict';
// Hot reload: SIGHUP, `switchboard -s reload` and the admin API re-read the
// configuration and swap module code and settings while clients stay
// connected. A failed reload changes nothing and says why. Switchboard only.

const { test, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;
const TOKEN = 'reload-test-token-0123456789';

let dir;
let counterFile;

/** Installs a module file as the server's counter.so, the way a package upgrade does: write aside, rename over. */
function installCounter(source) {
  const tmp = `${counterFile}.new`;
  if (source === null) fs.writeFileSync(tmp, 'this is not a shared object\n');
  else fs.copyFileSync(source, tmp);
  fs.renameSync(tmp, counterFile);
}
const V1 = () => path.join(TEST_MODULES, 'counter_v1.so');
const V2 = () => path.join(TEST_MODULES, 'counter_v2.so');

function configWith(override = {}) {
  const base = mergeConfig(DEFAULT_CONFIG, {
    modules: {
      test_rooms: { file: path.join(TEST_MODULES, 'test_rooms.so') },
      counter: { file: counterFile },
    },
    namespaces: { '/': { modules: ['echo', 'test_rooms', 'counter'] } },
    admin: { token: TOKEN },
    pid_file: path.join(dir, 'switchboard.pid'),
  });
  return mergeConfig(base, override);
}

/** Rewrites the running server's config file (listen stays as the server has it). */
function rewriteConfig(server, config) {
  fs.writeFileSync(server.configPath, toYaml({ ...config, listen: server.config.listen }));
}

function adminReload(server, token = TOKEN) {
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  return c.request(server, { method: 'POST', path: '/admin/reload', headers }).then((r) => ({
    status: r.status,
    json: JSON.parse(r.body),
  }));
}

async function reloadCount(server, result) {
  const res = await c.request(server, { path: '/metrics' });
  const m = new RegExp(`^switchboard_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(res.body);
  return Number(m[1]);
}

/** Resolves once the reload counter for `result` exceeds `before` (the signal is asynchronous). */
async function reloaded(server, result, before, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await reloadCount(server, result)) > before) return;
    if (Date.now() > deadline) throw new Error(`no ${result} reload within ${timeoutMs} ms\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 25)); // metrics poll: a signal has no reply to await
  }
}

/** The server's log arrives through a pipe, possibly after its HTTP answer. */
async function logShows(server, pattern, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.output())) {
    if (Date.now() > deadline) assert.match(server.output(), pattern);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function count(socket) {
  const [answer] = await c.ack(socket, 'count');
  return answer;
}

if (IS_SWITCHBOARD) {
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-reload-'));
    counterFile = path.join(dir, 'counter.so');
    installCounter(V1());
  });

  test('SIGHUP swaps module code v1 -> v2; the count kept by v1 carries over; no client notices', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    const ws = await c.connectClient(server, { transports: ['websocket'] });
    const poll = await c.connectClient(server, { transports: ['polling'] });
    for (let i = 1; i <= 3; i += 1) assert.deepEqual(await count(i % 2 ? ws : poll), { version: 1, count: i, label: '' });

    installCounter(V2());
    const before = await reloadCount(server, 'success');
    server.process.kill('SIGHUP');
    await reloaded(server, 'success', before);

    assert.deepEqual(await c.ack(ws, 'version'), [2]);
    assert.deepEqual(await count(poll), { version: 2, count: 4, label: '' });
    assert.deepEqual(await count(ws), { version: 2, count: 5, label: '' });
    await logShows(server, /reload complete \(SIGHUP\): modules replaced \(new code\): counter; unchanged: echo, test_rooms/);
    const metrics = (await c.request(server, { path: '/metrics' })).body;
    assert.match(metrics, /^switchboard_module_unload_failures_total 0$/m, 'the old version is really unloaded');
    assert.deepEqual([ws.disconnects, poll.disconnects], [[], []]);
    await c.assertEchoes(ws, assert);
  });

  test('switchboard -s reload finds the server through its pid file', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    assert.equal(fs.readFileSync(path.join(dir, 'switchboard.pid'), 'utf8').trim(), String(server.process.pid));
    installCounter(V2());
    const before = await reloadCount(server, 'success');
    const out = await new Promise((resolve) => {
      const child = spawn(process.env.SWITCHBOARD_BIN, ['-s', 'reload', '-c', server.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('exit', (code) => resolve({ code, text }));
    });
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, new RegExp(`sent SIGHUP \\(reload\\) to pid ${server.process.pid}`));
    await reloaded(server, 'success', before);
    assert.deepEqual(await c.ack(socket, 'version'), [2]);
    assert.deepEqual(socket.disconnects, []);
    const info = await server.stop();
    assert.equal(info.code, 0);
    assert.equal(fs.existsSync(path.join(dir, 'switchboard.pid')), false, 'the pid file is removed at exit');
  });

  test('the admin API needs the bearer token and answers with what changed', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    assert.equal((await adminReload(server, null)).status, 401);
    assert.equal((await adminReload(server, 'wrong-token-wrong-token')).status, 401);
    assert.equal((await c.request(server, { path: '/admin/reload' })).status, 405, 'GET is not a reload');
    const ok = await adminReload(server);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { ok: true, summary: 'modules unchanged: echo, test_rooms, counter' });
  });

  test('changed module configuration is re-applied with the state handed over', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    assert.deepEqual(await count(socket), { version: 1, count: 1, label: '' });
    rewriteConfig(server, configWith({ modules: { counter: { file: counterFile, config: { label: 'blue' } } } }));
    const r = await adminReload(server);
    assert.deepEqual(r, { status: 200, json: { ok: true, summary: 'modules reconfigured: counter; unchanged: echo, test_rooms' } });
    assert.deepEqual(await count(socket), { version: 1, count: 2, label: 'blue' });
  });

  const REFUSED = [
    ['a module built for another ABI major', () => installCounter(path.join(TEST_MODULES, 'bad_abi.so')), /built for ABI 99\.0, this host speaks ABI 1\.\d/],
    ['a module without the entry symbol', () => installCounter(path.join(TEST_MODULES, 'no_entry.so')), /not a Switchboard module \(missing symbol switchboard_module_entry\)/],
    ['a file that is not a shared object', () => installCounter(null), /module 'counter' \(.*counter\.so\): cannot be loaded/],
    ['a module file that disappeared', () => fs.unlinkSync(counterFile), /module 'counter' \(.*counter\.so\): file not found or unreadable/],
    ['a configuration the module refuses', (server) => rewriteConfig(server, configWith({ modules: { counter: { file: counterFile, config: { start: 'ten' } } } })), /:\d+: modules\.counter\.config\.start: expected an integer/],
    ['an unknown configuration key', (server) => rewriteConfig(server, configWith({ modules: { counter: { file: counterFile, config: { colour: 'red' } } } })), /modules\.counter\.config\.colour: unknown key for module 'counter' \(known keys: start, label\)/],
    ['an invalid configuration file', (server) => fs.writeFileSync(server.configPath, 'namespaces: [\n'), /YAML syntax error/],
    ['a configuration naming an undeclared module', (server) => rewriteConfig(server, configWith({ namespaces: { '/': { modules: ['echo', 'ghost'] } } })), /module 'ghost' is not declared under modules:/],
  ];
  for (const [name, breakIt, message] of REFUSED) {
    test(`a refused reload (${name}) keeps the old code and config running and says why`, { timeout: 20000 }, async () => {
      const server = await startServer({ config: configWith() });
      const socket = await c.connectClient(server, { transports: ['websocket'] });
      assert.deepEqual(await count(socket), { version: 1, count: 1, label: '' });
      const failuresBefore = await reloadCount(server, 'failure');
      breakIt(server);
      const r = await adminReload(server);
      assert.equal(r.status, 422);
      assert.equal(r.json.ok, false);
      assert.match(r.json.error, message);
      await logShows(server, /reload failed, the previous configuration and modules keep running: /);
      assert.equal(await reloadCount(server, 'failure'), failuresBefore + 1);
      assert.deepEqual(await count(socket), { version: 1, count: 2, label: '' });
      await c.assertEchoes(socket, assert);
      assert.deepEqual(socket.disconnects, []);
    });
  }

  test('removing a module from a namespace: its events get NOT_FOUND; adding it back restores them', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    const socket = await c.connectClient(server, { transports: ['websocket'] });
    assert.deepEqual(await count(socket), { version: 1, count: 1, label: '' });

    const without = configWith({ namespaces: { '/': { modules: ['echo', 'test_rooms'] } } });
    delete without.modules.counter;
    rewriteConfig(server, without);
    assert.deepEqual((await adminReload(server)).json, { ok: true, summary: 'modules removed: counter; unchanged: echo, test_rooms' });
    const [missing] = await c.ack(socket, 'count');
    assert.deepEqual(missing, { ok: false, error: { code: 'NOT_FOUND', message: "No handler for event 'count'" } });

    rewriteConfig(server, configWith());
    assert.deepEqual((await adminReload(server)).json, { ok: true, summary: 'modules added: counter; unchanged: echo, test_rooms' });
    assert.deepEqual(await count(socket), { version: 1, count: 1, label: '' }, 'a re-added module starts afresh');
    assert.deepEqual(socket.disconnects, []);
  });

  test('a namespace removed by a reload disconnects its sockets but keeps their sessions', { timeout: 20000 }, async () => {
    const server = await startServer({ config: configWith() });
    const manager = c.createManager(server, { transports: ['websocket'] });
    const root = c.managerSocket(manager, '/');
    const custom = c.managerSocket(manager, '/custom');
    await Promise.all([c.connected(root), c.connected(custom)]);
    const gone = c.waitFor(custom, 'disconnect');
    rewriteConfig(server, configWith({ namespaces: { '/custom': null } }));
    assert.equal((await adminReload(server)).status, 200);
    assert.equal((await gone)[0], 'io server disconnect');
    await c.assertEchoes(root, assert);
    assert.deepEqual(root.disconnects, []);
    const again = c.createClient(server, { namespace: '/custom', transports: ['websocket'] });
    await assert.rejects(c.connected(again), /Invalid namespace/);
  });

  test('200 clients exchanging events while the server reloads 20 times: no disconnect, nothing lost or doubled', { timeout: 90000 }, async () => {
    // Heartbeats relaxed from the suite's 300ms/200ms: one test process drives
    // 200 clients, and its own event loop must not miss pongs.
    const server = await startServer({
      config: configWith({ limits: { max_connections: 1000 }, engineio: { ping_interval: '5s', ping_timeout: '5s' } }),
    });
    const clients = [];
    for (let i = 0; i < 200; i += 1) {
      clients.push(c.createClient(server, { transports: i % 4 === 0 ? ['polling'] : ['websocket'] }));
    }
    await Promise.all(clients.map((s) => c.connected(s, 15000)));
    const PER_CLIENT = 30;
    const received = clients.map(() => []);
    clients.forEach((s, i) => s.on('message-back', (n) => received[i].push(n)));

    let stop = false;
    const reloads = (async () => {
      const results = [];
      for (let i = 0; i < 20; i += 1) {
        installCounter(i % 2 ? V1() : V2());
        results.push(await adminReload(server));
      }
      stop = true;
      return results;
    })();
    const senders = clients.map(async (s) => {
      for (let n = 0; n < PER_CLIENT; n += 1) {
        s.emit('message', n);
        if (n % 5 === 4) await c.ack(s, 'count', [], 15000); // also exercise the module being swapped
      }
    });
    await Promise.all(senders);
    const results = await reloads;
    assert.ok(stop);
    for (const r of results) assert.deepEqual([r.status, r.json.ok], [200, true], JSON.stringify(r.json));
    const expected = Array.from({ length: PER_CLIENT }, (_, n) => n);
    const deadline = Date.now() + 15000;
    while (received.some((r) => r.length < PER_CLIENT) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50)); // let the last echoes arrive
    }
    received.forEach((r, i) => assert.deepEqual(r, expected, `client ${i}`));
    clients.forEach((s, i) => assert.deepEqual(s.disconnects, [], `client ${i} was disconnected`));
    // 200 clients x 6 counts, carried across every swap
    assert.deepEqual(await count(clients[0]), { version: 1, count: 200 * (PER_CLIENT / 5) + 1, label: '' });
  });
}
