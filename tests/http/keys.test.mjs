// The admin API over HTTP: ADMIN_TOKEN guarding, create (the key works at once, only its
// hash is stored), list without secrets, update of quota and status, revoke (fails at once,
// and for good). The Worker counts its storage calls, so the key cache is checked by what
// reaches KV: a key read less than 30 s ago is not read again by uploads, a key changed
// through the admin API is.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { useStack, startWorker, upload, api, get, request, hashKey, KEYS } from './support/worker.mjs';
import { TYPES } from './support/fixtures.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { sleep, listPages, localStoreBusy } from './support/burst.mjs';

const ADMIN = 'test-admin-token-0123456789';
const KEY_CACHE_MS = 30_000;
let origin;
let worker;
useStack({ adminToken: ADMIN, counting: true, vars: { DEFAULT_MAX_BYTES: '5000000', DEFAULT_MAX_FILES: '50' } }, (s) => ({ origin, worker } = s));

const admin = (method, p, body) => api(worker, method, p, { token: ADMIN, body });
const create = (body) => admin('POST', '/api/v1/admin/keys', body);
/** Every key the admin listing shows, `limit` a page; the listing must end within 50 pages. */
const listedKeys = async (limit) => (await listPages(worker, ADMIN, '/api/v1/admin/keys', 'keys', {}, { limit, maxPages: 50 })).items;

/** Whether any file under the Worker's state directory (KV, R2, every Durable Object's
 * SQLite) holds `text`. */
function storedAnywhere(text) {
  const needle = Buffer.from(text);
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).some((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() && fs.readFileSync(p).includes(needle);
  });
  return walk(worker.stateDir);
}

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

/** A HEAD of `url` over a connection of its own, closed after it: every byte the server sent. */
function rawHead(url, headers = {}) {
  const { hostname, port, pathname, search } = new URL(url);
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`HEAD ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n${lines}\r\n`);
    });
    let text = '';
    socket.setEncoding('latin1').on('data', (c) => { text += c; }).on('end', () => resolve(text)).on('error', reject);
    socket.setTimeout(30_000, () => reject(new Error('no answer within 30 s')));
  });
}

/** Runs the wrangler CLI's local KV command `args` against `dir` (the Worker's state by
 * default) and returns what it printed; made again, a moment later, when it met the
 * Worker's runtime writing the same store (at most four more times: each command here
 * reads, or writes or deletes the same entry again). */
function kv(args, dir = worker.stateDir) {
  const local = ['--local', '--persist-to', dir, '--binding', 'API_KEYS'];
  for (let attempt = 1; ; attempt += 1) {
    try {
      return execFileSync(path.join(ROOT, 'node_modules/.bin/wrangler'), ['kv', 'key', ...args, ...local], { cwd: ROOT }).toString();
    } catch (err) {
      if (attempt === 5 || !localStoreBusy(err)) throw err;
      console.error(`# wrangler kv key ${args[0]}: the local store was busy; running it again`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250 * attempt);
    }
  }
}

/** The local KV entries' names. */
const kvKeys = () => JSON.parse(kv(['list'])).map((k) => k.name);
const kvPut = (name, value) => kv(['put', name, value]);
const kvDelete = (name) => kv(['delete', name]);

