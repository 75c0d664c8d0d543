'use strict';
// The notifications module against a real server with real storage and the
// HTTP API: creation by a backend, live delivery to every tab, an offline
// user's unread count on the next connect, read state shared across tabs,
// paging and unreadOnly for clients and the backend, API authentication
// and validation, and a created notification surviving kill -9; each on
// both storage backends (SQLite, Redis).
// Switchboard only (the reference server has neither).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { IS_SWITCHBOARD } = require('./lib/server');
const { ADMIN_TOKEN, connectAs, answer, reload } = require('./lib/auth');
const { STORAGE_BACKENDS, startCollabServer, restart, api } = require('./lib/collab');

const ROUTE = '/api/v1/notifications';

async function notify(server, body) {
  const res = await api(server, 'POST', ROUTE, { body });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json.notifications;
}

/** A client of `user` and the unread count it is greeted with. */
async function tab(server, user) {
  const socket = await connectAs(server, { sub: user });
  const [greeting] = await socket.inbox.take('notification:unread', { timeout: 15000 });
  return { socket, unread: greeting.count };
}

async function ok(socket, event, payload) {
  const res = await answer(socket, event, payload);
  assert.equal(res.ok, true, JSON.stringify(res));
  return res;
}

function expectError(res, status, code, pattern) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error.code, code);
  if (pattern) assert.match(res.json.error.message, pattern);
}

