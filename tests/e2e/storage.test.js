'use strict';
// Storage for modules (host API stream_* and kv_*), driven through the
// test_storage module by real clients: round trips, scoping between two
// modules, many concurrent writers, an acknowledged write surviving kill -9,
// clear startup errors for a damaged database or an unusable location, and
// a reload while requests are pending. The behaviour every backend shares
// runs once per backend (SQLite, and Redis on a real redis-server); damaged
// files and unusable locations are SQLite's alone. Switchboard only.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const { checkConfig } = require('./lib/check_config');
const c = require('./lib/client');
const { startRedis } = require('./lib/redis');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES || '';
const STORAGE_MODULE = path.join(TEST_MODULES, 'test_storage.so');
const ADMIN_TOKEN = 'storage-reload-token-0123456789';
const SB_ERR_INVALID = -2;
const SB_ERR_NOT_FOUND = -1;

const dirs = [];
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-storage-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const BACKENDS = ['sqlite', 'redis'];
let redis = null;

/**
 * The `storage:` section of a test on `backend`, with nothing stored yet: a
 * new database file named `file`, or the shared redis-server emptied.
 */
async function freshStorage(backend, file) {
  if (backend === 'sqlite') return { path: path.join(tempDir(), file) };
  if (!redis) redis = await startRedis();
  assert.equal(await redis.command('FLUSHALL'), 'OK');
  return { backend: 'redis', redis: { address: redis.address } };
}

/** Two instances of test_storage: store_a on '/', store_b on '/b'; `storage` is the storage section. */
function storageConfig(storage, tag = 'one') {
  return {
    storage,
    admin: { token: ADMIN_TOKEN },
    modules: {
      test_rooms: null,
      store_a: { file: STORAGE_MODULE, config: { tag } },
      store_b: { file: STORAGE_MODULE },
    },
    namespaces: { '/': { modules: ['echo', 'store_a'] }, '/custom': null, '/b': { modules: ['store_b'] } },
  };
}

function call(socket, event, args, timeout) {
  return c.ack(socket, event, [args], timeout).then((res) => res[0]);
}

/** Every entry of `stream`, oldest first, read in pages of 100. */
async function readAll(socket, stream) {
  const out = [];
  for (;;) {
    const page = await call(socket, 'read', { stream, after: out.length ? out[out.length - 1].id : 0, limit: 100 });
    assert.equal(page.ok, true, JSON.stringify(page));
    out.push(...page.entries);
    if (page.entries.length < 100) return out;
  }
}

async function metric(server, name) {
  const res = await c.request(server, { path: '/metrics' });
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : null;
}

async function startupFailure(config) {
  await assert.rejects(startServer({ config, readyTimeoutMs: 15000 }), (err) => {
    assert.match(err.message, /exited during startup/);
    return true;
  });
}

