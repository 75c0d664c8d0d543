'use strict';
// Starts the server under test for an e2e test file and guarantees it is gone
// afterwards.
//
// Target selection (environment):
//   SWITCHBOARD_BIN=/path/to/switchboard SWITCHBOARD_MODULES=/path/to/modules
//       -> the real binary, run as `$SWITCHBOARD_BIN -c <yaml> --modules-path $SWITCHBOARD_MODULES`
//   no SWITCHBOARD_BIN, or E2E_TARGET=reference
//       -> tests/e2e/reference/server.js (Node socket.io@4.8.4), given the
//          same configuration object as JSON.
//
// Importing this module installs root-level node:test hooks: the captured
// output of every server that was running during a failed test is printed,
// and every spawned server is killed when the file's tests end, pass or fail.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { beforeEach, afterEach, after } = require('node:test');
const { DEFAULT_CONFIG, mergeConfig, toYaml, parseDuration } = require('./config');

const REFERENCE_SCRIPT = path.join(__dirname, '..', 'reference', 'server.js');
const READY_TIMEOUT_MS = 10000;
const OUTPUT_LIMIT = 512 * 1024;

function resolveTarget() {
  const wanted = process.env.E2E_TARGET;
  if (wanted === 'reference') return 'reference';
  if (wanted && wanted !== 'switchboard') {
    throw new Error(`E2E_TARGET must be "switchboard" or "reference", got "${wanted}"`);
  }
  if (!process.env.SWITCHBOARD_BIN) {
    if (wanted === 'switchboard') throw new Error('E2E_TARGET=switchboard needs SWITCHBOARD_BIN');
    return 'reference';
  }
  if (!process.env.SWITCHBOARD_MODULES) {
    throw new Error('SWITCHBOARD_BIN is set but SWITCHBOARD_MODULES (the directory with echo.so) is not');
  }
  return 'switchboard';
}

const TARGET = resolveTarget();
const IS_SWITCHBOARD = TARGET === 'switchboard';
const IS_REFERENCE = TARGET === 'reference';

