'use strict';
// Client-side helpers for the e2e tests: the real socket.io-client with an
// event inbox, a raw WebSocket speaking Engine.IO by hand, plain HTTP requests
// and raw TCP. Every wait is bounded and driven by events, never by sleeping.
//
// Importing this module installs root-level node:test hooks: clients and raw
// sockets opened inside a test are closed after that test, those opened in a
// before() hook are closed when the file's tests end.

const http = require('node:http');
const net = require('node:net');
const { afterEach, beforeEach, after } = require('node:test');
const { io, Manager } = require('socket.io-client');
const WebSocket = require('ws');

const DEFAULT_TIMEOUT = 3000;
const RS = '\x1e'; // Engine.IO record separator for polling payloads

// ---- resource tracking -----------------------------------------------------

let inTest = false;
const testScoped = new Set();
const fileScoped = new Set();

function track(closeable) {
  (inTest ? testScoped : fileScoped).add(closeable);
  return closeable;
}

function closeAll(set) {
  for (const c of set) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
  set.clear();
}

beforeEach(() => {
  inTest = true;
});
afterEach(() => {
  inTest = false;
  closeAll(testScoped);
});
after(() => {
  closeAll(testScoped);
  closeAll(fileScoped);
});

// ---- generic waiting -----------------------------------------------------------

function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the argument list of the next `event` on `emitter` (node
 * EventEmitter or component-emitter), rejects after `timeout` ms.
 */
function waitFor(emitter, event, { timeout = DEFAULT_TIMEOUT, label } = {}) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, timeout, label || `"${event}"`).finally(() => {
    if (typeof emitter.off === 'function') emitter.off(event, handler);
    else emitter.removeListener(event, handler);
  });
}

// ---- inbox: every event a client receives, in order --------------------------------

class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(event, args) {
    const item = { event, args, consumed: false };
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (!item.consumed && w.match(item)) {
        if (w.consume) item.consumed = true;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(item.args);
      }
    }
  }

  /** All received argument lists of `event` (consumed or not). */
  all(event) {
    return this.items.filter((i) => i.event === event).map((i) => i.args);
  }

  count(event) {
    return this.items.filter((i) => i.event === event).length;
  }

  /**
   * The arguments of the first not yet taken `event` whose args satisfy
   * `filter`, waiting for it up to `timeout` ms. It is then marked taken.
   */
  take(event, { filter = () => true, timeout = DEFAULT_TIMEOUT } = {}) {
    const match = (i) => i.event === event && filter(...i.args);
    const found = this.items.find((i) => !i.consumed && match(i));
    if (found) {
      found.consumed = true;
      return Promise.resolve(found.args);
    }
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { match, resolve, consume: true };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, `event "${event}"`).finally(() => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }
}

// ---- socket.io-client --------------------------------------------------------

/**
 * A socket.io-client socket on `namespace` of `server`, not yet awaited.
 * Options: namespace ('/'), and anything io() accepts (transports, auth,
 * reconnection...). Defaults: forceNew, no reconnection. Its `inbox` records
 * every event from the server, including the `auth` event sent on connect.
 */
function createClient(server, { namespace = '/', ...ioOptions } = {}) {
  const socket = io(`${server.url}${namespace}`, {
    path: server.path,
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...ioOptions,
  });
  socket.inbox = new Inbox();
  socket.onAny((event, ...args) => socket.inbox.push(event, args));
  socket.disconnects = [];
  socket.on('disconnect', (reason) => socket.disconnects.push(reason));
  return track(socket);
}

/** Resolves once `socket` is connected; rejects with the connect_error. */
function connected(socket, timeout = 5000) {
  if (socket.connected) return Promise.resolve(socket);
  let onConnect;
  let onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => resolve(socket);
    onError = (err) => reject(err);
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
  return withTimeout(p, timeout, `connect to ${socket.nsp}`).finally(() => {
    socket.off('connect', onConnect);
    socket.off('connect_error', onError);
  });
}

async function connectClient(server, options = {}) {
  const socket = createClient(server, options);
  await connected(socket);
  return socket;
}

/** A socket.io-client Manager (one Engine.IO session, several namespaces). */
function createManager(server, options = {}) {
  const manager = new Manager(server.url, {
    path: server.path,
    reconnection: false,
    timeout: 5000,
    ...options,
  });
  track({ close: () => manager._close() });
  return manager;
}

function managerSocket(manager, namespace, options = {}) {
  const socket = manager.socket(namespace, options);
  socket.inbox = new Inbox();
  socket.onAny((event, ...args) => socket.inbox.push(event, args));
  socket.disconnects = [];
  socket.on('disconnect', (reason) => socket.disconnects.push(reason));
  return track(socket);
}