if (IS_SWITCHBOARD) {
  for (const backend of BACKENDS) {
    test(`[${backend}] streams: ids increase, ranges both ways, idempotent appends, trim keeps ids unique`, { timeout: 30000 }, async () => {
      const server = await startServer({ config: storageConfig(await freshStorage(backend, 'rt.db')) });
      const socket = await c.connectClient(server);

      const first = await call(socket, 'append', { stream: 'room:1', data: 'hello', key: 'client-1' });
      assert.equal(first.ok, true);
      assert.equal(first.id, 1);
      assert.equal(first.duplicate, false);
      assert.ok(Math.abs(first.ts - Date.now()) < 60000, `ts ${first.ts}`);
      for (let i = 2; i <= 5; i += 1) assert.equal((await call(socket, 'append', { stream: 'room:1', data: `m${i}` })).id, i);

      const again = await call(socket, 'append', { stream: 'room:1', data: 'other text', key: 'client-1' });
      assert.deepEqual(again, { ...first, duplicate: true });

      const oldest = await call(socket, 'read', { stream: 'room:1', limit: 2 });
      assert.deepEqual(oldest.entries.map((e) => [e.id, e.data]), [[1, 'hello'], [2, 'm2']]);
      const newest = await call(socket, 'read', { stream: 'room:1', limit: 2, newest: true });
      assert.deepEqual(newest.entries.map((e) => e.id), [5, 4]);
      const range = await call(socket, 'read', { stream: 'room:1', after: 1, before: 4 });
      assert.deepEqual(range.entries.map((e) => e.id), [2, 3]);
      assert.deepEqual((await call(socket, 'read', { stream: 'never' })).entries, []);

      assert.equal((await call(socket, 'trim', { stream: 'room:1', max_count: 2 })).ok, true);
      assert.deepEqual((await readAll(socket, 'room:1')).map((e) => e.id), [4, 5]);
      // The trimmed entry's key is forgotten; ids go on from 5.
      const after = await call(socket, 'append', { stream: 'room:1', data: 'hello', key: 'client-1' });
      assert.equal(after.duplicate, false);
      assert.equal(after.id, 6);

      const bad = await call(socket, 'append', { stream: '', data: 'x' });
      assert.deepEqual(bad, { ok: false, status: SB_ERR_INVALID });
    });

    test(`[${backend}] key-value: set, get, scan by prefix with paging, delete, ttl`, { timeout: 30000 }, async () => {
      const server = await startServer({ config: storageConfig(await freshStorage(backend, 'kv.db')) });
      const socket = await c.connectClient(server);
      for (const key of ['user:3', 'user:1', 'user:2', 'users', 'other'])
        assert.equal((await call(socket, 'kv_set', { key, value: `v-${key}` })).ok, true);
      assert.deepEqual(await call(socket, 'kv_get', { key: 'user:2' }), { ok: true, status: 0, value: 'v-user:2' });
      assert.deepEqual(await call(socket, 'kv_get', { key: 'absent' }), { ok: false, status: SB_ERR_NOT_FOUND });

      const page1 = await call(socket, 'kv_scan', { prefix: 'user:', limit: 2 });
      assert.deepEqual(page1.entries, [{ key: 'user:1', value: 'v-user:1' }, { key: 'user:2', value: 'v-user:2' }]);
      const page2 = await call(socket, 'kv_scan', { prefix: 'user:', after: 'user:2', limit: 2 });
      assert.deepEqual(page2.entries.map((e) => e.key), ['user:3']);

      assert.equal((await call(socket, 'kv_delete', { key: 'user:1' })).ok, true);
      assert.equal((await call(socket, 'kv_get', { key: 'user:1' })).status, SB_ERR_NOT_FOUND);
      assert.equal((await call(socket, 'kv_delete', { key: 'user:1' })).ok, true);

      const setAt = Date.now();
      assert.equal((await call(socket, 'kv_set', { key: 'session', value: 's', ttl_ms: 800 })).ok, true);
      const early = await call(socket, 'kv_get', { key: 'session' });
      if (Date.now() - setAt < 700) assert.equal(early.value, 's');
      // Expired: invisible to get and scan. Polled, with a generous bound.
      let gone = false;
      while (!gone && Date.now() - setAt < 10000) {
        gone = (await call(socket, 'kv_get', { key: 'session' })).status === SB_ERR_NOT_FOUND;
        if (!gone) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(gone, 'the key did not expire within 10 s');
      assert.ok(Date.now() - setAt >= 800);
      assert.deepEqual((await call(socket, 'kv_scan', { prefix: 'session' })).entries, []);
    });

    test(`[${backend}] two modules using the same names do not see each other's data`, { timeout: 30000 }, async () => {
      const server = await startServer({ config: storageConfig(await freshStorage(backend, 'scope.db')) });
      const a = await c.connectClient(server);
      const b = await c.connectClient(server, { namespace: '/b' });
      assert.equal((await call(a, 'append', { stream: 'shared', data: 'from a', key: 'k' })).id, 1);
      const fromB = await call(b, 'append', { stream: 'shared', data: 'from b', key: 'k' });
      assert.equal(fromB.id, 1);
      assert.equal(fromB.duplicate, false);
      assert.deepEqual((await readAll(a, 'shared')).map((e) => e.data), ['from a']);
      assert.deepEqual((await readAll(b, 'shared')).map((e) => e.data), ['from b']);
      await call(a, 'kv_set', { key: 'secret', value: 'a only' });
      assert.equal((await call(b, 'kv_get', { key: 'secret' })).status, SB_ERR_NOT_FOUND);
      assert.deepEqual((await call(b, 'kv_scan', {})).entries, []);
    });

    test(`[${backend}] many concurrent writers: every acked append stored exactly once, in one order`, { timeout: 90000 }, async () => {
      const server = await startServer({ config: storageConfig(await freshStorage(backend, 'many.db')) });
      const clients = await Promise.all(Array.from({ length: 20 }, () => c.connectClient(server, { transports: ['websocket'] })));
      const perClient = 25;
      const acks = await Promise.all(
        clients.flatMap((socket, ci) =>
          Array.from({ length: perClient }, (_, i) =>
            call(socket, 'append', { stream: 'busy', data: `c${ci}-${i}`, key: `c${ci}-${i}` }, 60000)),
        ),
      );
      for (const a of acks) assert.equal(a.ok, true, JSON.stringify(a));
      const ids = acks.map((a) => a.id);
      assert.equal(new Set(ids).size, ids.length, 'an id was given twice');

      const stored = await readAll(clients[0], 'busy');
      assert.equal(stored.length, clients.length * perClient);
      assert.equal(new Set(stored.map((e) => e.data)).size, stored.length, 'an append was stored twice');
      for (let i = 1; i < stored.length; i += 1) assert.ok(stored[i].id > stored[i - 1].id);
      const byId = new Map(stored.map((e) => [e.id, e.data]));
      for (const a of acks) assert.equal(byId.get(a.id), a.data);
      // Every reader sees the same order.
      assert.deepEqual(await readAll(clients[19], 'busy'), stored);

      assert.ok((await metric(server, 'switchboard_storage_requests_total')) >= acks.length);
      assert.ok((await metric(server, 'switchboard_storage_batches_total')) >= 1);
      assert.equal(await metric(server, 'switchboard_storage_errors_total'), 0);
    });

    test(`[${backend}] acknowledged writes survive kill -9 and a restart on the same database`, { timeout: 60000 }, async () => {
      const config = storageConfig(await freshStorage(backend, 'durable.db'));
      const server = await startServer({ config });
      const socket = await c.connectClient(server, { transports: ['websocket'] });
      const acks = await Promise.all(
        Array.from({ length: 50 }, (_, i) => call(socket, 'append', { stream: 'chat', data: `msg-${i}`, key: `id-${i}` })),
      );
      for (const a of acks) assert.equal(a.ok, true);
      assert.equal((await call(socket, 'kv_set', { key: 'unread:alice', value: '7' })).ok, true);
      const info = await server.kill9();
      assert.equal(info.signal, 'SIGKILL');

      const restarted = await startServer({ config });
      const again = await c.connectClient(restarted);
      const stored = await readAll(again, 'chat');
      assert.deepEqual(
        stored.map((e) => [e.id, e.data]),
        acks.map((a) => [a.id, a.data]).sort((x, y) => x[0] - y[0]),
      );
      assert.equal((await call(again, 'kv_get', { key: 'unread:alice' })).value, '7');
      // Idempotency keys survive too, and ids go on after the last one.
      assert.equal((await call(again, 'append', { stream: 'chat', data: 'retry', key: 'id-3' })).duplicate, true);
      assert.equal((await call(again, 'append', { stream: 'chat', data: 'new' })).id, 51);
    });

    test(`[${backend}] a reload that replaces the module while its requests are pending completes them and does not crash`, { timeout: 60000 }, async () => {
      const storage = await freshStorage(backend, 'reload.db');
      const server = await startServer({ config: storageConfig(storage, 'one') });
      const socket = await c.connectClient(server, { transports: ['websocket'] });
      const n = 300;
      const pending = Array.from({ length: n }, (_, i) =>
        call(socket, 'append', { stream: 'r', data: `p${i}`, key: `p${i}` }, 8000).then((a) => a, () => null),
      );
      const next = mergeConfig(DEFAULT_CONFIG, storageConfig(storage, 'two'));
      fs.writeFileSync(server.configPath, toYaml({ ...next, listen: server.config.listen }));
      const res = await c.request(server, { method: 'POST', path: '/admin/reload', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(res.status, 200, res.body);
      assert.match(JSON.parse(res.body).summary, /store_a/);

      const answered = (await Promise.all(pending)).filter((a) => a !== null);
      for (const a of answered) assert.equal(a.ok, true);
      assert.ok(server.isRunning());
      // Every append the server received was stored, acked or not (the old
      // instance's callbacks are dropped, its requests still complete).
      let stored = [];
      const deadline = Date.now() + 15000;
      while (Date.now() < deadline) {
        stored = await readAll(socket, 'r');
        if (stored.length === n) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(stored.length, n);
      assert.equal(new Set(stored.map((e) => e.data)).size, n);
      const byId = new Map(stored.map((e) => [e.id, e.data]));
      for (const a of answered) assert.equal(byId.get(a.id), a.data);
      assert.equal(await metric(server, 'switchboard_storage_queued'), 0);
      await c.assertEchoes(socket, assert);
    });
  }

  test('a damaged database file stops startup with a message naming it; -t reports it too', { timeout: 30000 }, async () => {
    const dbPath = path.join(tempDir(), 'garbage.db');
    const garbage = Buffer.alloc(16384, 'not sqlite at all ');
    fs.writeFileSync(dbPath, garbage);
    let message = '';
    await assert.rejects(startServer({ config: storageConfig({ path: dbPath }) }), (err) => {
      message = err.message;
      return /exited during startup/.test(err.message);
    });
    assert.match(message, /cannot start: storage: .*garbage\.db: .*not a database/);
    assert.deepEqual(fs.readFileSync(dbPath), garbage, 'the damaged file was modified');

    const check = await checkConfig({ storage: { path: dbPath } });
    assert.equal(check.code, 1);
    assert.match(check.stderr, /storage error: .*garbage\.db: .*not a database/);
  });

  test('a database location that cannot be written stops startup with the reason', { timeout: 30000 }, async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'plain-file'), 'x');
    const dbPath = path.join(dir, 'plain-file', 'db.sqlite');
    let message = '';
    await assert.rejects(startServer({ config: storageConfig({ path: dbPath }) }), (err) => {
      message = err.message;
      return /exited during startup/.test(err.message);
    });
    assert.match(message, /cannot start: storage: .*plain-file\/db\.sqlite: .*(not a directory|Not a directory)/);
    if (process.getuid && process.getuid() !== 0) {
      // Permissions bind only unprivileged users.
      const locked = path.join(dir, 'locked');
      fs.mkdirSync(locked, { mode: 0o500 });
      const check = await checkConfig({ storage: { path: path.join(locked, 'db.sqlite') } });
      assert.equal(check.code, 1);
      assert.match(check.stderr, /locked is not writable: Permission denied/);
    }
  });
}
