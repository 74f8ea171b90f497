// The blocklist over HTTP: a take-down blocks its file's SHA-256 (unless told not to), and
// no upload stores those bytes again, whichever key, name or path it takes (one stream, a
// batch item, a background job, a file fetched in parallel ranges): 451 in the envelope,
// nothing stored or charged, and the file the name held keeps serving its exact bytes. The admin routes list, show, add and
// remove digests, and each change rewrites the list's version; a digest written into KV by
// another isolate, with the version, applies within the copy's lifetime, and a copy whose
// version has not changed is kept without listing the entries again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, get, request } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { newKey, usage, kvPut, kvRecord, kvNames, sleep, listPages } from './support/burst.mjs';

const ADMIN = 'blocklist-admin-token';
let origin;
let worker;
useStack({ adminToken: ADMIN, counting: true }, (s) => ({ origin, worker } = s));

const admin = (method, path, body, headers) => api(worker, method, path, { token: ADMIN, body, headers });
const BLOCKED = { success: false, code: 451, msg: 'this file is on the blocklist (taken down, or blocked in advance) and may not be stored', data: null };

let seq = 0;
/** A fresh origin URL serving `body` (with `opts`). */
const served = (body, opts) => origin.file(`/b/${++seq}.bin`, body, opts);

/** The keys of the objects in R2 that `key_id` uploaded. */
const objectsOf = (key_id) => worker.r2().objects.filter((o) => o.custom?.owner === key_id).map((o) => o.key).sort();

/** `key` uploads `body` to `fields`' name; answers the response. */
const put = (key, body, fields = {}, opts) => upload(worker, { file_url: served(body, opts), ...fields }, { key: key.key });

/** The KV names of `digest`'s entries, in any case, sorted. */
const namesOf = async (digest) => (await kvNames(worker, 'blocked:')).filter((n) => n.toLowerCase() === `blocked:${digest}`).sort();

/** Puts an entry under each of `shas` (a digest in any case) into KV by hand, as an import
 * would, and a new version; then restarts the runtime, so uploads read the list afresh. */
async function blockByHand(...shas) {
  for (const sha of shas) {
    await kvPut(worker, `blocked:${sha}`, { value: 'blocked', metadata: { sha256: sha, reason: 'imported', blocked_at: new Date().toISOString(), file_id: null, key_id: null } });
  }
  await kvPut(worker, 'blocklist:version', { value: String(Date.now()) });
  await worker.restart();
}

/** `body` (of `digest`), blocked under several names: refused for `key`, listed once, and
 * removed whole by one DELETE, so a fresh isolate stores it again. */
async function assertListedOnceRemovedWhole(key, body, digest) {
  assert.deepEqual((await put(key, body)).json, BLOCKED);
  const listed = (await listBlocked(50)).map((e) => e.sha256);
  assert.equal(listed.filter((d) => d === digest).length, 1, `listed once: ${listed.join()}`);
  assert.equal((await admin('DELETE', `/api/v1/admin/blocklist/${digest}`)).status, 200);
  assert.deepEqual(await namesOf(digest), []);
  await worker.restart();
  const stored = await put(key, body);
  assert.equal(stored.status, 200, JSON.stringify(stored.json));
}

/** Every entry of the blocklist, read `limit` a page (at most 20 pages). */
const listBlocked = async (limit) => (await listPages(worker, ADMIN, '/api/v1/admin/blocklist', 'blocked', {}, { limit, maxPages: 20 })).items;

async function assertServes(url, digest) {
  const res = await get(url);
  assert.equal(res.status, 200, url);
  assert.equal(sha256(res.body), digest, url);
}