describe('admin token', () => {
  for (const [label, token, fragment] of [
    ['missing', null, /missing or malformed admin token/],
    ['wrong', 'not-the-token', /invalid admin token/],
    ['an API key', KEYS.a.key, /invalid admin token/],
  ]) {
    test(`${label} admin token is 401 with WWW-Authenticate`, async () => {
      const res = await api(worker, 'GET', '/api/v1/admin/keys', { token });
      assertError(res, 401, fragment);
      assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    });
  }

  test('every admin route refuses a missing, wrong or API-key token (401) and changes nothing', async () => {
    // a key's record, its file and the blocklist are what the refused calls would have
    // changed, and the keys listed (a key created)
    const made = await create({ name: 'guarded' });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    const { key, key_id: id } = made.json.data;
    const file = await upload(worker, { file_url: origin.file('/guarded.png', TYPES.png.bytes), upload_path: 'guarded' }, { key });
    assert.equal(file.status, 200, JSON.stringify(file.json));
    const { file_id: fileId, sha256 } = file.json.data;
    const state = async () => {
      const [record, files, blocked] = await Promise.all([
        admin('GET', `/api/v1/admin/keys/${id}`),
        api(worker, 'GET', '/api/v1/files', { token: key }),
        admin('GET', `/api/v1/admin/blocklist/${sha256}`),
      ]);
      const names = (await listedKeys(100)).map((k) => k.name).sort();
      return { key: [record.status, record.json.data], files: [files.status, files.json.data], blocked: blocked.status, names };
    };
    const before = await state();
    assert.equal(before.key[0], 200);
    assert.equal(before.blocked, 404);
    const routes = [
      ['GET', '/api/v1/admin/keys'],
      ['POST', '/api/v1/admin/keys', { name: 'intruder', max_bytes: 1 }],
      ['GET', `/api/v1/admin/keys/${id}`],
      ['PATCH', `/api/v1/admin/keys/${id}`, { disabled: true, max_files: 1 }],
      ['DELETE', `/api/v1/admin/keys/${id}`],
      ['POST', `/api/v1/admin/keys/${id}/webhook-secret`],
      ['DELETE', `/api/v1/admin/keys/${id}/files`],
      ['POST', '/api/v1/admin/takedown', { file_id: fileId }],
      ['GET', '/api/v1/admin/blocklist'],
      ['GET', `/api/v1/admin/blocklist/${sha256}`],
      ['PUT', `/api/v1/admin/blocklist/${sha256}`, { reason: 'not yours to block' }],
      ['DELETE', `/api/v1/admin/blocklist/${sha256}`],
    ];
    for (const [method, route, body] of routes) {
      for (const [token, fragment] of [[null, /missing or malformed admin token/], ['not-the-token', /invalid admin token/], [key, /invalid admin token/]]) {
        const res = await api(worker, method, route, { token, body });
        assertError(res, 401, fragment);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, `${method} ${route}`);
      }
    }
    assert.deepEqual(await state(), before, 'the key, its files and the blocklist as before');
    assert.equal((await get(file.json.data.download_url)).status, 200, 'its file still served');
  });

  test('without the ADMIN_TOKEN secret the admin API is disabled (503)', async () => {
    const bare = await startWorker({});
    try {
      const res = await api(bare, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'x' } });
      assertError(res, 503, /admin API is disabled: the ADMIN_TOKEN secret is not set \(or is shorter than 16 bytes\)$/);
    } finally {
      await bare.stop();
    }
  });
});

