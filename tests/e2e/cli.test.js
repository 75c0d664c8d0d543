'use strict';
// The switchboard command itself: --version, -t, and the errors an operator
// meets first (a bad config, a missing or incompatible module, a port in
// use), plus TLS. Each error must exit 1 with a message naming the file, the
// line and the key, or the module and the reason. Switchboard only: these
// are not protocol behaviour the reference server could share.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');
const { IS_SWITCHBOARD, freePort, startServer } = require('./lib/server');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./lib/config');

const BIN = process.env.SWITCHBOARD_BIN;
const MODULES = process.env.SWITCHBOARD_MODULES;
const TEST_MODULES = process.env.SWITCHBOARD_TEST_MODULES;

function tmpFile(name, text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-cli-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function testModule(name) {
  return { file: path.join(TEST_MODULES, `${name}.so`) };
}

function configFile(override, port = 1) {
  const config = mergeConfig(mergeConfig(DEFAULT_CONFIG, { modules: { test_rooms: testModule('test_rooms') } }), override);
  config.listen = [{ address: '127.0.0.1', port }];
  return tmpFile('switchboard.yaml', toYaml(config));
}

/** Runs the binary to completion (bounded); resolves {code, stdout, stderr}. */
function run(args, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

if (IS_SWITCHBOARD) {
  test('--version prints the version and the module ABI', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^switchboard \d+\.\d+\.\d+ \(module ABI 1\.\d+\)$/m);
  });

  test('an unknown option is a usage error (exit 2)', async () => {
    const r = await run(['--frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
  });

  test('-t accepts a valid configuration and its modules', async () => {
    const file = configFile({});
    const r = await run(['-t', '-c', file, '--modules-path', MODULES]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration file .* test is successful/);
  });

  test('the shipped configurations pass -t', async () => {
    for (const file of ['switchboard.yaml', 'examples/conformance.yaml']) {
      const r = await run(['-t', '-c', path.join(__dirname, '..', '..', 'conf', file), '--modules-path', MODULES]);
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    }
  });

  const CONFIG_ERRORS = [
    {
      name: 'an unknown key names its line and dotted key',
      yaml: 'engineio:\n  ping_interval: 1s\n  ping_intervall: 2s\nnamespaces:\n  /: {}\n',
      match: /:3: engineio\.ping_intervall: unknown key/,
    },
    {
      name: 'a bad duration names the key and the value',
      yaml: 'engineio:\n  ping_timeout: soon\nnamespaces:\n  /: {}\n',
      match: /:2: engineio\.ping_timeout: expected a duration such as 25s or 300ms, got 'soon'/,
    },
    {
      name: 'a port out of range',
      yaml: 'listen:\n  - port: 70000\nnamespaces:\n  /: {}\n',
      match: /:2: listen\[0\]\.port: must be between 0 and 65535/,
    },
    {
      name: 'a namespace using an undeclared module',
      yaml: 'modules:\n  echo: {}\nnamespaces:\n  /:\n    modules:\n      - echo\n      - nope\n',
      match: /:7: namespaces\.\/\.modules: module 'nope' is not declared under modules:/,
    },
    {
      name: 'a YAML syntax error',
      yaml: 'namespaces:\n  /: [\n',
      match: /:\d+: YAML syntax error/,
    },
  ];
  for (const c of CONFIG_ERRORS) {
    test(`config error: ${c.name} (exit 1, file:line: key)`, async () => {
      const file = tmpFile('bad.yaml', c.yaml);
      for (const args of [['-t', '-c', file], ['-c', file]]) {
        const r = await run([...args, '--modules-path', MODULES]);
        assert.equal(r.code, 1, r.stderr);
        assert.ok(r.stderr.includes(file), `the message names the file: ${r.stderr}`);
        assert.match(r.stderr, c.match);
      }
    });
  }

  test('config error: a file that cannot be read', async () => {
    const r = await run(['-c', '/nonexistent/switchboard.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/nonexistent\/switchboard\.yaml: cannot open the configuration file/);
  });

  const MODULE_ERRORS = [
    {
      name: 'a missing module file',
      modules: { ghost: {} },
      match: /module 'ghost' \(.*ghost\.so\): file not found/,
    },
    {
      name: 'a module built for another ABI major version',
      modules: { bad_abi: () => testModule('bad_abi') },
      match: /module 'bad_abi' \(.*bad_abi\.so\): built for ABI 99\.0, this host speaks ABI 1\.\d+/,
    },
    {
      name: 'a shared object without the entry symbol',
      modules: { no_entry: () => testModule('no_entry') },
      match: /module 'no_entry' \(.*no_entry\.so\): not a Switchboard module \(missing symbol switchboard_module_entry\)/,
    },
    {
      name: 'a module refusing its configuration',
      modules: { echo: { config: { volume: 11 } } },
      match: /switchboard\.yaml:\d+: modules\.echo\.config\.volume: unknown key for module 'echo' \(known keys: none\)/,
    },
  ];
  for (const c of MODULE_ERRORS) {
    test(`module error: ${c.name} (exit 1, names module and reason)`, async () => {
      const modules = {};
      for (const [k, v] of Object.entries(c.modules)) modules[k] = typeof v === 'function' ? v() : v;
      const file = configFile({ modules, namespaces: { '/': { modules: Object.keys(modules) }, '/custom': null } });
      for (const args of [['-t', '-c', file], ['-c', file]]) {
        const r = await run([...args, '--modules-path', MODULES]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, c.match);
      }
    });
  }

  test('a port already in use: exit 1 with the address', async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address();
    try {
      const r = await run(['-c', configFile({}, port), '--modules-path', MODULES]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
    } finally {
      blocker.close();
    }
  });

  test('the open file limit follows limits.max_connections plus headroom, within the hard limit', async () => {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim()) || Infinity;
    const srv = await startServer({ config: { limits: { max_connections: 500 } } });
    try {
      const limits = fs.readFileSync(`/proc/${srv.process.pid}/limits`, 'utf8');
      const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)[1]);
      assert.equal(soft, Math.min(500 + 1024, hard), limits);
      assert.match(srv.output(), new RegExp(`open file limit ${soft} `));
    } finally {
      await srv.stop();
    }
  });

  test('TLS: https polling and wss with a configured certificate', { timeout: 30000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const config = mergeConfig(DEFAULT_CONFIG, { modules: { test_rooms: testModule('test_rooms') } });
    config.listen = [{ address: '127.0.0.1', port, tls: { certificate: cert, key } }];
    const file = tmpFile('tls.yaml', toYaml(config));
    const child = spawn(BIN, ['-c', file, '--modules-path', MODULES], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready: ${stderr}`)), 10000);
        const check = () => (stderr.includes('ready') ? (clearTimeout(timer), resolve()) : setTimeout(check, 20));
        check();
      });
      assert.match(stderr, new RegExp(`listening on https://127\\.0\\.0\\.1:${port}/socket\\.io/`));
      for (const transports of [['polling'], ['websocket']]) {
        const socket = io(`https://127.0.0.1:${port}`, { transports, rejectUnauthorized: false, forceNew: true, reconnection: false });
        try {
          const [auth] = await new Promise((resolve, reject) => {
            socket.once('auth', (...a) => resolve(a));
            socket.once('connect_error', reject);
          });
          assert.deepEqual(auth, {});
          const back = new Promise((resolve) => socket.once('message-back', (...a) => resolve(a)));
          socket.emit('message', 'over tls', transports[0]);
          assert.deepEqual(await back, ['over tls', transports[0]]);
          assert.equal(socket.io.engine.transport.name, transports[0]);
        } finally {
          socket.close();
        }
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
