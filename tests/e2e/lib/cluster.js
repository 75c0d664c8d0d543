'use strict';
// Several switchboard nodes sharing one real redis-server, for the cluster
// tests. Each node is an ordinary server (lib/server.js) whose config gets a
// `cluster:` section pointing at the test's Redis; `until` helpers read a
// node's /metrics so tests wait for a state instead of sleeping.

const assert = require('node:assert/strict');
const { startServer } = require('./server');
const { mergeConfig } = require('./config');
const { startRedis } = require('./redis');
const c = require('./client');

/**
 * Starts `count` nodes (in parallel) on `redis` (started when not given).
 * `nodeConfig(i)` may return (or resolve to) config overrides for node i.
 */
async function startCluster({ count = 2, config = {}, redis, lease = '3s', prefix, nodeConfig } = {}) {
  const r = redis || (await startRedis());
  const cluster = { redis: r, prefix: prefix || `sbtest${process.pid}`, lease, config, nodes: [] };
  cluster.nodes = await Promise.all(
    Array.from({ length: count }, async (_, i) => startNode(cluster, { config: nodeConfig ? await nodeConfig(i) : {} })),
  );
  await Promise.all(cluster.nodes.map((n) => waitForMetric(n, 'switchboard_cluster_nodes', (v) => v === count)));
  return cluster;
}

/** One more node of `cluster` (not waited for by the others). */
function startNode(cluster, extra = {}) {
  const clusterSection = { redis: { address: cluster.redis.address }, prefix: cluster.prefix, node_lease: cluster.lease };
  return startServer({ ...extra, config: mergeConfig({ ...cluster.config, cluster: clusterSection }, extra.config || {}) });
}

/** The value of an unlabelled metric, or of the first sample matching `labels`. */
async function metric(node, name, labels = '') {
  const res = await c.request(node, { path: '/metrics' });
  assert.equal(res.status, 200);
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} (\\d+)$`, 'm');
  const m = re.exec(res.body);
  return m ? Number(m[1]) : undefined;
}

/** Polls /metrics every 50 ms until `pred(value)` holds; fails after `timeout`. */
async function waitForMetric(node, name, pred, { timeout = 15000, labels = '' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await metric(node, name, labels);
    if (last !== undefined && pred(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`node on port ${node.port}: ${name} never satisfied the condition (last value ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // metrics poll interval
  }
}

module.exports = { startCluster, startNode, metric, waitForMetric };
