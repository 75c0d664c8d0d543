'use strict';
// A real redis-server for the cluster and Redis storage tests: started on a
// free loopback port in a temporary directory, with no persistence, and
// killed when the test file ends (pass or fail). It can be stopped and
// started again on the same port, which is how tests simulate an outage.
//
//   const redis = await startRedis();         // {port, address, stop(), start(), command(...args)}
//   config: { cluster: { redis: { address: redis.address } } }

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after } = require('node:test');
const { freePort } = require('./server');

const REDIS_BIN = process.env.REDIS_SERVER_BIN || 'redis-server';
const running = new Set();

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Encodes a command in RESP and returns the first reply, parsed (strings,
// integers, arrays, errors as Error objects). Enough for test assertions.
function command(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${args[0]}: no answer within 5 s`));
    }, 5000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parse(buf, 0);
      if (!parsed) return;
      clearTimeout(timer);
      sock.end();
      resolve(parsed.value);
    });
    let out = `*${args.length}\r\n`;
    for (const a of args) {
      const s = Buffer.from(String(a));
      out += `$${s.length}\r\n${s.toString('binary')}\r\n`;
    }
    sock.write(Buffer.from(out, 'binary'));
  });
}

function parse(buf, at) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return null;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const items = [];
    let pos = next;
    for (let i = 0; i < n; i += 1) {
      const item = parse(buf, pos);
      if (!item) return null;
      items.push(item.value);
      pos = item.end;
    }
    return { value: items, end: pos };
  }
  throw new Error(`unexpected RESP type '${type}'`);
}

class RedisHandle {
  constructor(port, dir, extraArgs) {
    this.port = port;
    this.address = `127.0.0.1:${port}`;
    this.dir = dir;
    this.extraArgs = extraArgs;
    this.process = null;
    this.output = '';
  }

  async start() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--daemonize', 'no', ...this.extraArgs];
    this.process = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout.on('data', (d) => { this.output = (this.output + d).slice(-65536); });
    this.process.stderr.on('data', (d) => { this.output = (this.output + d).slice(-65536); });
    this.exited = new Promise((resolve) => this.process.on('exit', resolve));
    const deadline = Date.now() + 10000;
    for (;;) {
      try {
        // Any answer means it listens (NOAUTH included, with --requirepass).
        await command(this.port, 'PING');
        return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start:\n${this.output}`);
      await delay(20); // readiness probe interval
    }
  }

  /** Kills the server (SIGKILL by default) and waits until it is gone. */
  async stop(signal = 'SIGKILL') {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill(signal);
    await this.exited;
  }

  command(...args) {
    return command(this.port, ...args);
  }
}

/** Starts a redis-server on a free port; `extraArgs` go to its command line. */
async function startRedis(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redis-'));
  const handle = new RedisHandle(await freePort(), dir, extraArgs);
  running.add(handle);
  return handle.start();
}

after(async () => {
  for (const r of running) {
    await r.stop();
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
});

process.on('exit', () => {
  for (const r of running) {
    try {
      r.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

module.exports = { startRedis, redisCommand: command };
