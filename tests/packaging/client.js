'use strict';
// The client side of the installed-package test: a real socket.io-client
// (from tests/e2e/node_modules) connects to the packaged daemon, checks the
// echo module of the shipped config, runs the reload command it is given
// (edit the config to add the out-of-tree modules, send SIGHUP), then checks
// that the same connection is still up and the new modules answer on it.
// Prints "ok - ..." / "not ok - ..." lines for tests/packaging/run.
//
//   node client.js URL 'RELOAD SHELL COMMAND'

const path = require('node:path');
const { execSync } = require('node:child_process');

const E2E_MODULES = path.join(__dirname, '..', 'e2e', 'node_modules');
const TIMEOUT_MS = 10000;
const RELOAD_WAIT_MS = 20000;

function report(ok, what, detail) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
  if (!ok && detail) console.log(String(detail).split('\n').map((l) => `# ${l}`).join('\n'));
  return ok;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function ack(socket, event, ...args) {
  return withTimeout(new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res))),
    TIMEOUT_MS, `ack of ${event}`);
}

async function main() {
  const [url, reloadCommand] = process.argv.slice(2);
  let io;
  try {
    ({ io } = require(path.join(E2E_MODULES, 'socket.io-client')));
  } catch (e) {
    report(false, 'socket.io-client is installed in tests/e2e (tools/install-deps --with-tests)', e.message);
    return;
  }

  // WebSocket from the start: the polling side is covered by the raw
  // Engine.IO handshake of deb-inside.sh, and the upgrade by tests/e2e.
  const socket = io(url, { reconnection: false, timeout: TIMEOUT_MS, transports: ['websocket'] });
  const drops = [];
  socket.on('disconnect', (reason) => drops.push(reason));
  try {
    await withTimeout(new Promise((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('connect_error', reject);
    }), TIMEOUT_MS, 'connect');
    report(true, `socket.io-client connects over WebSocket to the packaged daemon at ${url}`);
  } catch (e) {
    report(false, `socket.io-client connects over WebSocket to the packaged daemon at ${url}`, e.message);
    socket.close();
    return;
  }
  const sid = socket.id;

  const echo = async () => {
    const back = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
    socket.emit('message', 'ping', 1);
    return JSON.stringify(await withTimeout(back, TIMEOUT_MS, 'message-back'));
  };
  try {
    const got = await echo();
    report(got === '["ping",1]', 'the shipped config runs the echo module', got);
  } catch (e) {
    report(false, 'the shipped config runs the echo module', e.message);
  }

  try {
    const [before] = await ack(socket, 'hello', 'ann');
    report(before?.error?.code === 'NOT_FOUND', 'before the reload the out-of-tree module is not there', JSON.stringify(before));
  } catch (e) {
    report(false, 'before the reload the out-of-tree module is not there', e.message);
  }

  try {
    execSync(reloadCommand, { stdio: 'pipe' });
  } catch (e) {
    report(false, 'the reload command runs', `${e.message}\n${e.stderr}`);
  }

  // The reload is asynchronous: ask until the new module answers.
  const deadline = Date.now() + RELOAD_WAIT_MS;
  let greeting;
  while (Date.now() < deadline && socket.connected) {
    const res = await ack(socket, 'hello', 'ann').catch((e) => [e.message]);
    if (typeof res[0] === 'string' && res[0].startsWith('howdy')) {
      greeting = res;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  report(JSON.stringify(greeting) === '["howdy, ann!",1]',
    'after SIGHUP the C module built from switchboard-dev answers on the same connection', JSON.stringify(greeting));
  try {
    const greeted = await ack(socket, 'greet', 'bob');
    report(JSON.stringify(greeted) === '["hey bob"]', 'the C++ module built from switchboard-dev answers too', JSON.stringify(greeted));
  } catch (e) {
    report(false, 'the C++ module built from switchboard-dev answers too', e.message);
  }
  try {
    const got = await echo();
    report(got === '["ping",1]', 'echo still answers after the reload', got);
  } catch (e) {
    report(false, 'echo still answers after the reload', e.message);
  }
  report(socket.connected && socket.id === sid && drops.length === 0,
    'the reload kept the client connected (same session, no disconnect)', `disconnects: ${drops.join(', ')}`);
  socket.close();
}

main().catch((e) => {
  report(false, 'the client ran to the end', e.stack);
}).finally(() => process.exit(0));