describe('keys', () => {
  // KV takes one write per second to a key and answers a faster one 429: an admin script
  // that creates a key and sets its quota at once hits that.
  const RATE_LIMITED = 'KV PUT failed: 429 Too Many Requests';
  test('create answers the key once; KV keeps only its hash; the key uploads at once', async () => {
    const res = await create({ name: 'alice', max_bytes: 123456, max_files: 7 });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const d = res.json.data;
    assert.equal(res.json.success, true);
    assert.match(d.key, /^us_[A-Za-z0-9_-]{43}$/);
    assert.match(d.key_id, /^k_[0-9a-f]{24}$/);
    assert.equal(d.name, 'alice');
    assert.equal(d.max_bytes, 123456);
    assert.equal(d.max_files, 7);
    assert.ok(!Number.isNaN(Date.parse(d.created)));
    const names = kvKeys();
    assert.ok(names.includes(hashKey(d.key)), 'the hash is the lookup key');
    assert.ok(names.includes(`id:${d.key_id}`));
    assert.ok(!names.some((n) => n.includes(d.key)), 'the plaintext is no KV name');

    const up = await upload(worker, { file_url: origin.file('/alice.png', TYPES.png.bytes) }, { key: d.key });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    assert.ok(up.json.data.file_url.includes(`/f/${d.key_id}/`));
    const usage = await api(worker, 'GET', '/api/v1/usage', { token: d.key });
    assert.equal(usage.status, 200);
    assert.deepEqual(
      { ...usage.json.data },
      { key_id: d.key_id, name: 'alice', bytes: TYPES.png.bytes.length, files: 1, reserved_bytes: 0, reserved_files: 0, max_bytes: 123456, max_files: 7 },
    );
    // after creating it and using it: no file of the local state (KV, R2, the authorities'
    // SQLite) holds the plaintext; its hash is the KV lookup key
    assert.equal(storedAnywhere(d.key), false, 'the plaintext is stored nowhere');
    assert.equal(storedAnywhere(hashKey(d.key)), true, 'the search sees the stored hash');
  });

  test('two creates give two different keys', async () => {
    const [a, b] = await Promise.all([create({ name: 'one' }), create({ name: 'two' })]);
    assert.notEqual(a.json.data.key, b.json.data.key);
    assert.notEqual(a.json.data.key_id, b.json.data.key_id);
    assert.equal(a.json.data.max_bytes, 5000000, 'the [vars] default');
    assert.equal(a.json.data.max_bytes_default, true);
  });

  for (const [label, body, fragment] of [
    ['no name', {}, /missing required field `name`/],
    ['negative quota', { name: 'x', max_bytes: -1 }, /invalid `max_bytes`/],
    ['unknown field', { name: 'x', admin: true }, /unknown field `admin`/],
    // shown in the Keys view and usage answers: nothing that reorders or hides text there
    ['a bidi override in the name', { name: 'admin\u202Egnp.exe' }, /^invalid `name`: .*no control, invisible or bidirectional characters$/],
    ['a zero-width space for a name', { name: '\u200B' }, /^invalid `name`: /],
    ['a Hangul filler for a name', { name: '\u3164' }, /^invalid `name`: .*invisible/],
    ['a selector that shapes nothing', { name: 'ops\uFE0F' }, /^invalid `name`: .*invisible/],
    ['not JSON', '{', /not valid JSON/],
    // found by schemathesis: a quota past 2^53 - 1 reached the quota store as a float (500)
    ['a quota past 2^53 - 1', '{"name":"x","max_files":37771658315661304}', /invalid `max_files`/],
  ]) {
    test(`create with ${label} is 400`, async () => {
      assertError(await create(body), 400, fragment);
    });
  }

  test('list pages through keys and never shows a key or hash', async () => {
    const made = [];
    for (const n of ['l1', 'l2', 'l3']) made.push((await create({ name: n })).json.data);
    const seen = await listedKeys(2);
    for (const m of made) {
      const k = seen.find((s) => s.key_id === m.key_id);
      assert.ok(k, `listed ${m.name}`);
      assert.equal(k.name, m.name);
    }
    const text = JSON.stringify(seen);
    for (const m of made) {
      assert.ok(!text.includes(m.key) && !text.includes(hashKey(m.key)));
    }
    assert.ok(!seen.some((k) => 'key' in k));
    assertError(await admin('GET', '/api/v1/admin/keys?limit=0'), 400, /invalid `limit`/);
    assertError(await admin('GET', '/api/v1/admin/keys?limit=1&limit=2'), 400, /^invalid `limit`: given more than once$/);
    // An empty limit (a form left blank) is the default page, as for the file list.
    const blank = await admin('GET', '/api/v1/admin/keys?limit=&cursor=');
    assert.equal(blank.status, 200, JSON.stringify(blank.json));
    assert.ok(blank.json.data.keys.length >= made.length && blank.json.data.keys.length <= 50);
    // A cursor this listing never gave (made up, or cut short) is the caller's 400, not an
    // empty "last page".
    assertError(await admin('GET', '/api/v1/admin/keys?cursor=not-a-cursor'), 400, /^invalid `cursor`: not a cursor from this listing$/);
    const given = (await admin('GET', '/api/v1/admin/keys?limit=1')).json.data.cursor;
    assert.ok(given, 'more than one key: a next page');
    assertError(await admin('GET', `/api/v1/admin/keys?limit=1&cursor=${given.slice(0, -2)}`), 400, /invalid `cursor`/);
  });

  test('PATCH changes quota, name and status; null goes back to the default', async () => {
    const k = (await create({ name: 'bob', max_files: 1 })).json.data;
    const first = await upload(worker, { file_url: origin.file('/b1.png', TYPES.png.bytes), file_name: 'b1.png' }, { key: k.key });
    assert.equal(first.status, 200);
    const full = await upload(worker, { file_url: origin.file('/b2.png', TYPES.png.bytes), file_name: 'b2.png' }, { key: k.key });
    assertError(full, 429, /1 of 1 files/);

    const patched = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { max_files: 2, name: 'bobby' });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    assert.equal(patched.json.data.max_files, 2);
    assert.equal(patched.json.data.name, 'bobby');
    const again = await upload(worker, { file_url: origin.file('/b2.png', TYPES.png.bytes), file_name: 'b2.png' }, { key: k.key });
    assert.equal(again.status, 200, 'the raised quota holds at once');

    const reset = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { max_files: null });
    assert.equal(reset.json.data.max_files, 50);
    assert.equal(reset.json.data.max_files_default, true);
    const shown = await admin('GET', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(shown.json.data.name, 'bobby');

    const off = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: true });
    assert.equal(off.json.data.disabled, true);
    const refused = await upload(worker, { file_url: origin.file('/b3.png', TYPES.png.bytes) }, { key: k.key });
    assertError(refused, 401, /disabled/);
    await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: false });
    const back = await upload(worker, { file_url: origin.file('/b4.png', TYPES.png.bytes) }, { key: k.key });
    assert.equal(back.status, 200);

    assertError(await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, {}), 400, /^nothing to update: the body sets none of name, /);
    assertError(await admin('PATCH', '/api/v1/admin/keys/k_nosuchkey', { name: 'x' }), 404, /no such API key/);
  });

  test('DELETE revokes: the key fails at once, everywhere it is used', async () => {
    const k = (await create({ name: 'carol' })).json.data;
    const up = await upload(worker, { file_url: origin.file('/c.png', TYPES.png.bytes) }, { key: k.key });
    assert.equal(up.status, 200);
    const del = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(del.status, 200, JSON.stringify(del.json));
    assert.deepEqual(del.json.data, { key_id: k.key_id, revoked: true });
    assertError(await upload(worker, { file_url: origin.file('/c2.png', TYPES.png.bytes) }, { key: k.key }), 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/usage', { token: k.key }), 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/files', { token: k.key }), 401, /invalid API key/);
    assertError(await admin('GET', `/api/v1/admin/keys/${k.key_id}`), 404, /no such API key/);
    assertError(await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`), 404, /no such API key/);
    assert.ok(!kvKeys().includes(hashKey(k.key)));
  });

  test('revoke, then PATCH: 404, and the key stays revoked', async () => {
    const k = (await create({ name: 'final' })).json.data;
    assert.equal((await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`)).status, 200);
    for (const body of [{ disabled: false }, { name: 'back', max_files: 10 }]) {
      assertError(await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, body), 404, /no such API key/);
    }
    assertError(await admin('GET', `/api/v1/admin/keys/${k.key_id}`), 404, /no such API key/);
    assertError(await upload(worker, { file_url: origin.file('/final.png', TYPES.png.bytes) }, { key: k.key }), 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/usage', { token: k.key }), 401, /invalid API key/);
    const listed = await admin('GET', '/api/v1/admin/keys?limit=100');
    assert.ok(!listed.json.data.keys.some((x) => x.key_id === k.key_id), 'not listed');
  });

  test('a revoked key stays refused even where KV still has its record', async () => {
    const k = (await create({ name: 'dave' })).json.data;
    await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    // another location's KV cache, still holding the record: put it back
    kvPut(hashKey(k.key), JSON.stringify({ id: k.key_id, name: 'dave', created: k.created, disabled: false }));
    assert.ok(kvKeys().includes(hashKey(k.key)), 'KV authenticates the key again');
    // the key's authority refuses every op of a revoked key
    const mark = worker.r2();
    const up = await upload(worker, { file_url: origin.file('/d.png', TYPES.png.bytes) }, { key: k.key });
    assertError(up, 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/usage', { token: k.key }), 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/files', { token: k.key }), 401, /invalid API key/);
    assertNothingStored(worker, mark);
    // a revoke whose KV deletes failed left both entries: revoking again deletes them
    kvPut(`id:${k.key_id}`, hashKey(k.key));
    const again = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.deepEqual(again.json.data, { key_id: k.key_id, revoked: true });
    assert.ok(!kvKeys().includes(hashKey(k.key)) && !kvKeys().includes(`id:${k.key_id}`), 'both entries gone');
    assertError(await upload(worker, { file_url: origin.file('/d2.png', TYPES.png.bytes) }, { key: k.key }), 401, /invalid API key/);
    // one whose second delete failed left the id entry alone (still listed): revoking again
    // deletes it too
    kvPut(`id:${k.key_id}`, hashKey(k.key));
    const third = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(third.status, 200, JSON.stringify(third.json));
    assert.ok(!kvKeys().includes(`id:${k.key_id}`), 'the id entry gone');
    assertError(await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`), 404, /no such API key/);
  });

  test('a change whose KV write lands after a later change\'s: KV ends with the authority\'s state', async () => {
    const k = (await create({ name: 'racing' })).json.data;
    // The rename's KV write is refused for its rate and tried again 1.1 s later, that try
    // held; the disable, sent meanwhile, reaches the authority after the rename and KV
    // before it; then the held write goes.
    await worker.failKvPuts([RATE_LIMITED, 'hold']);
    const renamed = admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { name: 'racing-renamed' });
    // the disable goes once the rename's retry is held (not after a fixed wait)
    for (let i = 0; (await worker.kvPutFaults()).held === 0; i++) {
      assert.ok(i < 500, 'the rename met its refused KV write and tried it again within 10 s');
      await sleep(20);
    }
    const disabled = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.json));
    await worker.releaseKvPuts();
    const rename = await renamed;
    assert.equal(rename.status, 200, JSON.stringify(rename.json));
    assert.deepEqual([rename.json.data.name, rename.json.data.disabled], ['racing-renamed', true], 'the rename answers the state it saved');
    const shown = await admin('GET', `/api/v1/admin/keys/${k.key_id}`);
    assert.deepEqual([shown.json.data.name, shown.json.data.disabled], ['racing-renamed', true]);
    const record = JSON.parse(kv(['get', hashKey(k.key)]));
    assert.deepEqual([record.name, record.disabled], ['racing-renamed', true], 'KV holds the authority\'s state, not either change\'s own');
    assertError(await api(worker, 'GET', '/api/v1/files', { token: k.key }), 401, /^API key is disabled$/);
  });

  test('a PATCH racing a revoke never puts the key back in KV, even when its last KV write fails', async () => {
    const k = (await create({ name: 'undone' })).json.data;
    // The PATCH's first KV write is refused for its rate and tried again 1.1 s later, that
    // try held; the revoke lands meanwhile and deletes both entries; the PATCH's retry
    // writes one back, and its next write fails.
    await worker.failKvPuts([RATE_LIMITED, 'hold', 'KV PUT failed: 500 Internal Server Error']);
    const patched = admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { name: 'undone-renamed' });
    for (let i = 0; (await worker.kvPutFaults()).held === 0; i++) {
      assert.ok(i < 500, 'the PATCH tried its refused KV write again within 10 s');
      await sleep(20);
    }
    const revoked = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.deepEqual(await worker.kvPutFaults(), { queued: 1, held: 1 }, 'the revoke ran while the PATCH waited to write again');
    await worker.releaseKvPuts();
    assertError(await patched, 404, /no such API key/);
    assert.equal(await worker.failKvPuts([]), 0, 'the PATCH made both writes');
    const left = kvKeys();
    assert.ok(!left.includes(hashKey(k.key)) && !left.includes(`id:${k.key_id}`), 'neither entry left in KV');
    // the job routes authenticate against KV alone: the key is refused there too
    assertError(await api(worker, 'GET', `/api/v1/jobs/job_${'0'.repeat(32)}`, { token: k.key }), 401, /invalid API key/);
    const listed = await admin('GET', '/api/v1/admin/keys?limit=100');
    assert.ok(!listed.json.data.keys.some((x) => x.key_id === k.key_id), 'not listed');
  });

  test('a KV write refused for its rate is tried again, twice at most; other KV failures are not', async () => {
    await worker.failKvPuts([RATE_LIMITED, RATE_LIMITED]);
    const { calls, result: created } = await worker.countCalls(() => create({ name: 'retried' }));
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal(calls.kv.put, 4, 'the id entry written on its third try, then the record');
    assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: created.json.data.key })).status, 200, 'the key works');
    const patched = await admin('PATCH', `/api/v1/admin/keys/${created.json.data.key_id}`, { name: 'retried-again' });
    assert.equal(patched.status, 200);

    await worker.failKvPuts([RATE_LIMITED, RATE_LIMITED, RATE_LIMITED]);
    const { calls: exhausted, result: refused } = await worker.countCalls(() => create({ name: 'given-up' }));
    assertError(refused, 500, /^internal error$/);
    assert.equal(exhausted.kv.put, 3, 'three tries, then the 500');

    await worker.failKvPuts(['KV PUT failed: 500 Internal Server Error']);
    const { calls: once, result: failed } = await worker.countCalls(() => create({ name: 'not-retried' }));
    assertError(failed, 500, /^internal error$/);
    assert.equal(once.kv.put, 1, 'no retry for another failure');
  });

  test('a create whose second KV write fails leaves no half-made key behind', async () => {
    const before = kvKeys().sort();
    // the `id:` entry is written, the record's write fails
    await worker.failKvPuts([null, 'KV PUT failed: 500 Internal Server Error']);
    const { calls, result } = await worker.countCalls(() => create({ name: 'half-made' }));
    assertError(result, 500, /^internal error$/);
    assert.equal(calls.kv.put, 2, 'both writes tried');
    assert.deepEqual(kvKeys().sort(), before, 'KV holds no entry of it');
    const names = (await listedKeys(100)).map((x) => x.name);
    assert.ok(names.length > 0 && !names.includes('half-made'), 'not listed');
  });

  test('a query parameter a route does not take is 400 naming it, before anything is done', async () => {
    const k = (await create({ name: 'queried' })).json.data;
    const up = await upload(worker, { file_url: origin.file('/queried.png', TYPES.png.bytes) }, { key: k.key });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    for (const [method, path, token] of [
      ['GET', '/api/v1/usage?nonsense=1', k.key],
      ['GET', '/api/v1/jobs?limit=5', k.key],
      ['DELETE', `/api/v1/files/${up.json.data.file_id}?dry_run=1`, k.key],
      ['DELETE', `/api/v1/admin/keys/${k.key_id}?dry_run=1`, ADMIN],
    ]) {
      const name = path.split('?')[1].split('=')[0];
      assertError(await api(worker, method, path, { token }), 400, new RegExp(`^unknown query parameter \`${name}\` \\(this route takes none\\)$`));
    }
    assert.equal((await api(worker, 'GET', `/api/v1/files/${up.json.data.file_id}`, { token: k.key })).status, 200, 'the file was not deleted');
    assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: k.key })).status, 200, 'the key was not revoked');
    // the routes that take any: the file links (a page may add its own), health, the API description
    assert.equal((await get(`${up.json.data.download_url}?from=page`)).status, 200);
    assert.equal((await get(`${up.json.data.file_url}?v=2`)).status, 200);
    assert.equal((await api(worker, 'GET', '/api/v1/health?probe=1')).status, 200);
    assert.equal((await get(`${worker.url}/openapi.json?t=1`)).status, 200);
  });

  test('a body sent to a route that reads none is 400, before anything is done; an empty one is none', async () => {
    const k = (await create({ name: 'bodied' })).json.data;
    const up = await upload(worker, { file_url: origin.file('/bodied.png', TYPES.png.bytes) }, { key: k.key });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    const file = `/api/v1/files/${up.json.data.file_id}`;
    // one file meant, every file of the key at stake
    const chunked = (text) => new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(text)); c.close(); } });
    for (const [method, path, token, body] of [
      ['DELETE', `/api/v1/admin/keys/${k.key_id}/files`, ADMIN, { file_id: up.json.data.file_id }],
      ['DELETE', file, k.key, { permanent: true }],
      ['DELETE', `/api/v1/admin/keys/${k.key_id}`, ADMIN, { reason: 'spam' }],
      ['POST', `/api/v1/admin/keys/${k.key_id}/webhook-secret`, ADMIN, { secret: 'mine' }],
    ]) {
      assertError(await api(worker, method, path, { token, body }), 400, /^this route takes no request body: send it without one$/);
    }
    // without a declared length (chunked), the bytes tell
    const res = await request(`${worker.url}${file}`, { method: 'DELETE', headers: { authorization: `Bearer ${k.key}` }, body: chunked('{}'), duplex: 'half' });
    assertError({ status: res.status, headers: res.headers, json: await res.json() }, 400, /takes no request body/);
    assert.equal((await api(worker, 'GET', file, { token: k.key })).status, 200, 'the file was not deleted');
    assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: k.key })).status, 200, 'the key was not revoked');
    // an empty body, declared (`curl -X DELETE -d ''` sends a form type) or chunked, is none
    const emptied = await request(`${worker.url}/api/v1/admin/keys/${k.key_id}/webhook-secret`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: chunked(''), duplex: 'half' });
    assert.equal(emptied.status, 200, await emptied.text());
    const deleted = await api(worker, 'DELETE', file, { token: k.key, body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
  });

  test('HEAD works wherever GET does: the GET answer\'s status and headers, no body', async () => {
    const k = (await create({ name: 'heads' })).json.data;
    const up = await upload(worker, { file_url: origin.file('/heads.png', TYPES.png.bytes) }, { key: k.key });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    const none = '0'.repeat(32);
    const cases = [
      ['/api/v1/usage', k.key, 200],
      ['/api/v1/usage', null, 401],
      ['/api/v1/files?limit=5', k.key, 200],
      ['/api/v1/files?limit=500', k.key, 400],
      [`/api/v1/files/${up.json.data.file_id}`, k.key, 200],
      [`/api/v1/files/file_${none}`, k.key, 404],
      ['/api/v1/jobs', k.key, 200],
      [`/api/v1/jobs/job_${none}`, k.key, 404],
      ['/api/v1/admin/keys?limit=5', ADMIN, 200],
      [`/api/v1/admin/keys/${k.key_id}`, ADMIN, 200],
      ['/api/v1/admin/keys/k_nosuchkey', ADMIN, 404],
    ];
    for (const [p, token, status] of cases) {
      const headers = token ? { authorization: `Bearer ${token}` } : {};
      const got = await request(`${worker.url}${p}`, { headers });
      await got.arrayBuffer();
      const head = await request(`${worker.url}${p}`, { method: 'HEAD', headers });
      assert.deepEqual([head.status, got.status], [status, status], p);
      for (const name of ['content-type', 'cache-control', 'www-authenticate']) {
        assert.equal(head.headers.get(name), got.headers.get(name), `${p}: ${name}`);
      }
      // every byte on the wire (fetch would drop a HEAD answer's body unseen)
      const wire = await rawHead(`${worker.url}${p}`, headers);
      assert.match(wire, new RegExp(`^HTTP/1\\.1 ${status} `), p);
      assert.equal(wire.slice(wire.indexOf('\r\n\r\n') + 4), '', `${p}: no body`);
    }
  });

  test('routing: wrong methods are 405 with Allow', async () => {
    const res = await admin('PUT', '/api/v1/admin/keys');
    assertError(res, 405, /method not allowed/);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
    const one = await admin('POST', '/api/v1/admin/keys/k_1');
    assert.equal(one.headers.get('allow'), 'GET, HEAD, PATCH, DELETE');
  });
});

