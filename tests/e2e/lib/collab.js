'use strict';
// A server for the tests of the chat and notifications modules: auth_jwt
// (tokens from lib/auth.js), rooms admitting `chat:*` to every authenticated
// user, chat and notifications, storage in a database file the test chooses
// or in a Redis database of a redis-server shared by the test file (so a
// restart after kill -9 finds the same data), and the HTTP API with one key.
// Plus the HTTP call helper for the API.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after } = require('node:test');
const { startServer, freePort } = require('./server');
const { startRedis } = require('./redis');
const { authJwtConfig } = require('./auth');
const c = require('./client');

const API_KEY = 'collab-backend-key-0123456789';

const dirs = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh database path in a directory removed when the file's tests end. */
function databasePath() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-collab-'));
  dirs.push(dir);
  return path.join(dir, 'switchboard.db');
}

/** The storage backends the chat and notifications tests run on. */
const STORAGE_BACKENDS = ['sqlite', 'redis'];

// One redis-server per test file; each server started gets a database of
// its own (SELECT n), so tests do not see each other's data.
let redis = null;
let nextRedisDb = 0;

async function storageSection(backend, dbPath, redisDb, storage) {
  if (backend === 'sqlite') return { path: dbPath, ...storage };
  if (!redis) redis = await startRedis(['--databases', '1024']);
  return { backend: 'redis', redis: { address: redis.address, db: redisDb }, ...storage };
}

/**
 * Starts the server; options: backend ('sqlite' or 'redis', default
 * 'sqlite'), dbPath (sqlite; default: a fresh one), redisDb (redis;
 * default: a fresh one), storage (more storage settings), apiPort (default:
 * a free one), chat / notifications (module settings), config (more
 * overrides). The handle remembers them, so restart(server) starts the same
 * configuration on the same data again.
 */
async function startCollabServer({
  backend = 'sqlite', dbPath = databasePath(), redisDb = nextRedisDb++, storage = {}, apiPort,
  chat = {}, notifications = {}, config = {},
} = {}) {
  const port = apiPort || (await freePort());
  const server = await startServer({
    readyTimeoutMs: 20000,
    config: {
      engineio: { ping_interval: '5s', ping_timeout: '20s' },
      storage: await storageSection(backend, dbPath, redisDb, storage),
      api: { listen: [{ address: '127.0.0.1', port }], keys: [{ name: 'backend', key: API_KEY }] },
      modules: {
        auth_jwt: { config: authJwtConfig() },
        rooms: { config: { rules: [{ pattern: 'chat:*' }] } },
        chat: { config: chat },
        notifications: { config: notifications },
      },
      namespaces: { '/': { modules: ['auth_jwt', 'rooms', 'chat', 'notifications'] }, '/custom': null },
      ...config,
    },
  });
  server.dbPath = dbPath;
  server.apiPort = port;
  server.options = { backend, dbPath, redisDb, storage, apiPort: port, chat, notifications, config };
  return server;
}

/** The same server again (same data, same API port), e.g. after kill9(). */
function restart(server) {
  return startCollabServer(server.options);
}

/** One API call; resolves with {status, json}. `key: null` sends no Authorization. */
async function api(server, method, urlPath, { key = API_KEY, body } = {}) {
  const headers = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await c.request({ port: server.apiPort }, { method, path: urlPath, headers, body: payload, timeout: 20000 });
  return { status: res.status, json: res.body ? JSON.parse(res.body) : null };
}

module.exports = { API_KEY, STORAGE_BACKENDS, databasePath, startCollabServer, restart, api };