test('a taken-down file is refused on every path, by any key, and the name it aimed at keeps its file', async () => {
  const owner = await newKey(worker, ADMIN, 'reported');
  const other = await newKey(worker, ADMIN, 'another');
  const bad = filler(5000, 1);
  const first = await put(owner, bad, { upload_path: 'a', file_name: 'x.bin' });
  assert.equal(first.status, 200);
  const kept = filler(7000, 2);
  const held = await put(other, kept, { upload_path: 'b', file_name: 'y.bin' });
  assert.equal(held.status, 200);

  const taken = await admin('POST', '/api/v1/admin/takedown', { url: first.json.data.file_url, reason: 'phishing page' });
  assert.equal(taken.status, 200, JSON.stringify(taken.json));
  assert.equal(taken.json.msg, 'File taken down');
  assert.deepEqual([taken.json.data.sha256, taken.json.data.blocked], [sha256(bad), true]);

  const before = await usage(worker, other.key);
  // one small body, over the name `other` holds; the refusal names who blocks it (RFC 7725)
  const refused = await put(other, bad, { upload_path: 'b', file_name: 'y.bin' });
  assert.deepEqual([refused.status, refused.json], [451, BLOCKED]);
  assert.equal(refused.headers.get('link'), '</>; rel="blocked-by"');
  assert.match(refused.headers.get('access-control-expose-headers'), /\bLink\b/);
  // without a length (one stream), and through a batch beside a file that is fine
  assert.deepEqual((await put(other, bad, {}, { chunked: true })).json, BLOCKED);
  const fine = filler(3000, 3);
  const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: other.key, body: { items: [{ file_url: served(bad) }, { file_url: served(fine) }] } });
  assert.equal(batch.status, 200, JSON.stringify(batch.json));
  assert.deepEqual(batch.json.data.results[0], BLOCKED);
  assert.equal(batch.json.data.results[1].data.sha256, sha256(fine));

  await assertServes(held.json.data.file_url, sha256(kept));
  const after = await usage(worker, other.key);
  assert.deepEqual([after.files, after.bytes, after.reserved_files, after.reserved_bytes], [before.files + 1, before.bytes + 3000, 0, 0], 'only the fine file is charged');
  assert.deepEqual(objectsOf(other.key_id), [`o/${batch.json.data.results[1].data.file_id}`, `o/${held.json.data.file_id}`].sort(), 'nothing else stored');
  assert.deepEqual(objectsOf(owner.key_id), []);

  // the entry records where it came from
  const shown = await admin('GET', `/api/v1/admin/blocklist/${sha256(bad).toUpperCase()}`);
  assert.equal(shown.status, 200, JSON.stringify(shown.json));
  assert.deepEqual({ ...shown.json.data, blocked_at: null }, { sha256: sha256(bad), reason: 'phishing page', blocked_at: null, file_id: first.json.data.file_id, key_id: owner.key_id });
  assert.ok(Math.abs(Date.parse(shown.json.data.blocked_at) - Date.now()) < 60_000, shown.json.data.blocked_at);

  // unblocked, the bytes are stored again
  const removed = await admin('DELETE', `/api/v1/admin/blocklist/${sha256(bad)}`);
  assert.deepEqual([removed.status, removed.json.msg, removed.json.data.sha256], [200, 'Digest unblocked', sha256(bad)]);
  assertError(await admin('GET', `/api/v1/admin/blocklist/${sha256(bad)}`), 404, /^this digest is not blocked$/);
  const again = await put(other, bad, { upload_path: 'b', file_name: 'y.bin' });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  await assertServes(again.json.data.file_url, sha256(bad));
});

test('a large file and a background job are refused too, their reservations given back', async () => {
  const key = await newKey(worker, ADMIN, 'large');
  const large = filler(3 * 1024 * 1024 + 5, 4);
  const blocked = await admin('PUT', `/api/v1/admin/blocklist/${sha256(large)}`, { reason: 'known bad' });
  assert.deepEqual([blocked.status, blocked.json.data.reason, blocked.json.data.file_id], [200, 'known bad', null]);
  assert.deepEqual((await put(key, large)).json, BLOCKED);
  assert.deepEqual((await put(key, large, {}, { chunked: true })).json, BLOCKED);
  const job = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key.key, body: { file_url: served(large), async: true } });
  assert.equal(job.status, 202, JSON.stringify(job.json));
  let status;
  for (let i = 0; i < 600; i++) {
    status = (await api(worker, 'GET', `/api/v1/jobs/${job.json.data.job_id}`, { token: key.key })).json.data;
    if (['succeeded', 'failed', 'canceled'].includes(status.state)) break;
    await sleep(200);
  }
  assert.equal(status.state, 'failed', JSON.stringify(status));
  assert.deepEqual(status.error, { code: 451, msg: BLOCKED.msg });
  const left = await usage(worker, key.key);
  assert.deepEqual([left.files, left.bytes, left.reserved_files, left.reserved_bytes], [0, 0, 0, 0]);
  assert.deepEqual(objectsOf(key.key_id), []);
});