let nonceCounter = 0;
function nonce(prefix = 'n') {
  nonceCounter += 1;
  return `${prefix}-${process.pid}-${nonceCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Proves a connected client still works end to end: `message` comes back as
 * `message-back`, and `message-with-ack` is acknowledged with the same args.
 */
async function assertEchoes(socket, assert, timeout = DEFAULT_TIMEOUT) {
  const token = nonce('echo');
  const back = socket.inbox.take('message-back', { filter: (a) => a === token, timeout });
  socket.emit('message', token, { still: 'alive' });
  const args = await back;
  assert.deepStrictEqual(args, [token, { still: 'alive' }]);
  const acked = await ack(socket, 'message-with-ack', [token, 7], timeout);
  assert.deepStrictEqual(acked, [token, 7]);
}

/**
 * Emits `event` with `args` and an ack callback; resolves with the full list
 * of ack arguments (emitWithAck() only yields the first one).
 */
function ack(socket, event, args = [], timeout = DEFAULT_TIMEOUT) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

// ---- HTTP ------------------------------------------------------------------------

/**
 * One HTTP request on a fresh connection. Resolves with
 * {status, headers, body (utf8 string), raw (Buffer)}.
 */
function request(server, { method = 'GET', path = '/', headers = {}, body, timeout = DEFAULT_TIMEOUT } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, body: raw.toString('utf8'), raw });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out after ${timeout} ms waiting for ${method} ${path}`));
    }, timeout);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    track({ close: () => req.destroy() });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** `/socket.io/?EIO=4&transport=polling&...` with a cache buster, like the client. */
function eioPath(server, query = {}) {
  const q = new URLSearchParams({ EIO: '4', transport: 'polling', ...query });
  if (!('t' in query)) q.set('t', nonce('t'));
  for (const [k, v] of Object.entries(query)) if (v === undefined) q.delete(k);
  return `${server.path}?${q.toString()}`;
}

/** Polling handshake; resolves with {sid, open (parsed JSON), response}. */
async function pollingHandshake(server, headers = {}) {
  const res = await request(server, { path: eioPath(server), headers });
  if (res.status !== 200 || res.body[0] !== '0') {
    throw new Error(`polling handshake failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const open = JSON.parse(res.body.slice(1));
  return { sid: open.sid, open, response: res };
}

function pollGet(server, sid, opts = {}) {
  return request(server, { path: eioPath(server, { sid }), ...opts });
}

function pollPost(server, sid, body, opts = {}) {
  return request(server, {
    method: 'POST',
    path: eioPath(server, { sid }),
    headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...(opts.headers || {}) },
    body,
    ...opts,
  });
}

/**
 * Polls until the server has sent `count` packets (or `until` returns true on
 * the packets so far); resolves with the packets (payloads split on \x1e).
 */
async function pollPackets(server, sid, { until, timeout = DEFAULT_TIMEOUT } = {}) {
  const deadline = Date.now() + timeout;
  const packets = [];
  while (!until(packets)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out polling; got ${JSON.stringify(packets)}`);
    const res = await pollGet(server, sid, { timeout: left });
    if (res.status !== 200) throw new Error(`poll GET returned ${res.status} ${res.body}; got ${JSON.stringify(packets)}`);
    packets.push(...res.body.split(RS));
  }
  return packets;
}

/**
 * Resolves once the polling session `sid` is known to be closed: a GET is
 * refused with 400, or returns the close packet "1". Other packets (pings)
 * are collected and polling goes on; rejects if the session is still open
 * after `timeout` ms (a GET then just waits for data).
 */
async function pollingSessionClosed(server, sid, timeout = DEFAULT_TIMEOUT) {
  const deadline = Date.now() + timeout;
  const packets = [];
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`polling session ${sid} still open; got ${JSON.stringify(packets)}`);
    let res;
    try {
      res = await pollGet(server, sid, { timeout: left });
    } catch (err) {
      throw new Error(`polling session ${sid} still open (${err.message}); got ${JSON.stringify(packets)}`);
    }
    if (res.status === 400) return { how: '400', response: res, packets };
    if (res.status !== 200) throw new Error(`unexpected ${res.status} ${res.body}`);
    const got = res.body.split(RS);
    packets.push(...got);
    if (got.includes('1')) return { how: 'close packet', response: res, packets };
  }
}

// ---- raw WebSocket -------------------------------------------------------------------

/**
 * A WebSocket on the Engine.IO endpoint, spoken by hand. Frames are queued:
 * next() returns the next one ({text} or {binary}). With autoPong the
 * Engine.IO pings ("2") are answered with "3" and kept out of the queue.
 */
