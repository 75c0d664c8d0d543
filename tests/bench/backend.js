'use strict';
// The application backend of the rpc benchmark: the smallest HTTP server
// that honours the backend module's RPC contract (docs/backend.md). It
// answers every POST at once with `{"result": <the request's args>}`, so what
// the benchmark measures is the server forwarding RPCs, not the backend's work.
// Both servers under test (switchboard's `backend` module and the Node peer's
// fetch) talk to the same instance; the driver also drives it directly with
// `loadgen --protocol http` to measure its own round trip.
//
// Usage: node backend.js --port N [--host 127.0.0.1]
// Prints "listening <port>" once it accepts connections; exits on SIGTERM.
//
// Keep-alive stays on for as long as the benchmark runs (keepAliveTimeout
// 60 s), so neither client pays for connection set-up in the measured window.

const http = require('node:http');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '0'));
let answered = 0;
let refused = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    let body;
    try {
      const msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (req.method !== 'POST' || !msg || msg.type !== 'rpc' || !Array.isArray(msg.args)) throw new Error('not an rpc');
      body = JSON.stringify({ result: msg.args });
    } catch {
      refused++;
      res.writeHead(400, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
      res.end('bad');
      return;
    }
    answered++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;

function bye() {
  process.stderr.write(`backend: ${answered} answered, ${refused} refused\n`);
  process.exit(0);
}
process.on('SIGTERM', bye);
process.on('SIGINT', bye);

server.listen({ host, port, backlog: 4096 }, () => {
  console.log(`listening ${server.address().port}`);
});