test('a file fetched in parallel ranges is refused at its commit: the completed multipart object goes, nothing charged', async () => {
  const key = await newKey(worker, ADMIN, 'parallel');
  const huge = filler(20 * 1024 * 1024 + 7, 5);
  const blocked = await admin('PUT', `/api/v1/admin/blocklist/${sha256(huge)}`, { reason: 'known bad' });
  assert.equal(blocked.status, 200, JSON.stringify(blocked.json));
  const mark = worker.r2();
  // 32 MiB/s per connection: slower than one stream's budget, so ranges over several connections
  const { calls, result } = await worker.countCalls(() => put(key, huge, {}, { ranges: true, etag: '"huge"', throttle: 32 * 1024 * 1024 }));
  assert.deepEqual(result.json, BLOCKED);
  assert.equal(calls.parts.length, 1, `it went the parallel way, as one multipart upload: ${JSON.stringify(calls.parts)}`);
  assert.ok(calls.parts[0].length > 1, 'in several parts');
  assertNothingStored(worker, mark, 'no object added, none removed, no multipart upload in progress');
  const left = await usage(worker, key.key);
  assert.deepEqual([left.files, left.bytes, left.reserved_files, left.reserved_bytes], [0, 0, 0, 0]);
});

test('a take-down told not to block leaves the bytes free to be stored again', async () => {
  const key = await newKey(worker, ADMIN, 'mistake');
  const body = filler(2000, 5);
  const first = await put(key, body);
  const taken = await admin('POST', '/api/v1/admin/takedown', { file_id: first.json.data.file_id, block: false });
  assert.deepEqual([taken.status, taken.json.data.blocked], [200, false]);
  assertError(await admin('GET', `/api/v1/admin/blocklist/${sha256(body)}`), 404, /not blocked/);
  assert.equal((await put(key, body)).status, 200);
});

test('a block that fails leaves the file taken down and says so; an entry put into KV by other means is shown and removable', async () => {
  const key = await newKey(worker, ADMIN, 'faults');
  const body = filler(2500, 10);
  const first = await put(key, body);
  await worker.failKvPuts(['KV PUT failed: 500 Internal Server Error']);
  const taken = await admin('POST', '/api/v1/admin/takedown', { file_id: first.json.data.file_id });
  assert.equal(taken.status, 200, JSON.stringify(taken.json));
  assert.deepEqual([taken.json.msg, taken.json.data.blocked], ['File taken down; its digest could not be blocked (internal error)', false]);
  assert.equal((await get(first.json.data.download_url)).status, 404, 'the file is gone all the same');
  assert.equal((await put(key, body)).status, 200, 'not blocked');

  // imported with wrangler, a value and no metadata: blocked, listed, shown, removable
  const importedBody = filler(2600, 11);
  const imported = sha256(importedBody);
  await kvPut(worker, `blocked:${imported}`, { value: 'imported' });
  await kvPut(worker, 'blocklist:version', { value: String(Date.now()) });
  await worker.restart();
  assert.deepEqual((await put(key, importedBody)).json, BLOCKED, 'an entry without metadata blocks as any other');
  const bare = { sha256: imported, reason: null, blocked_at: null, file_id: null, key_id: null };
  assert.deepEqual((await admin('GET', `/api/v1/admin/blocklist/${imported}`)).json.data, bare);
  assert.deepEqual((await listBlocked(100)).find((e) => e.sha256 === imported), bare);
  assert.deepEqual((await admin('DELETE', `/api/v1/admin/blocklist/${imported}`)).json.data, bare);
  assertError(await admin('GET', `/api/v1/admin/blocklist/${imported}`), 404, /not blocked/);
  await worker.restart();
  assert.equal((await put(key, importedBody)).status, 200, 'removed: stored again');
});