class RawWs {
  constructor(url, { autoPong = false, headers } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.frames = [];
    this.waiters = [];
    this.pings = 0;
    this.pingWaiters = [];
    this.openedAt = null;
    this.error = null;
    this.ws = new WebSocket(url, { perMessageDeflate: false, headers, maxPayload: 256 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        this.openedAt = Date.now();
        resolve();
      });
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const err = new Error(`unexpected response ${res.statusCode}: ${Buffer.concat(chunks)}`);
          err.statusCode = res.statusCode;
          err.body = Buffer.concat(chunks).toString();
          reject(err);
        });
        res.on('error', () => {});
      });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closedAt = Date.now();
        resolve({ code, reason: String(reason), at: this.closedAt });
        for (const w of this.waiters.splice(0)) w.reject(new Error(`websocket closed (${code}) while waiting for a frame`));
        for (const w of this.pingWaiters.splice(0)) w.reject(new Error(`websocket closed (${code}) after ${this.pings} pings`));
      });
    });
    this.ws.on('error', (err) => {
      this.error = err;
    });
    this.ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { binary: Buffer.from(data) } : { text: data.toString('utf8') };
      if (frame.text === '2') {
        this.pings += 1;
        for (const w of [...this.pingWaiters]) {
          if (this.pings >= w.count) {
            this.pingWaiters.splice(this.pingWaiters.indexOf(w), 1);
            w.resolve(this.pings);
          }
        }
        if (this.autoPong) {
          this.send('3');
          return;
        }
      }
      const w = this.waiters.shift();
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    });
    track(this);
  }

  static async open(server, { query = {}, ...options } = {}) {
    const q = new URLSearchParams({ EIO: '4', transport: 'websocket', ...query });
    const raw = new RawWs(`${server.wsUrl}${server.path}?${q}`, options);
    await withTimeout(raw.opened, DEFAULT_TIMEOUT, 'websocket open');
    return raw;
  }

  /** Next frame: {text: string} or {binary: Buffer}. */
  next(timeout = DEFAULT_TIMEOUT) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('websocket is closed'));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, 'a websocket frame').finally(() => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** Resolves once `count` Engine.IO pings in total have arrived; rejects if closed first. */
  waitPings(count, timeout = DEFAULT_TIMEOUT) {
    if (this.pings >= count) return Promise.resolve(this.pings);
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('websocket is closed'));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { count, resolve, reject };
      this.pingWaiters.push(waiter);
    });
    return withTimeout(p, timeout, `${count} pings (got ${this.pings})`).finally(() => {
      const i = this.pingWaiters.indexOf(waiter);
      if (i >= 0) this.pingWaiters.splice(i, 1);
    });
  }

  /** Next text frame, skipping frames for which skip(frame) is true. */
  async nextText(timeout = DEFAULT_TIMEOUT, skip = () => false) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const f = await this.next(Math.max(1, deadline - Date.now()));
      if (skip(f)) continue;
      if (f.text === undefined) throw new Error(`expected a text frame, got binary ${f.binary.toString('hex')}`);
      return f.text;
    }
  }

  send(data, options = {}) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, options);
  }

  isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with {code, reason} once the server closed the connection. */
  waitClosed(timeout = DEFAULT_TIMEOUT) {
    return withTimeout(this.closed, timeout, 'the server to close the websocket');
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
  }
}

/** Reads and parses the Engine.IO open packet of a fresh raw WebSocket. */
async function readOpenPacket(raw) {
  const text = await raw.nextText();
  if (text[0] !== '0') throw new Error(`expected an open packet, got ${JSON.stringify(text)}`);
  return JSON.parse(text.slice(1));
}

/**
 * A raw WebSocket session connected to the Socket.IO namespace `nsp`
 * (auto-answering pings). Resolves with {raw, open, socketId}; the `auth`
 * event the echo module sends on connect has been read already.
 */
async function rawSioSession(server, { nsp = '/', auth, autoPong = true } = {}) {
  const raw = await RawWs.open(server, { autoPong });
  const open = await readOpenPacket(raw);
  const prefix = nsp === '/' ? '' : `${nsp},`;
  raw.send(`40${prefix}${auth ? JSON.stringify(auth) : ''}`);
  const reply = await raw.nextText();
  const m = /^40(?:(\/[^,]*),)?(\{.*\})$/.exec(reply);
  if (!m) throw new Error(`expected CONNECT reply, got ${JSON.stringify(reply)}`);
  const authEvent = await raw.nextText();
  if (!authEvent.startsWith(`42${prefix}["auth"`)) throw new Error(`expected auth event, got ${JSON.stringify(authEvent)}`);
  return { raw, open, socketId: JSON.parse(m[2]).sid };
}

// ---- raw TCP -------------------------------------------------------------------------

/**
 * Opens a TCP connection, writes `chunks` (Buffers/strings), optionally ends
 * the write side, and resolves when the server closes it, with everything it
 * sent back. Write errors (EPIPE/ECONNRESET after the server hung up) count as
 * the server closing.
 */
function rawTcp(server, chunks, { endWrite = false, timeout = 5000 } = {}) {
  const p = new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    track({ close: () => sock.destroy() });
    const received = [];
    let error = null;
    sock.on('data', (d) => received.push(d));
    sock.on('error', (err) => {
      error = err;
    });
    sock.on('close', () => resolve({ data: Buffer.concat(received), error }));
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      if (endWrite) sock.end();
    });
  });
  return withTimeout(p, timeout, 'the server to close the TCP connection');
}

module.exports = {
  DEFAULT_TIMEOUT,
  RS,
  Inbox,
  RawWs,
  ack,
  assertEchoes,
  connectClient,
  connected,
  createClient,
  createManager,
  eioPath,
  managerSocket,
  nonce,
  pollGet,
  pollPackets,
  pollPost,
  pollingHandshake,
  pollingSessionClosed,
  rawSioSession,
  rawTcp,
  readOpenPacket,
  request,
  track,
  waitFor,
  withTimeout,
};
