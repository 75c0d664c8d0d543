'use strict';
// The peer in the benchmarks: a stock Node `socket.io@4.8.4` server with the
// handlers switchboard gets from its `echo` and `test_rooms` modules, so both
// servers answer the same load generator with the same bytes:
//   on connect                 -> emits "auth" with the CONNECT auth payload
//   "message" ...              -> emits "message-back" with the same arguments
//   "message-with-ack" ... ack -> acks with the same arguments
//   "join" room ack            -> joins the room, acks true
//   "broadcast" {rooms, except, event, data} ack
//                              -> emits `event` with `data` to the room members
//                                 (minus `except`), acks true
//   "rpc:echo" ... ack         -> with --backend URL: POSTs the backend module's
//                                 RPC body ({type:"rpc", event, args, socket}) to
//                                 URL/rpc with fetch and acks {ok:true, result},
//                                 or {ok:false, error:{code:"UNAVAILABLE"}}
//
// Usage: node peer/server.js --port N [--host 127.0.0.1] [--backend http://127.0.0.1:P]
// Prints "listening <port>" once it accepts connections; exits on SIGTERM.
//
// Settings match the switchboard bench config: pingInterval 25 s,
// pingTimeout 20 s, maxHttpBufferSize 1 MB, both transports, no compression
// (socket.io's default). The listen backlog is raised to the kernel's
// somaxconn so that the connection storm measures the server, not SYN drops
// (switchboard's listener uses the same backlog).
//
// The RPC forward is what an app would write: Node's global fetch (undici,
// keep-alive connections reused per origin by its default agent), JSON in
// and out, an error turned into an UNAVAILABLE ack like switchboard's.

const http = require('node:http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '0'));
const backend = arg('--backend', null);

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' });
  res.end('Not Found\n');
});

const io = new Server(httpServer, {
  path: '/socket.io/',
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  transports: ['polling', 'websocket'],
  connectTimeout: 45000,
});

const takeAck = (args) => (args.length && typeof args[args.length - 1] === 'function' ? args.pop() : null);

io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);

  socket.on('message', (...args) => {
    takeAck(args);
    socket.emit('message-back', ...args);
  });
  socket.on('message-with-ack', (...args) => {
    const ack = takeAck(args);
    if (ack) ack(...args);
  });
  socket.on('join', (room, ack) => {
    if (typeof room === 'string') socket.join(room);
    if (typeof ack === 'function') ack(typeof room === 'string');
  });
  socket.on('broadcast', (spec, ack) => {
    if (spec && typeof spec === 'object' && typeof spec.event === 'string') {
      let op = io;
      if (Array.isArray(spec.rooms) && spec.rooms.length > 0) op = op.to(spec.rooms);
      if (Array.isArray(spec.except) && spec.except.length > 0) op = op.except(spec.except);
      op.emit(spec.event, spec.data);
      if (typeof ack === 'function') ack(true);
    } else if (typeof ack === 'function') {
      ack(false);
    }
  });
  if (backend) {
    socket.on('rpc:echo', async (...args) => {
      const ack = takeAck(args);
      let reply;
      try {
        const res = await fetch(`${backend}/rpc`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            type: 'rpc',
            event: 'rpc:echo',
            args,
            socket: { id: socket.id, namespace: '/', remoteAddress: socket.handshake.address, data: {} },
          }),
        });
        if (!res.ok) throw new Error(`backend answered ${res.status}`);
        const answer = await res.json();
        reply = { ok: true, result: answer.result };
      } catch (e) {
        reply = { ok: false, error: { code: 'UNAVAILABLE', message: String(e && e.message) } };
      }
      if (ack) ack(reply);
    });
  }
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

httpServer.listen({ host, port, backlog: 4096 }, () => {
  console.log(`listening ${httpServer.address().port}`);
});
