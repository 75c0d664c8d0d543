'use strict';
// Reference target for the e2e suite: a Node socket.io@4.8.4 server that
// behaves like switchboard with the `echo` and `test_rooms` modules loaded.
// It takes the same configuration object the harness renders to YAML for
// switchboard, passed as JSON:
//
//   node reference/server.js --config-json '{"listen":[{"address":"127.0.0.1","port":3000}],...}'
//
// It exists so the suite can be checked against the stock implementation of
// the protocol, and so differences between the two are visible.

const http = require('node:http');
const { Server } = require('socket.io');
const { DEFAULT_CONFIG, mergeConfig, parseDuration, parseSize } = require('../lib/config');

// The harness passes the complete configuration; sections left out (when
// run by hand) take their defaults as a whole.
function readConfig(argv) {
  const i = argv.indexOf('--config-json');
  let given = {};
  if (i >= 0 && argv[i + 1]) given = JSON.parse(argv[i + 1]);
  else if (process.env.SWITCHBOARD_REFERENCE_CONFIG) given = JSON.parse(process.env.SWITCHBOARD_REFERENCE_CONFIG);
  return { ...mergeConfig(DEFAULT_CONFIG, {}), ...given };
}

const config = readConfig(process.argv.slice(2));
const debugLog = config.log && config.log.level === 'debug';
const log = (...args) => console.log(new Date().toISOString(), ...args);
const debug = (...args) => { if (debugLog) log(...args); };

if (!Array.isArray(config.listen) || config.listen.length !== 1) {
  console.error('reference server: exactly one listen entry is supported');
  process.exit(2);
}

// ---- modules -------------------------------------------------------------

const lastFn = (args) => (args.length && typeof args[args.length - 1] === 'function' ? args.pop() : null);

const MODULES = {
  echo(nsp) {
    nsp.on('connection', (socket) => {
      socket.emit('auth', socket.handshake.auth);
      socket.on('message', (...args) => {
        lastFn(args); // an ack requested on `message` is not answered
        socket.emit('message-back', ...args);
      });
      socket.on('message-with-ack', (...args) => {
        const ack = lastFn(args);
        if (ack) ack(...args);
      });
    });
  },
  test_rooms(nsp) {
    nsp.on('connection', (socket) => {
      socket.on('join', (room, ack) => {
        if (typeof room === 'string') socket.join(room);
        if (typeof ack === 'function') ack(typeof room === 'string');
      });
      socket.on('leave', (room, ack) => {
        if (typeof room === 'string') socket.leave(room);
        if (typeof ack === 'function') ack(typeof room === 'string');
      });
      socket.on('broadcast', (spec, ack) => {
        if (spec && typeof spec === 'object' && typeof spec.event === 'string') {
          let op = nsp;
          if (Array.isArray(spec.rooms) && spec.rooms.length > 0) op = op.to(spec.rooms);
          if (Array.isArray(spec.except) && spec.except.length > 0) op = op.except(spec.except);
          op.emit(spec.event, spec.data);
          if (typeof ack === 'function') ack(true);
        } else if (typeof ack === 'function') {
          ack(false);
        }
      });
      socket.on('rooms', (ack) => {
        if (typeof ack !== 'function') return;
        ack([...socket.rooms].filter((r) => r !== socket.id).sort());
      });
    });
  },
};

// ---- server --------------------------------------------------------------

const httpServer = http.createServer((req, res) => {
  // Requests outside the Engine.IO path end up here.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' });
  res.end('Not Found\n');
});

const origins = config.cors.origins || [];
const io = new Server(httpServer, {
  path: config.engineio.path,
  serveClient: false,
  pingInterval: parseDuration(config.engineio.ping_interval),
  pingTimeout: parseDuration(config.engineio.ping_timeout),
  maxHttpBufferSize: parseSize(config.engineio.max_payload),
  transports: config.engineio.transports,
  connectTimeout: parseDuration(config.socketio.connect_timeout),
  cors: {
    origin: origins.includes('*') ? '*' : origins,
    credentials: !!config.cors.credentials,
  },
});

for (const [name, ns] of Object.entries(config.namespaces || {})) {
  const nsp = io.of(name);
  for (const mod of (ns && ns.modules) || []) {
    if (!MODULES[mod]) {
      console.error(`reference server: unknown module "${mod}" in namespace ${name}`);
      process.exit(2);
    }
    if (!(config.modules && mod in config.modules)) {
      console.error(`reference server: module "${mod}" is used by ${name} but not loaded`);
      process.exit(2);
    }
    MODULES[mod](nsp);
  }
  nsp.on('connection', (socket) => {
    debug(`connect ${name} ${socket.id} engine=${socket.conn.id}`);
    socket.on('disconnect', (reason) => debug(`disconnect ${name} ${socket.id}: ${reason}`));
  });
}

io.engine.on('connection_error', (err) => {
  debug(`connection_error ${err.code} ${err.message}`);
});

// ---- graceful shutdown ------------------------------------------------------

let shuttingDown = false;
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  const drainMs = parseDuration(config.shutdown.drain_timeout);
  log(`${signal}: shutting down, drain timeout ${drainMs}ms`);
  httpServer.close(); // stop accepting new connections
  const finish = (why) => {
    log(`exit (${why})`);
    process.exit(0);
  };
  const timer = setTimeout(() => finish('drain timeout'), drainMs);
  // As io.close() does: each Engine.IO session is closed once its buffer is
  // flushed, without Socket.IO DISCONNECT packets, so clients see
  // "transport close" and reconnect by themselves (to another node during a
  // rolling restart).
  const clients = Object.values(io.engine.clients);
  let open = clients.length;
  if (open === 0) {
    clearTimeout(timer);
    finish('no sessions');
    return;
  }
  for (const client of clients) {
    client.once('close', () => {
      open -= 1;
      if (open === 0) {
        clearTimeout(timer);
        // let the close frames reach the wire
        setImmediate(() => finish('drained'));
      }
    });
    client.close();
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

const { address, port } = config.listen[0];
httpServer.listen(port, address, () => {
  log(`reference server (socket.io ${require('socket.io/package.json').version}) listening on ${address}:${httpServer.address().port}`);
});
