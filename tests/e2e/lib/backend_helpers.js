// Helpers the backend module's e2e suites share: ports nothing listens on,
// RPC acks, and reading /metrics until a gauge or counter gets where a test
// expects it.
'use strict';

const assert = require('node:assert/strict');
const net = require('node:net');
const c = require('./client');

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port nothing listens on (bound, then closed). */
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The first ack argument of `event` with `args`. */
async function rpc(socket, event, args = [], timeout = 5000) {
  return (await c.ack(socket, event, args, timeout))[0];
}

async function metrics(server) {
  return (await c.request(server, { path: '/metrics' })).body;
}

function metricValue(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Resolves once every switchboard_http_client_in_flight gauge reads 0. */
async function inFlightDrains(server, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gauges = (await metrics(server)).split('\n').filter((l) => l.startsWith('switchboard_http_client_in_flight{'));
    if (gauges.length > 0 && gauges.every((l) => l.endsWith(' 0'))) return gauges;
    if (Date.now() > deadline) assert.fail(`in-flight gauges did not return to 0:\n${gauges.join('\n')}`);
    await delay(50); // metrics poll: nothing to await but the next reading
  }
}

/** Resolves once the counter reaches `atLeast`. */
async function counterReaches(server, name, labels, atLeast, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await metrics(server);
    const v = metricValue(text, name, labels);
    if (v >= atLeast) return v;
    if (Date.now() > deadline) assert.fail(`${name}{${labels}} is ${v}, expected at least ${atLeast}\n${text}`);
    await delay(50); // metrics poll
  }
}

module.exports = { delay, closedPort, rpc, metrics, metricValue, inFlightDrains, counterReaches };
