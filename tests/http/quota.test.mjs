// Quotas over HTTP: one ledger per key (a Durable Object) that holds under concurrency,
// settles to real sizes, and gets quota back on failure, delete, overwrite and expiry.
// After every step the ledger (GET /api/v1/usage) equals what local R2 holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from './support/origin.mjs';
import { startWorker, upload, api, get } from './support/worker.mjs';
import { TYPES, filler } from './support/fixtures.mjs';

const ADMIN = 'quota-admin-token';
const MAX_FILE = 64 * 1024;
const TTL = 3;
let origin;
let worker;
let shortLived;

before(async () => {
  origin = await startOrigin();
  const common = { allow: [origin.host], adminToken: ADMIN };
  worker = await startWorker({ ...common, vars: { MAX_FILE_BYTES: String(MAX_FILE) } });
  // triggers `scheduled`, which local assets break (see startWorker)
  shortLived = await startWorker({ ...common, assets: false, vars: { FILE_TTL_SECONDS: String(TTL) } });
});
after(async () => {
  await worker?.stop();
  await shortLived?.stop();
  await origin?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function newKey(w, quota) {
  const res = await api(w, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'quota', ...quota } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.data;
}

async function usage(w, key) {
  const res = await api(w, 'GET', '/api/v1/usage', { token: key.key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.data;
}

/** The ledger equals local R2: live bytes and files of the key, nothing reserved. */
async function assertLedgerMatchesStorage(w, key) {
  const objects = w.r2().objects.filter((o) => o.key.startsWith(`f/${key.key_id}/`));
  const u = await usage(w, key);
  assert.deepEqual(
    { bytes: u.bytes, files: u.files, reserved_bytes: u.reserved_bytes, reserved_files: u.reserved_files },
    { bytes: objects.reduce((n, o) => n + o.size, 0), files: objects.length, reserved_bytes: 0, reserved_files: 0 },
  );
  return u;
}

test('32 concurrent uploads against a quota of 10 files: exactly 10 succeed', async () => {
  const key = await newKey(worker, { max_files: 10 });
  const url = origin.file('/c.png', TYPES.png.bytes, { contentType: 'image/png' });
  const results = await Promise.all(
    Array.from({ length: 32 }, (_, i) => upload(worker, { file_url: url, upload_path: 'race', file_name: `${i}.png` }, { key: key.key })),
  );
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  assert.equal(ok.length, 10, results.map((r) => r.status).join(','));
  assert.equal(refused.length, 22);
  for (const r of refused) {
    assert.deepEqual([r.json.success, r.json.code, r.json.data], [false, 429, null]);
    assert.match(r.json.msg, /quota exhausted: .* of 10 files/);
  }
  const u = await assertLedgerMatchesStorage(worker, key);
  assert.equal(u.files, 10);
  assert.equal(u.bytes, 10 * TYPES.png.bytes.length);
});

test('a byte quota admits what fits; the 429 states quota and usage', async () => {
  const body = filler(10_000, 21);
  const key = await newKey(worker, { max_bytes: 25_000 });
  const url = origin.file('/ten-k.bin', body);
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await upload(worker, { file_url: url, file_name: `${i}.bin` }, { key: key.key })).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  const last = await upload(worker, { file_url: url, file_name: 'x.bin' }, { key: key.key });
  assert.match(last.json.msg, /needs 10000 bytes and 1 file; in use 20000 of 25000 bytes and 2 of 1000 files/);
  await assertLedgerMatchesStorage(worker, key);
});

test('an unknown length reserves MAX_FILE_BYTES, then settles to the real size', async () => {
  const key = await newKey(worker, { max_bytes: MAX_FILE + 100 });
  const chunked = origin.file('/chunked.bin', filler(5_000, 22), { chunked: true });
  const first = await upload(worker, { file_url: chunked, file_name: 'a.bin' }, { key: key.key });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal((await usage(worker, key)).bytes, 5_000, 'settled to the real size');
  // now 5000 used: a second unknown-length body would need MAX_FILE more
  const second = await upload(worker, { file_url: chunked, file_name: 'b.bin' }, { key: key.key });
  assert.equal(second.status, 429);
  assert.match(second.json.msg, new RegExp(`needs ${MAX_FILE} bytes`));
  await assertLedgerMatchesStorage(worker, key);
});

test('failed uploads give their reservation back', async () => {
  const key = await newKey(worker, { max_files: 1 });
  const failing = [
    origin.status('/gone.png', 404),
    origin.drop('/drop.png', Buffer.concat([TYPES.png.bytes, filler(1000, 23)]), { contentLength: 50_000 }),
    origin.file('/big.bin', filler(MAX_FILE + 1, 24)),
  ];
  for (const url of failing) {
    const res = await upload(worker, { file_url: url }, { key: key.key });
    assert.notEqual(res.status, 200);
    assert.notEqual(res.status, 429, 'the failed one before it released its reservation');
  }
  await assertLedgerMatchesStorage(worker, key);
  assert.equal((await upload(worker, { file_url: origin.file('/fine.png', TYPES.png.bytes) }, { key: key.key })).status, 200);
});

test('overwriting a name counts the file once, at its new size', async () => {
  const key = await newKey(worker, { max_files: 1 });
  const small = origin.file('/small.bin', filler(1_000, 25));
  const large = origin.file('/large.bin', filler(3_000, 26));
  assert.equal((await upload(worker, { file_url: small, upload_path: 'o', file_name: 'same.bin' }, { key: key.key })).status, 200);
  const again = await upload(worker, { file_url: large, upload_path: 'o', file_name: 'same.bin' }, { key: key.key });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  const u = await assertLedgerMatchesStorage(worker, key);
  assert.deepEqual([u.files, u.bytes], [1, 3_000]);
});

test('delete gives the quota back', async () => {
  const key = await newKey(worker, { max_files: 2 });
  const url = origin.file('/d.png', TYPES.png.bytes);
  const a = (await upload(worker, { file_url: url, file_name: 'a.png' }, { key: key.key })).json.data;
  assert.equal((await upload(worker, { file_url: url, file_name: 'b.png' }, { key: key.key })).status, 200);
  assert.equal((await upload(worker, { file_url: url, file_name: 'c.png' }, { key: key.key })).status, 429);
  const del = await api(worker, 'DELETE', `/api/v1/files/${a.file_id}`, { token: key.key });
  assert.equal(del.status, 200, JSON.stringify(del.json));
  assert.equal((await usage(worker, key)).files, 1);
  assert.equal((await upload(worker, { file_url: url, file_name: 'c.png' }, { key: key.key })).status, 200);
  await assertLedgerMatchesStorage(worker, key);
});

test('expiry gives the quota back exactly once: on read and in the sweep', async () => {
  const key = await newKey(shortLived, { max_files: 2 });
  const url = origin.file('/e.png', TYPES.png.bytes);
  const read = (await upload(shortLived, { file_url: url, upload_path: 'exp', file_name: 'read.png' }, { key: key.key })).json.data;
  const swept = (await upload(shortLived, { file_url: url, upload_path: 'exp', file_name: 'swept.png' }, { key: key.key })).json.data;
  assert.equal((await usage(shortLived, key)).files, 2);
  await sleep(Date.parse(read.expires_at) - Date.now() + 500);
  // a new file that is still live while the old ones are given back
  const live = await upload(shortLived, { file_url: url, upload_path: 'live', file_name: 'new.png' }, { key: key.key });
  assert.equal(live.status, 429, 'expired but not yet deleted files still count');
  assert.equal((await get(read.download_url)).status, 404);
  assert.equal((await get(read.file_url)).status, 404, 'a second reader releases nothing more');
  assert.equal((await usage(shortLived, key)).files, 1);
  await shortLived.cron();
  assert.equal((await get(swept.download_url)).status, 404);
  await assertLedgerMatchesStorage(shortLived, key);
  assert.equal((await usage(shortLived, key)).files, 0);
  const fresh = await upload(shortLived, { file_url: url, upload_path: 'live', file_name: 'new.png' }, { key: key.key });
  assert.equal(fresh.status, 200);
  // the sweep again: the earlier files' releases do not touch the live one
  await shortLived.cron();
  const u = await assertLedgerMatchesStorage(shortLived, key);
  assert.equal(u.files, 1);
});

test('the expiry of an overwritten upload leaves the newer file and its quota alone', async () => {
  const key = await newKey(shortLived, {});
  const first = await upload(shortLived, { file_url: origin.file('/ow1.bin', filler(1_000, 27)), upload_path: 'ow', file_name: 'x.bin' }, { key: key.key });
  assert.equal(first.status, 200);
  await sleep(2_200); // the newer upload expires at least two seconds later
  const newer = await upload(shortLived, { file_url: origin.file('/ow2.bin', filler(2_000, 28)), upload_path: 'ow', file_name: 'x.bin' }, { key: key.key });
  assert.equal(newer.status, 200);
  await sleep(Math.max(0, Date.parse(first.json.data.expires_at) - Date.now() + 300));
  assert.equal((await get(first.json.data.download_url)).status, 404);
  const served = await get(newer.json.data.file_url);
  assert.equal(served.status, 200, 'the newer file survived the old id\'s expiry');
  assert.equal(served.body.length, 2_000);
  const u = await assertLedgerMatchesStorage(shortLived, key);
  assert.deepEqual([u.files, u.bytes], [1, 2_000]);
});

test('usage needs a valid key', async () => {
  const res = await api(worker, 'GET', '/api/v1/usage', {});
  assert.equal(res.status, 401);
  assert.equal(res.json.code, 401);
});
