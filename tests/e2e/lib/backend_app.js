'use strict';
// A stand-in for an application's own HTTP backend, for the tests of the
// backend module: a real node:http (or node:https) server on 127.0.0.1 that
// records every request (path, headers, parsed body, whether its
// X-Switchboard-Signature verifies) and answers through a handler the test
// sets. It can be stopped and started again on the same port, with the
// connections it holds cut, to play a backend that restarts.

const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');

/** Whether `header` (t=<secs>,v1=<hex>) signs `body` with `secret`. */
function verifySignature(secret, header, body) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header || '');
  if (!m) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(m[2]));
}

class BackendApp {
  /** options: secret (to verify signatures), tls ({key, cert}: an https server). */
  constructor({ secret, tls } = {}) {
    this.secret = secret;
    this.tls = tls;
    this.requests = [];
    this.waiters = [];
    this.sockets = new Set();
    this.port = 0;
    // (request record) => {status?, json?, body?} or a promise of one; null: never answer.
    this.handler = () => ({ json: { result: null } });
  }

  get url() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  start(port = this.port) {
    const onRequest = (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this._handle(req, res, Buffer.concat(chunks).toString('utf8')));
    };
    this.server = this.tls ? https.createServer(this.tls, onRequest) : http.createServer(onRequest);
    this.server.keepAliveTimeout = 60000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  /** Closes the listener and cuts every connection (answers pending are lost). */
  stop() {
    if (!this.server) return Promise.resolve();
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  async _handle(req, res, body) {
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const record = {
      path: req.url,
      headers: req.headers,
      body,
      json,
      signed: this.secret ? verifySignature(this.secret, req.headers['x-switchboard-signature'], body) : null,
      at: Date.now(),
    };
    this.requests.push(record);
    this._notify(record);
    let answer;
    try {
      answer = await this.handler(record, res);
    } catch (err) {
      answer = { status: 500, body: String(err) };
    }
    if (answer === null || res.writableEnded || res.destroyed) return; // hangs, or answered by the handler
    const status = answer.status || 200;
    record.status = status;
    this._notify(record); // waiters may look at the status too
    const text = answer.body !== undefined ? answer.body : JSON.stringify(answer.json);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(text);
  }

  _notify(record) {
    for (const w of [...this.waiters]) {
      if (w.match(record)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(record);
      }
    }
  }

  /** Resolves with the first recorded request (past or future) matching `match`. */
  waitFor(match, timeout = 5000, label = 'a backend request') {
    const found = this.requests.find(match);
    if (found) return Promise.resolve(found);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { match, resolve };
      this.waiters.push(waiter);
    });
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${label}`)), timeout);
    });
    return Promise.race([p, t]).finally(() => {
      clearTimeout(timer);
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** The webhook events received on `path` so far, in arrival order (retries included). */
  webhookEvents(path) {
    return this.requests.filter((r) => r.path === path && r.json && r.json.type === 'events').flatMap((r) => r.json.events);
  }
}

module.exports = { BackendApp, verifySignature };
