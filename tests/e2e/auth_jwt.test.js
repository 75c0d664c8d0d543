'use strict';
// The auth_jwt module: JWT authentication on connect (every algorithm, every
// check, every place a token may come from), the identity other modules see
// (the user's room), role rules on events, token expiry during a connection
// with refresh, and a reload that keeps all of it. Tokens are minted with
// jsonwebtoken; keys are generated per run. Switchboard only.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const jwt = require('jsonwebtoken');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');
const { checkConfig } = require('./lib/check_config');
const c = require('./lib/client');

const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;
const ADMIN_TOKEN = 'auth-jwt-reload-token-0123456789';
const ISSUER = 'https://issuer.example';
const CHAIN = ['auth_jwt', 'echo', 'test_rooms'];

// ---- key material ------------------------------------------------------------

let dir;
const secrets = {};
const pairs = {}; // name -> {privateKey, publicKey (PEM), file}
const wrong = {}; // same kind of key, not the configured one

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function pemPair(type, options) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey, publicKey };
}

function writeKey(name, text) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function makeKeys() {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-auth-jwt-'));
  for (const [name, bytes] of [['hs256', 32], ['hs256next', 32], ['hs384', 48], ['hs512', 64]]) {
    secrets[name] = crypto.randomBytes(bytes).toString('hex'); // hex: twice `bytes` characters
  }
  secrets.wrong = crypto.randomBytes(64).toString('hex');
  pairs.rsa = pemPair('rsa', { modulusLength: 2048 });
  wrong.rsa = pemPair('rsa', { modulusLength: 2048 });
  for (const [name, curve] of [['p256', 'P-256'], ['p384', 'P-384'], ['p521', 'P-521']]) {
    pairs[name] = pemPair('ec', { namedCurve: curve });
    wrong[name] = pemPair('ec', { namedCurve: curve });
  }
  for (const name of Object.keys(pairs)) pairs[name].file = writeKey(`${name}.pem`, pairs[name].publicKey);
  // A secret file as editors write it: with a final newline.
  secrets.hs384File = writeKey('hs384.secret', `${secrets.hs384}\n`);
}

// Every algorithm: its kid in the main server, the key that signs for it
// and one that does not match the configured key.
const ALGORITHMS = [
  { alg: 'HS256', kid: 'hs256', sign: () => secrets.hs256, wrong: () => secrets.wrong },
  { alg: 'HS384', kid: 'hs384', sign: () => secrets.hs384, wrong: () => secrets.wrong },
  { alg: 'HS512', kid: 'hs512', sign: () => secrets.hs512, wrong: () => secrets.wrong },
  { alg: 'RS256', kid: 'rs256', sign: () => pairs.rsa.privateKey, wrong: () => wrong.rsa.privateKey },
  { alg: 'RS384', kid: 'rs384', sign: () => pairs.rsa.privateKey, wrong: () => wrong.rsa.privateKey },
  { alg: 'RS512', kid: 'rs512', sign: () => pairs.rsa.privateKey, wrong: () => wrong.rsa.privateKey },
  { alg: 'ES256', kid: 'es256', sign: () => pairs.p256.privateKey, wrong: () => wrong.p256.privateKey },
  { alg: 'ES384', kid: 'es384', sign: () => pairs.p384.privateKey, wrong: () => wrong.p384.privateKey },
  { alg: 'ES512', kid: 'es512', sign: () => pairs.p521.privateKey, wrong: () => wrong.p521.privateKey },
];

function mainKeys() {
  return [
    { kid: 'hs256', algorithm: 'HS256', secret: secrets.hs256 },
    { kid: 'hs256next', algorithm: 'HS256', secret: secrets.hs256next },
    { kid: 'hs384', algorithm: 'HS384', secret_file: secrets.hs384File },
    { kid: 'hs512', algorithm: 'HS512', secret: secrets.hs512 },
    { kid: 'rs256', algorithm: 'RS256', public_key_file: pairs.rsa.file },
    { kid: 'rs384', algorithm: 'RS384', public_key: pairs.rsa.publicKey },
    { kid: 'rs512', algorithm: 'RS512', public_key_file: pairs.rsa.file },
    { kid: 'es256', algorithm: 'ES256', public_key_file: pairs.p256.file },
    { kid: 'es384', algorithm: 'ES384', public_key_file: pairs.p384.file },
    { kid: 'es512', algorithm: 'ES512', public_key_file: pairs.p521.file },
  ];
}