describe('the key cache, by what reaches KV', () => {
  const admin = (method, p, body) => api(worker, method, p, { token: ADMIN, body });
  const create = (body) => admin('POST', '/api/v1/admin/keys', body);
  const png = (name) => origin.file(`/cache/${name}`, TYPES.png.bytes);
  /** Reads of `k`'s own record in `calls` (an upload may also read the blocklist's version,
   * when the isolate's copy of it turned 30 s old, whenever that falls). */
  const recordReads = (calls, k) => (calls.kvNames.get[hashKey(k.key)] ?? 0) + (calls.kvNames.getWithMetadata[hashKey(k.key)] ?? 0);
  /** Uploads as `k`; the reads of its record it made, every KV call, and its answer. */
  const counted = async (k, name) => {
    const { calls, result } = await worker.countCalls(() => upload(worker, { file_url: png(name), upload_path: 'cache', file_name: name }, { key: k.key }));
    return { kvReads: recordReads(calls, k), kv: calls.kvNames, res: result };
  };

  test('a second upload within 30 s reads no KV; other routes read KV every time', async () => {
    const k = (await create({ name: 'erin' })).json.data;
    const first = await counted(k, 'e1.png');
    assert.equal(first.res.status, 200, JSON.stringify(first.res.json));
    assert.ok(first.kvReads >= 1, `the first upload reads the key from KV: ${JSON.stringify(first.kv)}`);
    const second = await counted(k, 'e2.png');
    assert.equal(second.res.status, 200, JSON.stringify(second.res.json));
    assert.equal(second.kvReads, 0, `the second one, moments later, does not: ${JSON.stringify(second.kv)}`);
    const { calls } = await worker.countCalls(() => api(worker, 'GET', '/api/v1/files', { token: k.key }));
    assert.ok(recordReads(calls, k) >= 1, 'the listing reads KV');

    // The record leaves KV behind the admin API's back: the listing sees it at once, the
    // upload route keeps its cached copy (the key's authority still knows the key).
    kvDelete(hashKey(k.key));
    assertError(await api(worker, 'GET', '/api/v1/files', { token: k.key }), 401, /invalid API key/);
    const cached = await counted(k, 'e3.png');
    assert.equal(cached.res.status, 200, 'the upload route still knows the key (read less than 30 s ago)');
    assert.equal(cached.kvReads, 0);
    assert.ok(cached.res.json.data.file_url.includes(`/f/${k.key_id}/`));
  });

  test('after an admin PATCH the next upload reads the key from KV again', async () => {
    const k = (await create({ name: 'frank', max_files: 5 })).json.data;
    assert.equal((await counted(k, 'f1.png')).res.status, 200);
    assert.equal((await counted(k, 'f2.png')).kvReads, 0, 'cached');
    const patched = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { name: 'frankie' });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    const next = await counted(k, 'f3.png');
    assert.equal(next.res.status, 200, JSON.stringify(next.res.json));
    assert.ok(next.kvReads >= 1, `the PATCH dropped the cached record: ${JSON.stringify(next.kv)}`);
    assert.equal((await counted(k, 'f4.png')).kvReads, 0, 'and it is cached again');

    await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: true });
    assertError((await counted(k, 'f5.png')).res, 401, /disabled/);
  });

  test('after a revoke the next upload is refused at once', async () => {
    const k = (await create({ name: 'gina' })).json.data;
    assert.equal((await counted(k, 'g1.png')).res.status, 200);
    assert.equal((await counted(k, 'g2.png')).kvReads, 0, 'cached');
    assert.equal((await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`)).status, 200);
    const mark = worker.r2();
    const next = await counted(k, 'g3.png');
    assertError(next.res, 401, /invalid API key/);
    assertNothingStored(worker, mark);
    // refused by the key's record, read afresh: the revoke dropped the cached one, so the
    // file was never fetched (a cached record would fetch and store it, then be refused by
    // the key's authority at the commit)
    assert.ok(next.kvReads >= 1, `read from KV: ${JSON.stringify(next.kv)}`);
    assert.equal(origin.hits('/cache/g3.png'), 0, 'nothing fetched');
  });

  test("a disabled key's keyed upload sent again, read from a stale KV record, is refused by its authority before anything is fetched", async () => {
    const k = (await create({ name: 'kate' })).json.data;
    const headers = { 'Idempotency-Key': 'kate-once' };
    const body = { file_url: png('k1.png'), upload_path: 'cache', file_name: 'k1.png' };
    const first = await upload(worker, body, { key: k.key, headers });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const enabled = kv(['get', hashKey(k.key)]);
    assert.equal((await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: true })).status, 200);
    // KV elsewhere still holds the record from before the disable
    kvPut(hashKey(k.key), enabled);
    const hits = origin.hits('/cache/k1.png');
    assertError(await upload(worker, body, { key: k.key, headers }), 401, /disabled/);
    assert.equal(origin.hits('/cache/k1.png'), hits, 'nothing fetched');
    assert.equal((await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: false })).status, 200);
    const again = await upload(worker, body, { key: k.key, headers });
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.equal(again.json.data.file_id, first.json.data.file_id, 'enabled again: the file it stored');
  });

  test('a revoke made here while an upload reads the key from KV: the record that read brings back is not kept, so the next upload is refused before anything is fetched', async () => {
    const k = (await create({ name: 'jack' })).json.data;
    await worker.holdKvReads([hashKey(k.key)]);
    let first;
    try {
      first = counted(k, 'j1.png');
      for (let i = 0; i < 200 && (await worker.heldKvReads()) === 0; i++) await sleep(25);
      assert.equal(await worker.heldKvReads(), 1, 'the upload waits on its read of the key');
      assert.equal((await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`)).status, 200);
    } finally {
      await worker.holdKvReads([]);
    }
    // it read the key before the revoke: its key's authority refuses it
    assertError((await first).res, 401, /invalid API key/);
    const mark = worker.r2();
    const next = await counted(k, 'j2.png');
    assertError(next.res, 401, /invalid API key/);
    assertNothingStored(worker, mark);
    assert.ok(next.kvReads >= 1, `read from KV: ${JSON.stringify(next.kv)}`);
    assert.equal(origin.hits('/cache/j2.png'), 0, 'nothing fetched');
  });

  test('a key read more than 30 s ago is read from KV again, and no longer used once KV lost it', async () => {
    const [k, gone] = [(await create({ name: 'hank' })).json.data, (await create({ name: 'ivy' })).json.data];
    const readFrom = Date.now(); // the records are read after this
    const firsts = [await counted(k, 'h1.png'), await counted(gone, 'i1.png')];
    const readBy = Date.now(); // the records were read before the first uploads were answered
    assert.deepEqual(firsts.map((f) => f.res.status), [200, 200]);
    assert.equal((await counted(k, 'h2.png')).kvReads, 0, 'cached');
    // ivy's record leaves KV behind the admin API's back (its authority still knows it)
    kvDelete(hashKey(gone.key));
    assert.equal((await counted(gone, 'i2.png')).res.status, 200, 'cached: still used');
    // a bounded wait: until the cached records are more than 30 s old; 25 s on, still cached
    // (a hit does not renew the entry)
    let late = null;
    for (let i = 0; i < 40 && Date.now() <= readBy + KEY_CACHE_MS + 500; i++) {
      await sleep(1_000);
      if (!late && Date.now() >= readFrom + KEY_CACHE_MS - 5_000) late = await counted(k, 'h-late.png');
    }
    assert.equal(late?.kvReads, 0, `25 s after the first read, still cached: ${JSON.stringify(late?.kv)}`);
    const later = await counted(k, 'h3.png');
    assert.equal(later.res.status, 200, JSON.stringify(later.res.json));
    assert.ok(later.kvReads >= 1, `read again: ${JSON.stringify(later.kv)}`);
    const lost = await counted(gone, 'i3.png');
    assertError(lost.res, 401, /invalid API key/);
    assert.ok(lost.kvReads >= 1, `read again: ${JSON.stringify(lost.kv)}`);
  });
});