if (IS_SWITCHBOARD) {
  for (const backend of STORAGE_BACKENDS) {
    test(`[${backend}] notifications: an offline user gets the unread count on the next connect, then the list`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const created = await notify(server, { userId: 'dora', type: 'order.shipped', data: { orderId: 7 } });
      assert.equal(created.length, 1);
      assert.equal(created[0].userId, 'dora');
      const more = await notify(server, { userIds: ['dora', 'erin', 'dora'], type: 'promo', data: 'sale' });
      assert.deepEqual(more.map((n) => n.userId), ['dora', 'erin'], 'duplicates in userIds count once');

      const { socket, unread } = await tab(server, 'dora');
      assert.equal(unread, 2);
      const list = await ok(socket, 'notification:list', {});
      assert.deepEqual(list.notifications.map(({ id, type, data, read }) => ({ id, type, data, read })), [
        { id: more[0].id, type: 'promo', data: 'sale', read: false },
        { id: created[0].id, type: 'order.shipped', data: { orderId: 7 }, read: false },
      ]);
      assert.equal(list.notifications[1].ts, created[0].ts);
      assert.equal(list.hasMore, false);
      assert.equal(list.unread, 2);
      assert.equal((await tab(server, 'erin')).unread, 1);
      assert.equal((await tab(server, 'nobody')).unread, 0);
      await server.stop();
    });

    test(`[${backend}] notifications: live delivery to every tab of the user, nobody else`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const one = await tab(server, 'fay');
      const two = await tab(server, 'fay');
      const other = await tab(server, 'gus');
      const [n] = await notify(server, { userId: 'fay', type: 'mention', data: { by: 'gus' } });
      for (const t of [one, two]) {
        const [live] = await t.socket.inbox.take('notification:new');
        assert.deepEqual(live, { id: n.id, ts: n.ts, read: false, type: 'mention', data: { by: 'gus' } });
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(other.socket.inbox.count('notification:new'), 0, 'another user hears nothing');
      await server.stop();
    });

    test(`[${backend}] notifications: mark read in one tab, the other tab is told; counts stay right`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const created = [];
      for (let i = 0; i < 4; i += 1) created.push(...(await notify(server, { userId: 'hal', type: `t${i}` })));
      const ids = created.map((n) => n.id);
      const one = await tab(server, 'hal');
      const two = await tab(server, 'hal');
      assert.equal(one.unread, 4);

      const marked = await ok(one.socket, 'notification:mark_read', { ids: [ids[1], ids[1], ids[2], 999999] });
      assert.deepEqual(marked, { ok: true, ids: [ids[1], ids[2]], unread: 2 }, 'unknown and repeated ids are ignored');
      const [told] = await two.socket.inbox.take('notification:read');
      assert.deepEqual(told, { ids: [ids[1], ids[2]], unread: 2 });
      assert.deepEqual(await ok(two.socket, 'notification:mark_read', { ids: [ids[1]] }), { ok: true, ids: [], unread: 2 });

      const unreadOnly = await ok(two.socket, 'notification:list', { unreadOnly: true });
      assert.deepEqual(unreadOnly.notifications.map((n) => n.id), [ids[3], ids[0]]);
      const all = await ok(two.socket, 'notification:list', {});
      assert.deepEqual(all.notifications.map((n) => [n.id, n.read]), [[ids[3], false], [ids[2], true], [ids[1], true], [ids[0], false]]);

      // read state is stored: a new connection sees it
      assert.equal((await tab(server, 'hal')).unread, 2);
      const everything = await ok(two.socket, 'notification:mark_all_read', {});
      assert.deepEqual(everything, { ok: true, ids: [ids[0], ids[3]], unread: 0 });
      const [toldAll] = await one.socket.inbox.take('notification:read');
      assert.deepEqual(toldAll, { ids: [ids[0], ids[3]], unread: 0 });
      // a notification after mark_all is unread again
      await notify(server, { userId: 'hal', type: 'later' });
      assert.equal((await tab(server, 'hal')).unread, 1);
      await server.stop();
    });

    test(`[${backend}] notifications API: a retry with the same idempotencyKey stores and delivers nothing new`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend });
      const live = await tab(server, 'lou');
      const body = { userIds: ['lou', 'max'], type: 'invoice', data: { n: 1 }, idempotencyKey: 'invoice-1' };
      const first = await notify(server, body);
      const again = await notify(server, body);
      assert.deepEqual(again, first, 'the retry is answered with the original ids');
      await live.socket.inbox.take('notification:new');
      const other = await notify(server, { ...body, idempotencyKey: 'invoice-2' });
      const [next] = await live.socket.inbox.take('notification:new');
      assert.equal(next.id, other[0].id, 'the retry was not delivered again');
      assert.equal((await tab(server, 'lou')).unread, 2);
      assert.equal((await tab(server, 'max')).unread, 2);
      await server.stop();
    });

    test(`[${backend}] notifications: paging with before and limit, for clients and for the backend`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend, notifications: { default_page: 3, max_page: 5 } });
      const ids = [];
      for (let i = 0; i < 7; i += 1) ids.push((await notify(server, { userId: 'ivy', type: `n${i}` }))[0].id);
      const newest = ids.slice().reverse();
      const { socket } = await tab(server, 'ivy');
      await ok(socket, 'notification:mark_read', { ids: [ids[5], ids[4]] });
      const p1 = await ok(socket, 'notification:list', {});
      assert.deepEqual(p1.notifications.map((n) => n.id), newest.slice(0, 3));
      assert.equal(p1.hasMore, true);
      const p2 = await ok(socket, 'notification:list', { before: p1.notifications[2].id, limit: 5 });
      assert.deepEqual(p2.notifications.map((n) => n.id), newest.slice(3, 7));
      assert.equal(p2.hasMore, false);
      const u1 = await ok(socket, 'notification:list', { unreadOnly: true, limit: 2 });
      assert.deepEqual(u1.notifications.map((n) => n.id), [ids[6], ids[3]]);
      assert.equal(u1.hasMore, true);
      const u2 = await ok(socket, 'notification:list', { unreadOnly: true, before: ids[3], limit: 5 });
      assert.deepEqual(u2.notifications.map((n) => n.id), [ids[2], ids[1], ids[0]]);

      const b1 = await api(server, 'GET', `${ROUTE}?userId=ivy&limit=2`);
      assert.equal(b1.status, 200, JSON.stringify(b1.json));
      assert.equal(b1.json.userId, 'ivy');
      assert.deepEqual(b1.json.notifications.map((n) => [n.id, n.read]), [[ids[6], false], [ids[5], true]]);
      assert.equal(b1.json.hasMore, true);
      assert.equal(b1.json.unread, 5);
      const b2 = await api(server, 'GET', `${ROUTE}?userId=ivy&unreadOnly=true&before=${ids[3]}`);
      assert.deepEqual(b2.json.notifications.map((n) => n.id), [ids[2], ids[1], ids[0]]);
      const offline = await api(server, 'GET', `${ROUTE}?userId=${encodeURIComponent('nobody at all')}`);
      assert.deepEqual(offline.json, { userId: 'nobody at all', notifications: [], hasMore: false, unread: 0 });

      assert.equal((await answer(socket, 'notification:list', { limit: 6 })).error.code, 'INVALID');
      await server.stop();
    });

    test(`[${backend}] notifications API: authentication and validation errors; nothing is stored`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, notifications: { max_recipients: 3, max_type_length: 8, max_data_bytes: 20 } });
      expectError(await api(server, 'POST', ROUTE, { key: null, body: { userId: 'x', type: 't' } }), 401, 'UNAUTHORIZED');
      expectError(await api(server, 'POST', ROUTE, { key: 'wrong-key-0123456789abcdef', body: { userId: 'x', type: 't' } }), 401, 'UNAUTHORIZED');
      expectError(await api(server, 'GET', `${ROUTE}?userId=x`, { key: null }), 401, 'UNAUTHORIZED');
      const cases = [
        ['[1,2]', /the body must be a JSON object/],
        ['not json', /the body must be a JSON object/],
        [{ type: 't' }, /give exactly one of userId .* and userIds/],
        [{ userId: 'a', userIds: ['b'], type: 't' }, /give exactly one of userId/],
        [{ userId: '', type: 't' }, /userId: expected a non-empty string/],
        [{ userIds: [], type: 't' }, /userIds: expected a non-empty array of strings/],
        [{ userIds: ['a', 5], type: 't' }, /userIds\[1\]: expected a non-empty string/],
        [{ userIds: ['a', 'b', 'c', 'd'], type: 't' }, /userIds: at most 3 users per call/],
        [{ userId: 'a' }, /type: is required/],
        [{ userId: 'a', type: 'much-too-long' }, /type: longer than 8 bytes/],
        [{ userId: 'a', type: 't', data: { big: 'x'.repeat(30) } }, /data: \d+ bytes as JSON, at most 20 are allowed/],
        [{ userId: 'a', type: 't', extra: 1 }, /unknown field 'extra'/],
        [{ userId: 'a', type: 't', idempotencyKey: '' }, /idempotencyKey: expected a string of 1 to 200 bytes/],
      ];
      for (const [body, pattern] of cases) expectError(await api(server, 'POST', ROUTE, { body }), 400, 'INVALID', pattern);
      expectError(await api(server, 'GET', ROUTE), 400, 'INVALID', /userId: is required/);
      expectError(await api(server, 'GET', `${ROUTE}?userId=a&limit=0`), 400, 'INVALID', /limit: expected a positive integer/);
      expectError(await api(server, 'GET', `${ROUTE}?userId=a&unreadOnly=yes`), 400, 'INVALID', /unreadOnly: expected true or false/);
      expectError(await api(server, 'GET', `${ROUTE}?userId=a&color=red`), 400, 'INVALID', /unknown query parameter 'color'/);
      for (const user of ['a', 'b']) assert.equal((await tab(server, user)).unread, 0, 'no refused call stored anything');

      const { socket } = await tab(server, 'a');
      for (const [payload, pattern] of [
        [{ ids: 'x' }, /ids is not an array/],
        [{ ids: [1, -2] }, /ids\[1\] is not a positive integer id/],
        [{}, /ids is missing/],
      ]) {
        const res = await answer(socket, 'notification:mark_read', payload);
        assert.equal(res.error.code, 'INVALID');
        assert.match(res.error.message, pattern);
      }
      await server.stop();
    });

    test(`[${backend}] notifications: retention_count bounds what a user keeps, and the unread count with it`, { timeout: 60000 }, async () => {
      const server = await startCollabServer({ backend, notifications: { retention_count: 3, trim_interval: '100ms' } });
      const ids = [];
      for (let i = 0; i < 5; i += 1) ids.push((await notify(server, { userId: 'oli', type: `r${i}` }))[0].id);
      const { socket, unread } = await tab(server, 'oli');
      assert.equal(unread, 3);
      const list = await ok(socket, 'notification:list', { limit: 10 });
      assert.deepEqual(list.notifications.map((n) => n.id), ids.slice(2).reverse());
      assert.equal(list.unread, 3);
      await server.stop();
    });

    test(`[${backend}] notifications: after a reload the route is served and sockets connected before it keep working`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend, config: { admin: { token: ADMIN_TOKEN } } });
      const { socket } = await tab(server, 'noa');
      const [old] = await notify(server, { userId: 'noa', type: 'before' });
      const res = await reload(server, { modules: { notifications: { config: { max_type_length: 6 } } } });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      expectError(await api(server, 'POST', ROUTE, { body: { userId: 'noa', type: 'too-long' } }), 400, 'INVALID', /type: longer than 6 bytes/);
      const [fresh] = await notify(server, { userId: 'noa', type: 'after' });
      const [live] = await socket.inbox.take('notification:new', { filter: (n) => n.id === fresh.id });
      assert.equal(live.type, 'after');
      assert.deepEqual(await ok(socket, 'notification:mark_read', { ids: [old.id] }), { ok: true, ids: [old.id], unread: 1 });
      assert.equal((await tab(server, 'noa')).unread, 1);
      await server.stop();
    });

    test(`[${backend}] notifications durability: a created notification survives kill -9 and a restart`, { timeout: 90000 }, async () => {
      const server = await startCollabServer({ backend });
      const [n] = await notify(server, { userId: 'jay', type: 'invoice', data: { total: 12 } });
      await notify(server, { userId: 'kim', type: 'other' });
      const kim = await tab(server, 'kim');
      await ok(kim.socket, 'notification:mark_all_read', {});
      await server.kill9();
      const again = await restart(server);
      const jay = await tab(again, 'jay');
      assert.equal(jay.unread, 1);
      const list = await ok(jay.socket, 'notification:list', {});
      assert.deepEqual(list.notifications, [{ id: n.id, ts: n.ts, read: false, type: 'invoice', data: { total: 12 } }]);
      assert.equal((await tab(again, 'kim')).unread, 0, 'the read state survived too');
      await again.stop();
    });
  }
}