const servers = new Set(); // every server started by this file
let testStartedAt = Date.now();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function httpGetStatus(port, urlPath, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'GET', agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function tcpAccepts(port, timeoutMs) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function commandFor(configPath, config) {
  if (IS_SWITCHBOARD) {
    const bin = path.resolve(process.env.SWITCHBOARD_BIN);
    const modules = path.resolve(process.env.SWITCHBOARD_MODULES);
    return { file: bin, args: ['-c', configPath, '--modules-path', modules] };
  }
  return {
    file: process.execPath,
    args: [REFERENCE_SCRIPT, '--config-json', JSON.stringify(config)],
  };
}

// Test-only modules are built apart from the shipped ones (they are never
// installed); SWITCHBOARD_TEST_MODULES names their directory, and each one
// the config uses without an explicit file is pointed there.
function withTestModuleFiles(config) {
  const dir = process.env.SWITCHBOARD_TEST_MODULES;
  if (!dir || !config.modules) return config;
  const out = JSON.parse(JSON.stringify(config));
  for (const [name, settings] of Object.entries(out.modules)) {
    const file = path.join(dir, `${name}.so`);
    if (!settings.file && fs.existsSync(file)) out.modules[name] = { ...settings, file };
  }
  return out;
}

class ServerHandle {
  constructor({ config, configPath, tmpDir, port }) {
    this.target = TARGET;
    this.config = config;
    this.configPath = configPath;
    this.tmpDir = tmpDir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}`;
    this.path = config.engineio.path;
    this.startedAt = Date.now();
    this.exitedAt = null;
    this.exitInfo = null;
    this._chunks = [];
    this._size = 0;
    this._written = 0;
    const { file, args } = commandFor(configPath, config);
    this.command = [file, ...args];
    this.process = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exitedAt = Date.now();
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.process.on('error', (err) => {
        this._append('spawn', `${err.stack || err}\n`);
        if (!this.exitInfo) {
          this.exitedAt = Date.now();
          this.exitInfo = { code: null, signal: null, error: err };
          resolve(this.exitInfo);
        }
      });
    });
    this.process.stdout.on('data', (d) => this._append('stdout', d));
    this.process.stderr.on('data', (d) => this._append('stderr', d));
  }

  _append(stream, data) {
    const text = String(data);
    const chunk = stream === 'stderr' ? text.replace(/^(?=.)/gm, '[stderr] ') : text;
    this._chunks.push(chunk);
    this._size += chunk.length;
    this._written += chunk.length;
    while (this._size > OUTPUT_LIMIT && this._chunks.length > 1) {
      this._size -= this._chunks.shift().length;
    }
  }

  /**
   * What the server wrote to stdout and stderr (stderr lines marked), the
   * last 512 KiB at most; with `sinceMark`, only what came after that mark
   * (a value of outputMark()).
   */
  output(sinceMark = 0) {
    const all = this._chunks.join('');
    const start = all.length - (this._written - sinceMark);
    return start > 0 ? all.slice(start) : all;
  }

  /** A position in the output stream, for output(sinceMark). */
  outputMark() {
    return this._written;
  }

  isRunning() {
    return this.exitInfo === null;
  }

  /** Milliseconds of the configured durations, for computing bounds in tests. */
  duration(section, key) {
    return parseDuration(this.config[section][key]);
  }

  async _waitReady(deadline) {
    for (;;) {
      if (!this.isRunning()) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const ok = IS_SWITCHBOARD
        ? (await httpGetStatus(this.port, '/healthz', Math.min(left, 1000))) === 200
        : await tcpAccepts(this.port, Math.min(left, 1000));
      if (ok && this.isRunning()) return true;
      await delay(50); // readiness probe interval: nothing to await before the server is up
    }
  }

  /**
   * Sends `signal` (SIGTERM by default) and resolves with {code, signal} once
   * the process has exited. If it is still alive after `timeoutMs` it is
   * killed with SIGKILL and the result carries `forced: true`.
   */
  async stop(signal = 'SIGTERM', timeoutMs = 10000) {
    if (!this.isRunning()) return this.exitInfo;
    this.process.kill(signal);
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.process.kill('SIGKILL');
      const info = await this.exited;
      return { ...info, forced: true };
    }
    return first;
  }

  /** SIGKILL, resolves once the process is gone. */
  async kill9() {
    if (!this.isRunning()) return this.exitInfo;
    this.process.kill('SIGKILL');
    return this.exited;
  }

  _cleanupTmp() {
    try {
      fs.rmSync(this.tmpDir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

/**
 * Starts a server.
 *   options.config  overrides merged into DEFAULT_CONFIG (null removes a key)
 *   options.port    fixed port (default: a free one)
 *   options.readyTimeoutMs  bound for the readiness wait (default 10 s)
 * Resolves with a ServerHandle: {port, url, wsUrl, config, stop(signal), kill9(), process, output(), exited}.
 */
async function startServer(options = {}) {
  if (IS_SWITCHBOARD) {
    const bin = path.resolve(process.env.SWITCHBOARD_BIN);
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      throw new Error(`SWITCHBOARD_BIN=${process.env.SWITCHBOARD_BIN}: ${bin} is not an executable file`);
    }
  }
  const attempts = options.port ? 1 : 3;
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const port = options.port || (await freePort());
    const config = mergeConfig(mergeConfig(DEFAULT_CONFIG, options.config || {}), {
      listen: [{ address: '127.0.0.1', port }],
    });
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
    const configPath = path.join(tmpDir, 'switchboard.yaml');
    fs.writeFileSync(configPath, toYaml(withTestModuleFiles(config)));
    const handle = new ServerHandle({ config, configPath, tmpDir, port });
    servers.add(handle);
    const ready = await handle._waitReady(Date.now() + (options.readyTimeoutMs || READY_TIMEOUT_MS));
    if (ready) return handle;
    const exitedBeforeReady = !handle.isRunning();
    await handle.kill9();
    const what = exitedBeforeReady
      ? `exited during startup (${JSON.stringify(handle.exitInfo)}, attempt ${attempt} of ${attempts})`
      : `did not become ready within ${options.readyTimeoutMs || READY_TIMEOUT_MS} ms`;
    lastError = new Error(
      `${TARGET} server on port ${port} ${what}\ncommand: ${handle.command.join(' ')}\n` +
        `config:\n${toYaml(config)}\noutput:\n${handle.output()}`,
    );
    // A process that exited by itself may have lost a race for the port (the
    // free port is found by binding and closing it): try another one. A server
    // that stayed up but never became ready is not retried.
    if (!exitedBeforeReady) break;
  }
  throw lastError;
}

// Prints what each relevant server wrote since the last dump: servers still
// running, and servers that exited during the test (once). Output already
// shown for an earlier failure is not repeated.
function dumpOutputs(title, since) {
  for (const s of servers) {
    if (!s.isRunning() && (s.exitedAt < since || s._exitReported)) continue;
    if (!s.isRunning()) s._exitReported = true;
    const fresh = s.output(s._dumped || 0);
    const omitted = s._dumped ? `(output up to character ${s._dumped}, shown earlier, omitted)\n` : '';
    s._dumped = s.outputMark();
    const state = s.isRunning() ? 'running' : `exited ${JSON.stringify(s.exitInfo)}`;
    process.stderr.write(
      `\n----- ${title}: ${TARGET} server on port ${s.port} (${state}) output -----\n` +
        `${omitted}${fresh || '(no new output)\n'}` +
        `----- end of server output -----\n`,
    );
  }
}

beforeEach(() => {
  testStartedAt = Date.now();
});

afterEach((t) => {
  if (!t.passed) dumpOutputs(`test "${t.name}" failed`, testStartedAt);
});

after(async () => {
  await Promise.all(
    [...servers].map(async (s) => {
      await s.kill9();
      s._cleanupTmp();
    }),
  );
});

process.on('exit', () => {
  for (const s of servers) {
    if (s.isRunning()) {
      try {
        s.process.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

module.exports = {
  TARGET,
  IS_SWITCHBOARD,
  IS_REFERENCE,
  startServer,
  freePort,
  dumpOutputs,
};