describe('make dev', () => {
  test('its credentials are random per checkout, kept, and its key record is seeded once', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-dev-'));
    const state = path.join(dir, 'state');
    try {
      const make = (target, vars = []) => execFileSync('make', ['-s', target, `STATE_DIR=${state}`, `DEV_VARS=${dir}/.dev.vars`, ...vars], { cwd: ROOT }).toString();
      const env = () => Object.fromEntries(make('dev-env').trim().split(' ').map((kv) => kv.split('=')));
      const record = (key) => JSON.parse(kv(['get', '--text', hashKey(key)], state));
      const first = env();
      // made on first use: nothing published, nothing shared between checkouts
      assert.match(first.KEY, /^dev_[0-9a-f]{32}$/);
      assert.match(first.ADMIN, /^admin_[0-9a-f]{32}$/);
      assert.match(fs.readFileSync(`${dir}/.dev.vars`, 'utf8'), new RegExp(`^ADMIN_TOKEN=${first.ADMIN}\nLINK_SECRET=[0-9a-f]{32}\n$`));
      assert.deepEqual(record(first.KEY), { id: 'k_dev', name: 'dev', created: '2026-01-01T00:00:00+00:00', disabled: false });
      assert.equal(kv(['get', '--text', 'id:k_dev'], state).trim(), hashKey(first.KEY));
      // renamed and given settings through the admin API, as a user would: kept
      const changed = { ...record(first.KEY), name: 'renamed', rate_limit: 100, max_ttl_secs: 3600 };
      kv(['put', hashKey(first.KEY), JSON.stringify(changed)], state);
      assert.deepEqual(env(), first, 'the same credentials the next time');
      assert.deepEqual(record(first.KEY), changed);
      // a key of one's own replaces the dev key: the old one stops working
      make('seed-dev-key', ['DEV_API_KEY=my-own-dev-key']);
      assert.equal(env().KEY, 'my-own-dev-key');
      assert.equal(kv(['get', '--text', 'id:k_dev'], state).trim(), hashKey('my-own-dev-key'));
      assert.deepEqual(JSON.parse(kv(['list'], state)).map((k) => k.name).sort(), [hashKey('my-own-dev-key'), 'id:k_dev'].sort());
      // revoked (the admin API deletes both entries): not seeded again, and make dev says so
      for (const name of [hashKey('my-own-dev-key'), 'id:k_dev']) kv(['delete', name], state);
      const again = spawnSync('make', ['-s', 'seed-dev-key', `STATE_DIR=${state}`, `DEV_VARS=${dir}/.dev.vars`, 'DEV_API_KEY=my-own-dev-key'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /k_dev was revoked \(final\); to start over: rm -rf /);
      assert.deepEqual(JSON.parse(kv(['list'], state)), [], 'the revoked key stays out of KV');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
