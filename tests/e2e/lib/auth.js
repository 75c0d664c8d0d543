'use strict';
// Authenticated clients for the tests of modules that work on identities
// (rooms, typing): a per-run HS256 secret, the auth_jwt settings that accept
// tokens minted with it, clients connected with such tokens, and a reload
// of a running server with a changed configuration.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { mergeConfig, toYaml } = require('./config');
const c = require('./client');

const SECRET = crypto.randomBytes(32).toString('hex');
const ADMIN_TOKEN = 'modules-admin-token-0123456789abcdef';

/** auth_jwt settings accepting the tokens of token(); `extra` overrides them. */
function authJwtConfig(extra = {}) {
  return {
    keys: [{ algorithm: 'HS256', secret: SECRET }],
    expose_claims: ['sub', 'role', 'organizationId', 'teams'],
    ...extra,
  };
}

/** A token for `claims` (sub is required), valid for ten minutes. */
function token(claims) {
  return jwt.sign({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, SECRET, { algorithm: 'HS256', noTimestamp: true });
}

/** A connected client authenticated with a token for `claims`. */
function connectAs(server, claims, options = {}) {
  return c.connectClient(server, { transports: ['websocket'], auth: { token: token(claims) }, ...options });
}

/** Emits `event` with `payload` and an ack; resolves with the first ack argument. */
async function answer(socket, event, payload) {
  const args = payload === undefined ? [] : [payload];
  return (await c.ack(socket, event, args))[0];
}

/**
 * Rewrites the running server's configuration with `override` merged in
 * (and the admin token set) and reloads it through the admin API; resolves
 * with {status, json}.
 */
async function reload(server, override) {
  const next = mergeConfig(server.config, mergeConfig(override, { admin: { token: ADMIN_TOKEN } }));
  const dir = process.env.SWITCHBOARD_TEST_MODULES;
  for (const name of Object.keys(next.modules)) {
    const file = dir && path.join(dir, `${name}.so`);
    if (file && fs.existsSync(file)) next.modules[name].file = file;
  }
  fs.writeFileSync(server.configPath, toYaml(next));
  const res = await c.request(server, {
    method: 'POST',
    path: '/admin/reload',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    timeout: 10000,
  });
  return { status: res.status, json: JSON.parse(res.body) };
}

module.exports = { ADMIN_TOKEN, authJwtConfig, token, connectAs, answer, reload };
