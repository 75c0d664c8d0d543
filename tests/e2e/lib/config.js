'use strict';
// The server configuration used by the e2e tests, as a plain object with the
// exact shape of the YAML file switchboard reads. Tests override parts of it
// with mergeConfig(); the object is rendered to YAML for switchboard and passed
// as JSON to the Node reference server, so both targets get the same settings.

const DEFAULT_CONFIG = Object.freeze({
  listen: [{ address: '127.0.0.1', port: 3000 }],
  engineio: {
    path: '/socket.io/',
    ping_interval: '300ms',
    ping_timeout: '200ms',
    max_payload: 1000000,
    transports: ['polling', 'websocket'],
  },
  socketio: {
    connect_timeout: '1000ms',
  },
  cors: {
    origins: ['*'],
    credentials: false,
  },
  limits: {
    max_connections: 10000,
  },
  shutdown: {
    drain_timeout: '2s',
  },
  log: {
    level: 'info',
  },
  modules: {
    echo: {},
    test_rooms: {},
  },
  namespaces: {
    '/': { modules: ['echo', 'test_rooms'] },
    '/custom': { modules: ['echo', 'test_rooms'] },
  },
});

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone(v) {
  return JSON.parse(JSON.stringify(v));
}

// Deep merge: objects merge key by key, arrays and scalars replace, and an
// override value of null removes the key (e.g. {namespaces: {'/custom': null}}).
function mergeConfig(base, override) {
  const out = clone(base);
  if (!override) return out;
  for (const [key, value] of Object.entries(override)) {
    if (value === null) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = mergeConfig(out[key], value);
    } else {
      out[key] = clone(value);
    }
  }
  return out;
}

// "300ms", "2s", "1m", or a bare number of milliseconds.
function parseDuration(value) {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(value));
  if (!m) throw new Error(`bad duration: ${value}`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 'ms'];
  return Math.round(n * unit);
}

// "1MB", "64KB", "100000", or a number of bytes (KB/MB are powers of 1000,
// KiB/MiB powers of 1024).
function parseSize(value) {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/i.exec(String(value));
  if (!m) throw new Error(`bad size: ${value}`);
  const units = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * units[(m[2] || 'b').toLowerCase()]);
}

const PLAIN_SCALAR = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const YAML_KEYWORDS = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (PLAIN_SCALAR.test(s) && !YAML_KEYWORDS.test(s)) return s;
  if (/^\d+(\.\d+)?(ms|s|m|h|B|KB|MB|GB|KiB|MiB|GiB)$/.test(s)) return s; // 300ms, 1MB
  if (/^\d+(\.\d+){3}$/.test(s)) return s; // 127.0.0.1
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

function yamlFlowSeq(arr) {
  return `[${arr.map((x) => (x === '*' ? '"*"' : yamlScalar(x))).join(', ')}]`;
}

function toYaml(obj, indent = 0) {
  const pad = ' '.repeat(indent);
  let out = '';
  for (const [key, value] of Object.entries(obj)) {
    const k = yamlScalar(key);
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every(isPlainObject)) {
        out += `${pad}${k}:\n`;
        for (const item of value) {
          const body = toYaml(item, indent + 4);
          out += `${pad}  - ${body.slice(indent + 4)}`;
        }
      } else {
        out += `${pad}${k}: ${yamlFlowSeq(value)}\n`;
      }
    } else if (isPlainObject(value)) {
      if (Object.keys(value).length === 0) out += `${pad}${k}: {}\n`;
      else out += `${pad}${k}:\n${toYaml(value, indent + 2)}`;
    } else {
      out += `${pad}${k}: ${yamlScalar(value)}\n`;
    }
  }
  return out;
}

module.exports = {
  DEFAULT_CONFIG,
  mergeConfig,
  parseDuration,
  parseSize,
  toYaml,
};