test('an instance that cannot read the list and never did refuses uploads (503, nothing stored or charged) until it can; once read, its copy serves though KV fails, fresh or stale', async (t) => {
  const key = await newKey(worker, ADMIN, 'unread');
  const bad = filler(2700, 12);
  const held = await put(key, filler(2800, 13), { upload_path: 'u', file_name: 'kept.bin' });
  assert.equal(held.status, 200, JSON.stringify(held.json));
  await blockByHand(sha256(bad)); // restarts: a fresh instance, which never read the list
  await worker.failKvReads(['blocklist:', 'blocked:']);
  t.after(() => worker.failKvReads([]));
  const before = await usage(worker, key.key);
  const mark = worker.r2();
  // the blocked file, over the name a file holds, and a file that is not blocked: both
  // refused, as the list cannot say which is which
  for (const [body, fields] of [[bad, { upload_path: 'u', file_name: 'kept.bin' }], [filler(2900, 14), {}]]) {
    const refused = await put(key, body, fields);
    assert.deepEqual([refused.status, refused.json], [503, { success: false, code: 503, msg: 'the blocklist could not be read: retry in a few seconds', data: null }]);
    assert.equal(refused.headers.get('retry-after'), '5');
  }
  assert.deepEqual(await usage(worker, key.key), before, 'nothing charged');
  assertNothingStored(worker, mark, 'nothing stored');
  // the name keeps its file (the runtime restarted on another port)
  await assertServes(worker.url + new URL(held.json.data.file_url).pathname, sha256(filler(2800, 13)));

  // read at last: the blocked file is refused as such, another stored; and while that copy
  // is fresh (30 s), KV failing again changes nothing
  await worker.failKvReads([]);
  assert.deepEqual((await put(key, bad)).json, BLOCKED);
  const fine = await put(key, filler(3000, 15));
  assert.equal(fine.status, 200, JSON.stringify(fine.json));
  await worker.failKvReads(['blocklist:', 'blocked:']);
  assert.deepEqual((await put(key, bad)).json, BLOCKED);
  assert.equal((await put(key, filler(3100, 16))).status, 200);
  // past the copy's 30 s its read fails, and the copy read before serves on: the blocked
  // file still refused, another still stored
  await sleep(31_000);
  const versionReads = async () => (await worker.counts()).kvNames.get['blocklist:version'] ?? 0;
  const readsBefore = await versionReads();
  assert.deepEqual((await put(key, bad)).json, BLOCKED);
  assert.ok((await versionReads()) > readsBefore, 'the stale copy was read again (and the read failed)');
  assert.equal((await put(key, filler(3200, 17))).status, 200);
});

/** The list's version in KV: the time of its last change, as every isolate reads it. */
const listVersion = async () => Number((await kvRecord(worker, 'blocklist:version')).value);