// ---- tokens ------------------------------------------------------------------------

const now = () => Math.floor(Date.now() / 1000);

/** Claims the main server accepts; `overrides` replace them (undefined removes one). */
function claims(overrides = {}) {
  const out = {
    sub: 'alice',
    iss: ISSUER,
    aud: 'switchboard',
    exp: now() + 600,
    role: 'member',
    organizationId: 'org-1',
    ...overrides,
  };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

function sign(payload, { alg = 'HS256', key = secrets.hs256, kid = 'hs256' } = {}) {
  const options = { algorithm: alg, noTimestamp: true };
  if (kid) options.keyid = kid;
  return jwt.sign(payload, key, options);
}

/** A token assembled by hand: any header, any signature. */
function craft(header, payload, signer = () => '') {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${signer(input)}`;
}

function hmac(key, digest = 'sha256') {
  return (input) => b64url(crypto.createHmac(digest, key).update(input).digest());
}

// ---- helpers ----------------------------------------------------------------------

function authConfig(config, extra = {}) {
  return mergeConfig(
    {
      modules: { auth_jwt: { config } },
      namespaces: { '/': { modules: CHAIN }, '/custom': null },
    },
    extra,
  );
}

/** Connects with `options`; resolves with the socket or throws the connect_error. */
async function connect(server, options) {
  return c.connectClient(server, { transports: ['websocket'], ...options });
}

/**
 * Asserts the connection is refused with exactly `message`, and, with
 * `reason`, that the refusal was counted under that reason and no other.
 */
async function refused(server, options, message, reason) {
  const before = reason ? await failureCounts(server) : null;
  const socket = c.createClient(server, { transports: ['websocket'], ...options });
  const err = await c.connected(socket).then(
    () => assert.fail(`connected, expected CONNECT_ERROR "${message}"`),
    (e) => e,
  );
  assert.equal(err.message, message);
  assert.equal(err.data, undefined, 'nothing beyond the category reaches the client');
  socket.close();
  if (reason) {
    const after = await failureCounts(server);
    const counted = Object.keys(after)
      .filter((r) => after[r] !== (before[r] || 0))
      .map((r) => [r, after[r] - (before[r] || 0)]);
    assert.deepEqual(counted, [[reason, 1]], `refused for the expected reason (${JSON.stringify(options).slice(0, 200)})`);
  }
}

async function failureCounts(server) {
  const res = await c.request(server, { path: '/metrics' });
  const counts = {};
  const re = /^switchboard_auth_failures_total\{module="auth_jwt",reason="([a-z_]+)"\} (\d+)$/gm;
  for (let m = re.exec(res.body); m; m = re.exec(res.body)) counts[m[1]] = Number(m[2]);
  return counts;
}

async function metric(server, line) {
  const res = await c.request(server, { path: '/metrics' });
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : 0;
}

/** Resolves with the disconnect reason; rejects after `timeout` ms. */
function disconnected(socket, timeout) {
  if (!socket.connected) return Promise.resolve(socket.disconnects[0]);
  return c.waitFor(socket, 'disconnect', { timeout, label: `disconnect of ${socket.id}` }).then(([reason]) => reason);
}

function adminReload(server) {
  return c
    .request(server, { method: 'POST', path: '/admin/reload', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    .then((r) => ({ status: r.status, json: JSON.parse(r.body) }));
}

if (IS_SWITCHBOARD) {
  let main; // every algorithm, iss/aud/required claims, tokens from all three places
  let strict; // leeway, HS256 only, tokens from the auth payload only, debug log

  before(async () => {
    makeKeys();
    main = await startServer({
      config: authConfig({
        keys: mainKeys(),
        token_sources: ['auth', 'header', 'query'],
        issuer: ISSUER,
        audience: ['switchboard', 'other-service'],
        required_claims: ['exp', 'organizationId'],
        expose_claims: ['role', 'organizationId'],
      }),
    });
    strict = await startServer({
      config: authConfig(
        {
          keys: [{ algorithm: 'HS256', secret: secrets.hs256 }],
          algorithms: ['HS256'],
          token_sources: ['auth'],
          leeway: 10,
        },
        { log: { level: 'debug' } },
      ),
    });
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // ---- algorithms and keys --------------------------------------------------------

  test('every algorithm is accepted with its key and refused with another key', async () => {
    for (const a of ALGORITHMS) {
      const good = sign(claims({ sub: `user-${a.kid}` }), { alg: a.alg, key: a.sign(), kid: a.kid });
      const socket = await connect(main, { auth: { token: good } }).catch((e) => assert.fail(`${a.alg}: ${e.message}`));
      socket.close();
      const bad = sign(claims(), { alg: a.alg, key: a.wrong(), kid: a.kid });
      await refused(main, { auth: { token: bad } }, 'invalid token', 'signature');
    }
  });

  test('a connected socket works through the rest of the chain', async () => {
    const socket = await connect(main, { auth: { token: sign(claims()) } });
    await c.assertEchoes(socket, assert);
  });

  test('key rotation: tokens of either kid are accepted, a kid with the other key’s signature is not', async () => {
    const old = sign(claims(), { key: secrets.hs256, kid: 'hs256' });
    const next = sign(claims(), { key: secrets.hs256next, kid: 'hs256next' });
    (await connect(main, { auth: { token: old } })).close();
    (await connect(main, { auth: { token: next } })).close();
    // Without a kid, every key of the token's algorithm is tried.
    (await connect(main, { auth: { token: sign(claims(), { key: secrets.hs256next, kid: null }) } })).close();
    await refused(main, { auth: { token: sign(claims(), { key: secrets.hs256next, kid: 'hs256' }) } }, 'invalid token', 'signature');
    await refused(main, { auth: { token: sign(claims(), { kid: 'retired-2019' }) } }, 'invalid token', 'unknown_key');
  });

  test('alg none is refused, whatever its spelling and whether or not it names a kid', async () => {
    const payload = claims();
    await refused(main, { auth: { token: jwt.sign(payload, null, { algorithm: 'none' }) } }, 'invalid token', 'algorithm');
    for (const header of [{ alg: 'none' }, { alg: 'none', kid: 'hs256' }, { alg: 'None' }, { alg: 'NONE', typ: 'JWT' }]) {
      await refused(main, { auth: { token: craft(header, payload) } }, 'invalid token', 'algorithm');
    }
    // An HS256 header with the signature left off.
    await refused(main, { auth: { token: craft({ alg: 'HS256', kid: 'hs256' }, payload) } }, 'invalid token', 'malformed');
  });

  test('HS256 signed with the RS256 public key as the HMAC secret is refused', async () => {
    const payload = claims();
    const pem = pairs.rsa.publicKey;
    await refused(main, { auth: { token: craft({ alg: 'HS256', kid: 'rs256' }, payload, hmac(pem)) } }, 'invalid token', 'algorithm');
    await refused(main, { auth: { token: craft({ alg: 'HS256' }, payload, hmac(pem)) } }, 'invalid token', 'signature');
    await refused(main, { auth: { token: craft({ alg: 'HS256', kid: 'es256' }, payload, hmac(pairs.p256.publicKey)) } }, 'invalid token', 'algorithm');
    // The same header and payload with the real key pass: only the key was wrong.
    await connect(main, { auth: { token: craft({ alg: 'HS256', kid: 'hs256' }, payload, hmac(secrets.hs256)) } });
  });

  test('an algorithm missing from `algorithms` is refused even with the right secret', async () => {
    const token = craft({ alg: 'HS384' }, claims(), hmac(secrets.hs256, 'sha384'));
    await refused(strict, { auth: { token } }, 'invalid token', 'algorithm');
    (await connect(strict, { auth: { token: craft({ alg: 'HS256' }, claims(), hmac(secrets.hs256)) } })).close();
  });

  test('malformed tokens are refused as invalid', async () => {
    const good = sign(claims());
    const [h, p, s] = good.split('.');
    const cases = [
      'not-a-jwt',
      'a.b.c',
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}=`,
      `${h}..${s}`,
      `${h} .${p}.${s}`,
      `${b64url('[1,2]')}.${p}.${s}`,
      `${h}.${b64url('"just a string"')}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}`,
      'x'.repeat(20000),
    ];
    for (const token of cases) await refused(main, { auth: { token } }, 'invalid token', 'malformed');
    await refused(main, { auth: { token: 42 } }, 'invalid token', 'malformed');
    await refused(main, { auth: { token: { nested: good } } }, 'invalid token', 'malformed');
  });

  // ---- claims ---------------------------------------------------------------------------

  test('exp, nbf, iss, aud and required claims are checked', async () => {
    const t = now();
    await refused(main, { auth: { token: sign(claims({ exp: t - 1 })) } }, 'token expired', 'expired');
    await refused(main, { auth: { token: sign(claims({ nbf: t + 60 })) } }, 'invalid token', 'not_yet_valid');
    await refused(main, { auth: { token: sign(claims({ iss: 'https://evil.example' })) } }, 'invalid token', 'issuer');
    await refused(main, { auth: { token: sign(claims({ iss: undefined })) } }, 'invalid token', 'issuer');
    await refused(main, { auth: { token: sign(claims({ aud: 'somebody-else' })) } }, 'invalid token', 'audience');
    await refused(main, { auth: { token: sign(claims({ aud: ['a', 'b'] })) } }, 'invalid token', 'audience');
    await refused(main, { auth: { token: sign(claims({ aud: undefined })) } }, 'invalid token', 'audience');
    await refused(main, { auth: { token: sign(claims({ organizationId: undefined })) } }, 'invalid token', 'claims');
    await refused(main, { auth: { token: sign(claims({ exp: undefined })) } }, 'invalid token', 'claims');
    await refused(main, { auth: { token: sign(claims({ sub: undefined })) } }, 'invalid token', 'claims');
    await refused(main, { auth: { token: sign(claims({ sub: '' })) } }, 'invalid token', 'claims');
    await refused(main, { auth: { token: craft({ alg: 'HS256' }, claims({ exp: 'tomorrow' }), hmac(secrets.hs256)) } }, 'invalid token', 'claims');
    // aud as an array holding one accepted audience, nbf in the past.
    (await connect(main, { auth: { token: sign(claims({ aud: ['x', 'other-service'], nbf: t - 5 })) } })).close();
  });

  test('leeway (integer seconds) is honoured for exp and nbf, and no further', async () => {
    const t = now();
    const base = { sub: 'lee', exp: t + 600 };
    (await connect(strict, { auth: { token: sign({ ...base, exp: t - 5 }, { kid: null }) } })).close();
    (await connect(strict, { auth: { token: sign({ ...base, nbf: t + 5 }, { kid: null }) } })).close();
    await refused(strict, { auth: { token: sign({ ...base, exp: t - 30 }, { kid: null }) } }, 'token expired', 'expired');
    await refused(strict, { auth: { token: sign({ ...base, nbf: t + 60 }, { kid: null }) } }, 'invalid token', 'not_yet_valid');
  });

  // ---- where the token comes from ----------------------------------------------------------

  test('the token is accepted from the auth payload, the Authorization header (websocket and polling) and the query', async () => {
    const token = sign(claims({ sub: 'placed' }));
    const places = {
      'auth payload': { auth: { token } },
      'header over websocket': { transports: ['websocket'], extraHeaders: { Authorization: `Bearer ${token}` } },
      'header over polling': { transports: ['polling'], extraHeaders: { Authorization: `Bearer ${token}` } },
      'query over websocket': { transports: ['websocket'], query: { token } },
      'query over polling': { transports: ['polling'], query: { token } },
    };
    for (const [name, options] of Object.entries(places)) {
      const socket = await connect(main, options).catch((e) => assert.fail(`${name}: ${e.message}`));
      const [rooms] = await c.ack(socket, 'rooms');
      assert.ok(rooms.includes('user:placed'), `${name}: ${JSON.stringify(rooms)}`);
      socket.close();
    }
    await refused(main, {}, 'missing token', 'missing');
    await refused(main, { extraHeaders: { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } }, 'missing token', 'missing');
    await refused(main, { extraHeaders: { Authorization: 'Bearer not.a.token' } }, 'invalid token', 'malformed');
  });

  test('places that are not enabled are ignored: the token there counts as missing', async () => {
    const token = sign({ sub: 'elsewhere', exp: now() + 600 }, { kid: null });
    for (const transports of [['websocket'], ['polling']]) {
      await refused(strict, { transports, extraHeaders: { Authorization: `Bearer ${token}` } }, 'missing token', 'missing');
      await refused(strict, { transports, query: { token } }, 'missing token', 'missing');
    }
    (await connect(strict, { auth: { token } })).close();
  });

  test('failures are counted by reason in /metrics; the client only sees the category', async () => {
    const before = await failureCounts(main);
    await refused(main, {}, 'missing token');
    await refused(main, { auth: { token: sign(claims({ exp: now() - 60 })) } }, 'token expired');
    await refused(main, { auth: { token: sign(claims(), { key: secrets.wrong }) } }, 'invalid token');
    await refused(main, { auth: { token: 'garbage' } }, 'invalid token');
    await refused(main, { auth: { token: craft({ alg: 'none' }, claims()) } }, 'invalid token');
    await refused(main, { auth: { token: sign(claims({ aud: 'nope' })) } }, 'invalid token');
    await refused(main, { auth: { token: sign(claims(), { kid: 'unknown' }) } }, 'invalid token');
    const after = await failureCounts(main);
    const delta = (reason) => (after[reason] || 0) - (before[reason] || 0);
    assert.deepEqual(
      ['missing', 'expired', 'signature', 'malformed', 'algorithm', 'audience', 'unknown_key'].map((r) => [r, delta(r)]),
      ['missing', 'expired', 'signature', 'malformed', 'algorithm', 'audience', 'unknown_key'].map((r) => [r, 1]),
    );
  });

  test('failure details go to the debug log, never to the client', async () => {
    const mark = strict.outputMark();
    await refused(strict, { auth: { token: sign({ sub: 'x', exp: now() - 3600 }, { kid: null }) } }, 'token expired');
    const deadline = Date.now() + 3000;
    while (!/connect refused for socket \S+ from \S+ \(expired\): auth payload: expired \d+ ms ago/.test(strict.output(mark))) {
      if (Date.now() > deadline) assert.fail(`no debug line in:\n${strict.output(mark)}`);
      await new Promise((r) => setTimeout(r, 20)); // the log arrives through a pipe; nothing to await
    }
  });

  // ---- identity for other modules ------------------------------------------------------------

  test('the socket joins user:<id>; a broadcast to that room reaches every socket of the user', async () => {
    const alice1 = await connect(main, { auth: { token: sign(claims({ sub: 'alice' })) } });
    const alice2 = await connect(main, { transports: ['polling'], auth: { token: sign(claims({ sub: 'alice' })) } });
    const bob = await connect(main, { auth: { token: sign(claims({ sub: 'bob' })) } });
    const [rooms] = await c.ack(bob, 'rooms');
    assert.ok(rooms.includes('user:bob') && !rooms.includes('user:alice'), JSON.stringify(rooms));
    const got1 = alice1.inbox.take('dm');
    const got2 = alice2.inbox.take('dm');
    assert.deepEqual(await c.ack(bob, 'broadcast', [{ rooms: ['user:alice'], event: 'dm', data: { from: 'bob' } }]), [true]);
    assert.deepEqual(await got1, [{ from: 'bob' }]);
    assert.deepEqual(await got2, [{ from: 'bob' }]);
    // Bob is not in alice's room: a round trip after the broadcast shows nothing came.
    await c.assertEchoes(bob, assert);
    assert.equal(bob.inbox.count('dm'), 0);
  });

  // ---- role rules -------------------------------------------------------------------------------

  test('role rules: allowed roles pass to the next module, others get FORBIDDEN and the handler never runs', async () => {
    const server = await startServer({
      config: authConfig({
        keys: [{ kid: 'k', algorithm: 'HS256', secret: secrets.hs256 }],
        role_claim: 'roles',
        user_room: false,
        rules: {
          'admin:*': ['admin'],
          'admin:help': ['admin', 'writer'],
          'message-with-ack': 'admin',
          message: ['admin', 'writer'],
        },
      }),
    });
    const token = (sub, roles) => sign({ sub, exp: now() + 600, ...(roles === undefined ? {} : { roles }) }, { kid: 'k' });
    const admin = await connect(server, { auth: { token: token('root', 'admin') } });
    const writer = await connect(server, { auth: { token: token('wendy', ['reader', 'writer']) } });
    const nobody = await connect(server, { transports: ['polling'], auth: { token: token('nemo') } });

    const [rooms] = await c.ack(admin, 'rooms');
    assert.ok(!rooms.some((r) => r.startsWith('user:')), `user_room: false joins no room: ${JSON.stringify(rooms)}`);

    // Allowed: the event goes on down the chain (echo answers; admin:* has no handler -> NOT_FOUND).
    await c.assertEchoes(admin, assert);
    const [notFound] = await c.ack(admin, 'admin:ban', ['x']);
    assert.equal(notFound.error.code, 'NOT_FOUND');
    const back = writer.inbox.take('message-back');
    writer.emit('message', 'hello');
    assert.deepEqual(await back, ['hello']);
    assert.equal((await c.ack(writer, 'admin:help'))[0].error.code, 'NOT_FOUND', 'the exact rule wins over admin:*');

    // Refused: error ack, or an `error` event without an ack callback.
    assert.deepEqual(await c.ack(writer, 'message-with-ack', ['x']), [
      { ok: false, error: { code: 'FORBIDDEN', message: "Event 'message-with-ack' is not allowed for your role" } },
    ]);
    assert.deepEqual(await c.ack(writer, 'admin:ban', ['x']), [
      { ok: false, error: { code: 'FORBIDDEN', message: "Event 'admin:ban' is not allowed for your role" } },
    ]);
    const error = nobody.inbox.take('error');
    nobody.emit('message', 'should not echo');
    assert.deepEqual(await error, [
      { code: 'FORBIDDEN', message: "Event 'message' is not allowed for your role", event: 'message' },
    ]);
    // Events without a rule pass; their answer comes after anything the refused event could have caused.
    assert.deepEqual(await c.ack(nobody, 'join', ['lobby']), [true]);
    assert.equal(nobody.inbox.count('message-back'), 0, 'the refused event never reached echo');
    assert.deepEqual([admin.disconnects, writer.disconnects, nobody.disconnects], [[], [], []]);
  });

  // ---- expiry and refresh ---------------------------------------------------------------------

  test('a socket is disconnected when its token expires; a refresh for the same user keeps it, another user’s token is refused', { timeout: 20000 }, async () => {
    const server = await startServer({
      config: authConfig({ keys: [{ kid: 'k', algorithm: 'HS256', secret: secrets.hs256 }], expose_claims: ['role'] }),
    });
    const token = (sub, exp, extra = {}) => sign({ sub, exp, ...extra }, { kid: 'k' });
    const t = now();
    const kept = await connect(server, { auth: { token: token('alice', t + 2) } });
    const refusedRefresh = await connect(server, { transports: ['polling'], auth: { token: token('dave', t + 2) } });
    const control = await connect(server, { auth: { token: token('carol', t + 3) } });

    const fresh = t + 120;
    assert.deepEqual(await c.ack(kept, 'auth:refresh', [{ token: token('alice', fresh, { role: 'admin' }) }]), [
      { ok: true, exp: fresh },
    ]);
    assert.deepEqual(await c.ack(refusedRefresh, 'auth:refresh', [{ token: token('erin', fresh) }]), [
      { ok: false, error: { code: 'FORBIDDEN', message: 'token is for another user' } },
    ]);
    assert.deepEqual(await c.ack(refusedRefresh, 'auth:refresh', [{ token: token('dave', t - 10) }]), [
      { ok: false, error: { code: 'UNAUTHORIZED', message: 'token expired' } },
    ]);
    assert.deepEqual(await c.ack(refusedRefresh, 'auth:refresh', [{ token: 'junk' }]), [
      { ok: false, error: { code: 'UNAUTHORIZED', message: 'invalid token' } },
    ]);
    assert.deepEqual(await c.ack(refusedRefresh, 'auth:refresh', [{}]), [
      { ok: false, error: { code: 'INVALID', message: 'auth:refresh needs {token}' } },
    ]);

    assert.equal(await disconnected(refusedRefresh, 5000), 'io server disconnect');
    assert.ok(Date.now() >= (t + 2) * 1000 - 5, 'not before its exp');
    assert.equal(await disconnected(control, 5000), 'io server disconnect');
    assert.ok(Date.now() >= (t + 3) * 1000 - 5, 'not before its exp');
    // Past the original exp of `kept` by a second: it is still there.
    await c.assertEchoes(kept, assert);
    assert.deepEqual(kept.disconnects, []);
    assert.equal(await metric(server, 'switchboard_auth_expired_disconnects_total{module="auth_jwt"}'), 2);
    assert.equal(await metric(server, 'switchboard_auth_refreshes_total{module="auth_jwt"}'), 1);
    assert.equal(await metric(server, 'switchboard_auth_refresh_failures_total{module="auth_jwt",reason="other_user"}'), 1);
  });

  test('on_expiry: ignore keeps sockets whose token has expired', { timeout: 10000 }, async () => {
    const server = await startServer({
      config: authConfig({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], on_expiry: 'ignore' }),
    });
    const exp = Math.ceil((Date.now() + 1000) / 1000); // 1 to 2 s ahead
    const socket = await connect(server, { auth: { token: sign({ sub: 'ivy', exp }, { kid: null }) } });
    // Waiting for the token to expire: there is no event to await when nothing happens.
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 + 300 - Date.now())));
    await c.assertEchoes(socket, assert);
    assert.deepEqual(socket.disconnects, []);
  });

  // ---- reload ------------------------------------------------------------------------------------

  test('a reload with a new configuration keeps sockets authenticated, their roles and their expiry', { timeout: 20000 }, async () => {
    const configFor = (extra) =>
      authConfig(
        {
          keys: [{ kid: 'k', algorithm: 'HS256', secret: secrets.hs256 }],
          rules: { 'admin:*': ['admin'] },
          ...extra,
        },
        { admin: { token: ADMIN_TOKEN } },
      );
    const server = await startServer({ config: configFor({}) });
    const t = now();
    const shortLived = await connect(server, { auth: { token: sign({ sub: 'sam', exp: t + 3, role: 'admin' }, { kid: 'k' }) } });
    const longLived = await connect(server, { transports: ['polling'], auth: { token: sign({ sub: 'lou', exp: t + 600, role: 'member' }, { kid: 'k' }) } });

    // New configuration: one more rule and the leeway as a duration string.
    const next = mergeConfig(DEFAULT_CONFIG, configFor({ rules: { 'admin:*': ['admin'], 'message-with-ack': ['admin'] }, leeway: '0s' }));
    fs.writeFileSync(server.configPath, toYaml({ ...next, listen: server.config.listen, modules: { ...next.modules, test_rooms: { file: path.join(TEST_MODULES, 'test_rooms.so') } } }));
    assert.deepEqual(await adminReload(server), {
      status: 200,
      json: { ok: true, summary: 'modules reconfigured: auth_jwt; unchanged: echo, test_rooms' },
    });

    // Roles carried over, the new rule applies.
    assert.equal((await c.ack(shortLived, 'admin:x'))[0].error.code, 'NOT_FOUND');
    assert.deepEqual(await c.ack(shortLived, 'message-with-ack', [1]), [1]);
    assert.equal((await c.ack(longLived, 'admin:x'))[0].error.code, 'FORBIDDEN');
    assert.equal((await c.ack(longLived, 'message-with-ack', [1]))[0].error.code, 'FORBIDDEN');
    // The identity stays: the user's room still reaches lou.
    const dm = longLived.inbox.take('dm');
    await c.ack(shortLived, 'broadcast', [{ rooms: ['user:lou'], event: 'dm', data: 'still you' }]);
    assert.deepEqual(await dm, ['still you']);
    // The expiry tracked before the reload still fires.
    assert.equal(await disconnected(shortLived, 6000), 'io server disconnect');
    assert.ok(Date.now() >= (t + 3) * 1000 - 5);
    const back = longLived.inbox.take('message-back');
    longLived.emit('message', 'still here');
    assert.deepEqual(await back, ['still here']);
    assert.deepEqual(longLived.disconnects, []);
    assert.match(
      (await c.request(server, { path: '/metrics' })).body,
      /^switchboard_module_unload_failures_total 0$/m,
      'the old instance is unloaded',
    );
  });

  // ---- configuration errors -------------------------------------------------------------------------

  const CONFIG_ERRORS = [
    ['an unknown key (file:line: key)', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], tokens_from: ['auth'] }),
      /:\d+: modules\.auth_jwt\.config\.tokens_from: unknown key for module 'auth_jwt' \(known keys: keys, algorithms, /],
    ['no keys', () => ({ issuer: ISSUER }), /modules\.auth_jwt\.config: missing required key 'keys'/],
    ['alg none', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], algorithms: ['HS256', 'none'] }),
      /algorithms\[1\]: 'none' \(unsigned tokens\) is never accepted/],
    ['a secret shorter than the hash', () => ({ keys: [{ algorithm: 'HS512', secret: 'short' }] }),
      /keys\[0\]: the secret for HS512 must be at least 64 bytes/],
    ['a secret for an RSA algorithm', () => ({ keys: [{ algorithm: 'RS256', secret: secrets.hs256 }] }),
      /keys\[0\]\.secret: RS256 needs public_key or public_key_file/],
    ['an RSA key for ES256', () => ({ keys: [{ algorithm: 'ES256', public_key_file: pairs.rsa.file }] }),
      /keys\[0\]: ES256 needs an EC public key on curve P-256/],
    ['a P-384 key for ES256', () => ({ keys: [{ algorithm: 'ES256', public_key_file: pairs.p384.file }] }),
      /keys\[0\]: ES256 needs an EC public key on curve P-256/],
    ['a private key where the public key belongs', () => ({ keys: [{ algorithm: 'RS256', public_key: pairs.rsa.privateKey }] }),
      /keys\[0\]: not a PEM public key/],
    ['an unreadable key file', () => ({ keys: [{ algorithm: 'RS256', public_key_file: '/nonexistent/key.pem' }] }),
      /keys\[0\]\.public_key_file: cannot read file '\/nonexistent\/key\.pem'/],
    ['a key the algorithm list leaves out', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], algorithms: ['RS256'] }),
      /keys\[0\]\.algorithm: HS256 is not listed in algorithms/],
    ['duplicate kids', () => ({ keys: [{ kid: 'a', algorithm: 'HS256', secret: secrets.hs256 }, { kid: 'a', algorithm: 'HS256', secret: secrets.hs256next }] }),
      /keys\[1\]\.kid: duplicate kid 'a'/],
    ['an unknown token source', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], token_sources: ['cookie'] }),
      /token_sources: unknown source 'cookie'/],
    ['a bad leeway', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], leeway: 'a while' }),
      /leeway: expected a duration/],
    ['a room template without {id}', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], user_room: 'users' }),
      /user_room: must contain \{id\}/],
    ['a wildcard inside a pattern', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], rules: { 'a*b': ['x'] } }),
      /rules\.a\*b: '\*' is only allowed at the end/],
    ['a bad on_expiry', () => ({ keys: [{ algorithm: 'HS256', secret: secrets.hs256 }], on_expiry: 'later' }),
      /on_expiry: expected disconnect or ignore/],
  ];
  for (const [name, config, match] of CONFIG_ERRORS) {
    test(`configuration refused: ${name}`, async () => {
      const r = await checkConfig(authConfig(config()));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, match);
    });
  }

  test('a valid configuration with every key passes -t', async () => {
    const r = await checkConfig(
      authConfig({
        keys: mainKeys(),
        algorithms: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'],
        token_sources: ['header', 'auth', 'query'],
        auth_field: 'jwt',
        query_parameter: 'access_token',
        leeway: '30s',
        issuer: [ISSUER],
        audience: 'switchboard',
        required_claims: ['exp', 'sub'],
        identity_claim: 'uid',
        expose_claims: ['role', 'organizationId'],
        role_claim: 'roles',
        rules: { 'admin:*': ['admin'], 'chat:send': 'member' },
        user_room: 'u/{id}',
        on_expiry: 'disconnect',
        refresh_event: 'token:refresh',
      }),
    );
    assert.equal(r.code, 0, r.stderr);
  });
}