test('the admin routes: list by pages, block again, refusals; each change of the list writes its version', async () => {
  const digests = [6, 7, 8].map((n) => sha256(filler(100, n)));
  const start = Date.now();
  for (const d of digests) {
    const res = await admin('PUT', `/api/v1/admin/blocklist/${d}`);
    assert.deepEqual([res.status, res.json.data.reason], [200, null], 'no body: no reason');
  }
  const version = await listVersion();
  assert.ok(version >= start - 1000 && version <= Date.now() + 1000, `version ${version}, the blocks made from ${start}`);
  // blocking again keeps the first record, with the new reason, and writes the version too
  // (KV's read of the entry may be a minute old: it may be gone elsewhere)
  const first = (await admin('GET', `/api/v1/admin/blocklist/${digests[0]}`)).json.data;
  const again = await admin('PUT', `/api/v1/admin/blocklist/${digests[0]}`, { reason: 'reported twice' });
  assert.deepEqual(again.json.data, { ...first, reason: 'reported twice' });
  assert.ok((await listVersion()) > version, 'rewritten');
  // no body, or no reason, keeps it; a null reason clears it
  assert.deepEqual((await admin('PUT', `/api/v1/admin/blocklist/${digests[0]}`)).json.data, { ...first, reason: 'reported twice' });
  assert.deepEqual((await admin('PUT', `/api/v1/admin/blocklist/${digests[0]}`, {})).json.data, { ...first, reason: 'reported twice' });
  const kept = await listVersion();
  assert.deepEqual((await admin('PUT', `/api/v1/admin/blocklist/${digests[0]}`, { reason: null })).json.data, { ...first, reason: null });
  assert.ok((await listVersion()) > kept, 'clearing the reason writes it');
  assert.deepEqual((await admin('GET', `/api/v1/admin/blocklist/${digests[0]}`)).json.data, { ...first, reason: null }, 'as stored');
  const seen = (await listBlocked(2)).map((e) => e.sha256);
  // the key list's cursor is not this listing's
  for (const name of ['cursor-1', 'cursor-2']) await newKey(worker, ADMIN, name);
  const keyPage = await admin('GET', '/api/v1/admin/keys?limit=1');
  assert.ok(keyPage.json.data.cursor, 'more keys than one');
  assertError(await admin('GET', `/api/v1/admin/blocklist?cursor=${encodeURIComponent(keyPage.json.data.cursor)}`), 400, /^invalid `cursor`: not a cursor from this listing$/);
  for (const d of digests) assert.ok(seen.includes(d), `${d} listed`);
  assert.deepEqual([...seen].sort(), seen, 'in the order of the digests');
  const head = await request(`${worker.url}/api/v1/admin/blocklist`, { method: 'HEAD', headers: { authorization: `Bearer ${ADMIN}` } });
  assert.deepEqual([head.status, head.headers.get('content-type'), await head.text()], [200, 'application/json; charset=utf-8', '']);

  assertError(await admin('PUT', '/api/v1/admin/blocklist/abc'), 400, /^invalid `sha256`: must be 64 hexadecimal digits/);
  assertError(await admin('PUT', `/api/v1/admin/blocklist/${digests[1]}`, { why: 1 }), 400, /^unknown field `why`$/);
  for (const reason of ['x'.repeat(201), '😀'.repeat(101), 'a\u0001b']) {
    assertError(await admin('PUT', `/api/v1/admin/blocklist/${digests[1]}`, { reason }), 400, /^invalid `reason`: at most 200 characters \(400 bytes in UTF-8\), no control characters$/);
  }
  assertError(await admin('PUT', `/api/v1/admin/blocklist/${digests[1]}`, 'x', { 'content-type': 'text/plain' }), 415, /JSON/);
  assertError(await admin('DELETE', `/api/v1/admin/blocklist/${'0'.repeat(64)}`), 404, /^this digest is not blocked$/);
  assertError(await admin('POST', `/api/v1/admin/blocklist/${digests[1]}`), 405, /allowed: GET, HEAD, PUT, DELETE/);
  assertError(await admin('DELETE', '/api/v1/admin/blocklist'), 405, /allowed: GET, HEAD/);
  assertError(await api(worker, 'PUT', `/api/v1/admin/blocklist/${digests[1]}`), 401, /admin token/);
  assertError(await api(worker, 'GET', '/api/v1/admin/blocklist', { token: 'nope' }), 401, /invalid admin token/);
  for (const d of digests) {
    const blocked = await listVersion();
    assert.equal((await admin('DELETE', `/api/v1/admin/blocklist/${d}`)).status, 200);
    assert.ok((await listVersion()) > blocked, 'unblocking writes it too');
  }
});

test('a digest blocked in KV by another isolate applies here within the copy\'s 30 s; an unchanged list is not listed again', async () => {
  const key = await newKey(worker, ADMIN, 'elsewhere');
  const body = filler(1500, 9);
  assert.equal((await put(key, body)).status, 200, 'this isolate has read the list now');
  const digest = sha256(body);
  // what another isolate's block writes: the entry, then the list's version (its value a
  // time; one long past here, so that only the version's change makes this isolate list)
  await kvPut(worker, `blocked:${digest}`, { value: 'blocked', metadata: { sha256: digest, reason: null, blocked_at: new Date().toISOString(), file_id: null, key_id: null } });
  await kvPut(worker, 'blocklist:version', { value: String(Date.now() - 3_600_000) });
  const written = Date.now();
  let refusedAfter = null;
  for (let i = 0; i < 25 && refusedAfter === null; i++) {
    const res = await put(key, body, { upload_path: 'p', file_name: 'same.bin' });
    if (res.status === 451) refusedAfter = Date.now() - written;
    else {
      assert.equal(res.status, 200, JSON.stringify(res.json));
      await sleep(2000);
    }
  }
  // the copy was read before `written`: 30 s, plus one 2 s pause and one upload of the polling
  assert.ok(refusedAfter !== null && refusedAfter <= 35_000, `refused after ${refusedAfter} ms`);

  // once the copy is 30 s old again, with the version unchanged: the version is read, the
  // entries are not listed, and the block holds
  await worker.resetCounts();
  await sleep(31_000);
  assert.deepEqual((await put(key, body)).json, BLOCKED);
  const { kv, kvNames } = await worker.counts();
  assert.equal(kvNames.get['blocklist:version'], 1, `the version read once: ${JSON.stringify(kvNames)}`);
  assert.equal(kv.list ?? 0, 0, `no list call: ${JSON.stringify(kv)}`);
  assert.equal((await admin('DELETE', `/api/v1/admin/blocklist/${digest}`)).status, 200);
});

test('an entry put in KV by hand with an upper-case digest blocks it, is listed in lowercase, and is removed by it', async () => {
  const key = await newKey(worker, ADMIN, 'upper');
  const body = filler(2500, 31);
  const digest = sha256(body);
  const upper = digest.toUpperCase();
  await kvPut(worker, `blocked:${upper}`, { value: 'blocked', metadata: { sha256: upper, reason: 'imported', blocked_at: new Date().toISOString(), file_id: null, key_id: null } });
  // a name that is no digest: neither listed nor counted
  await kvPut(worker, 'blocked:not-a-digest', { value: 'blocked' });
  await kvPut(worker, 'blocklist:version', { value: String(Date.now()) });
  // a fresh isolate reads the list at its first upload
  await worker.restart();
  assert.deepEqual((await put(key, body)).json, BLOCKED);
  const listed = (await listBlocked(50)).map((e) => e.sha256);
  assert.ok(listed.includes(digest), listed.join());
  assert.ok(!listed.includes(upper) && !listed.includes('not-a-digest'), listed.join());
  assert.equal((await admin('GET', `/api/v1/admin/blocklist/${digest}`)).status, 200);
  const removed = await admin('DELETE', `/api/v1/admin/blocklist/${digest}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.json));
  assert.equal((await admin('GET', `/api/v1/admin/blocklist/${digest}`)).status, 404);
  assert.ok(!(await listBlocked(50)).some((e) => e.sha256 === digest));
  const stored = await put(key, body);
  assert.equal(stored.status, 200, JSON.stringify(stored.json));
  assert.equal(stored.json.data.sha256, digest);
});

test('a digest blocked by hand under a name in mixed case (and beside it in upper case, or in another mixed case) is listed once, shown and removed through the API', async () => {
  const key = await newKey(worker, ADMIN, 'mixed');
  const body = filler(2700, 33);
  const digest = sha256(body);
  const mixed = digest.replace(/[a-f]/, (c) => c.toUpperCase());
  assert.ok(mixed !== digest && mixed !== digest.toUpperCase(), mixed);
  await blockByHand(mixed);
  assert.deepEqual((await put(key, body)).json, BLOCKED);
  const shown = await admin('GET', `/api/v1/admin/blocklist/${digest}`);
  assert.equal(shown.status, 200, JSON.stringify(shown.json));
  assert.deepEqual([shown.json.data.sha256, shown.json.data.reason], [digest, 'imported']);
  assert.equal((await admin('DELETE', `/api/v1/admin/blocklist/${digest}`)).status, 200);
  assert.deepEqual(await namesOf(digest), []);
  await worker.restart();
  const stored = await put(key, body);
  assert.equal(stored.status, 200, JSON.stringify(stored.json));
  // the mixed-case entry beside an upper-case one, and no lowercase one
  await blockByHand(mixed, digest.toUpperCase());
  await assertListedOnceRemovedWhole(key, body, digest);
  // two names in mixed case, and neither a lowercase nor an upper-case one
  const other = digest.replace(/[a-f](?=[^a-f]*$)/, (c) => c.toUpperCase());
  assert.ok(other !== mixed && other !== digest.toUpperCase(), other);
  await blockByHand(mixed, other);
  await assertListedOnceRemovedWhole(key, body, digest);
});

test('a digest blocked under both cases (the upper-case entry put by hand) is listed once, removed whole, and blocked again under one lowercase entry', async () => {
  const key = await newKey(worker, ADMIN, 'twins');
  const body = filler(2600, 32);
  const digest = sha256(body);
  const upper = digest.toUpperCase();
  const meta = (sha) => ({ sha256: sha, reason: 'imported', blocked_at: new Date().toISOString(), file_id: null, key_id: null });
  await blockByHand(upper, digest);
  await assertListedOnceRemovedWhole(key, body, digest);
  // blocked again over a hand-put upper-case entry: one entry, under the lowercase name,
  // keeping the first record's reason
  await kvPut(worker, `blocked:${upper}`, { value: 'blocked', metadata: meta(upper) });
  const again = await admin('PUT', `/api/v1/admin/blocklist/${digest}`, {});
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.equal(again.json.data.reason, 'imported');
  assert.deepEqual(await namesOf(digest), [`blocked:${digest}`]);
  assert.equal((await admin('DELETE', `/api/v1/admin/blocklist/${digest}`)).status, 200);
});
