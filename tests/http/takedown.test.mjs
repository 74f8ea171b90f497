// The operator's removal of files over HTTP: a take-down of one file named by a reported
// link (download_url, file_url, a private file's signed link, on any host, with or without
// its scheme) or its id, and
// the purge of every file of a key, each whatever the key's status (a revoked key's files
// too). Checked as a user would: every link of a removed file answers 404 at once, its bytes
// are gone from R2 when the answer comes (alarms held, so nothing later does it), and the
// key's usage and listing follow; other files keep serving their exact bytes. And what a
// delete, an overwrite and a take-down do when R2 refuses the authority's deletes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, get } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { assertError } from './support/assert.mjs';
import { newKey, usage, listAll, pool, until } from './support/burst.mjs';

const ADMIN = 'takedown-admin-token';
let origin;
let worker;
useStack({ adminToken: ADMIN, counting: true, vars: { LINK_SECRET: 'takedown-link-secret' } }, (s) => ({ origin, worker } = s));

const admin = (method, path, body) => api(worker, method, path, { token: ADMIN, body });
const takeDown = (body) => admin('POST', '/api/v1/admin/takedown', body);

let seq = 0;
/** Uploads a fresh origin file with `key` and `fields`; returns its bytes' digest and the
 * upload's data. */
async function stored(key, fields = {}, size = 3000) {
  seq += 1;
  const body = filler(size, 7000 + seq);
  const res = await upload(worker, { file_url: origin.file(`/t/${seq}.bin`, body), ...fields }, { key: key.key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return { digest: sha256(body), data: res.json.data };
}

/** Both links of `file` answer `status` (with its exact bytes when 200). */
async function assertServed(file, status) {
  for (const url of [file.data.download_url, file.data.file_url]) {
    const res = await get(url);
    assert.equal(res.status, status, url);
    if (status === 200) assert.equal(sha256(res.body), file.digest, url);
  }
}

/** The keys of the objects in R2 that `key_id` uploaded. */
const objectsOf = (key_id) => worker.r2().objects.filter((o) => o.custom?.owner === key_id).map((o) => o.key);

/** `url` with its scheme and host replaced, as a link under PUBLIC_BASE_URL would read. */
const elsewhere = (url) => {
  const u = new URL(url);
  return `https://files.example.com${u.pathname}${u.search}`;
};

test('a take-down by any link of a file, or its id: 200 recording it; its links 404 and its bytes are gone', async () => {
  const key = await newKey(worker, ADMIN, 'reported');
  const [a, b, c, d, kept] = [
    await stored(key, { upload_path: 'reports', file_name: 'a.bin' }),
    await stored(key, { upload_path: 'reports', file_name: 'b.bin' }),
    await stored(key, { upload_path: 'reports', file_name: 'c.bin', private: true }),
    await stored(key, { upload_path: 'reports/deep', file_name: 'd.bin' }),
    await stored(key, { upload_path: 'reports', file_name: 'kept.bin' }),
  ];
  await worker.holdAlarms();
  const { ran } = await worker.alarms();
  try {
    const first = await takeDown({ url: a.data.download_url });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(first.json, {
      success: true,
      code: 200,
      msg: 'File taken down',
      data: {
        key_id: key.key_id,
        file_id: a.data.file_id,
        upload_path: 'reports',
        file_name: 'a.bin',
        original_name: a.data.original_name,
        file_size: 3000,
        mime_type: a.data.mime_type,
        sha256: a.digest,
        upload_time: a.data.upload_time,
        served: true,
        blocked: true,
      },
    });
    for (const [file, body] of [
      [b, { url: elsewhere(b.data.file_url).replace(/^https:\/\//, '') }],
      [c, { url: c.data.download_url }],
      [d, { file_id: d.data.file_id }],
    ]) {
      const res = await takeDown(body);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.data.file_id, file.data.file_id, JSON.stringify(body));
    }
    for (const file of [a, b, d]) await assertServed(file, 404);
    assert.equal((await get(c.data.download_url)).status, 404, 'the signed link too');
    assert.deepEqual(objectsOf(key.key_id), [`o/${kept.data.file_id}`], 'the bytes went before the answers');
    assert.equal((await worker.alarms()).ran, ran, 'no alarm did it');
  } finally {
    await worker.releaseAlarms();
  }
  await assertServed(kept, 200);
  const left = await usage(worker, key.key);
  assert.deepEqual([left.files, left.bytes], [1, 3000], 'the quota came back');
  assert.deepEqual((await listAll(worker, key.key)).files.map((f) => f.file_id), [kept.data.file_id]);
  assertError(await takeDown({ url: a.data.download_url }), 404, /^file not found, deleted, expired or past its download limit$/);
  assertError(await takeDown({ url: b.data.file_url }), 404, /^file not found, deleted, expired or past its download limit$/);
});

test("a used-up one-time file: its bytes, kept an hour for the download that used it up, go with a take-down by id, and their digest is blocked", async () => {
  const key = await newKey(worker, ADMIN, 'one-time');
  const once = await stored(key, { max_downloads: 1, file_name: 'once.bin' });
  const first = await get(once.data.download_url);
  assert.equal(first.status, 200);
  assert.equal(sha256(first.body), once.digest);
  assert.equal((await get(once.data.download_url)).status, 404, 'used up');
  assert.deepEqual(objectsOf(key.key_id), [`o/${once.data.file_id}`], 'kept for the reader');
  await worker.holdAlarms();
  try {
    const taken = await takeDown({ file_id: once.data.file_id, reason: 'malware, reported after its one download' });
    assert.equal(taken.status, 200, JSON.stringify(taken.json));
    assert.deepEqual(taken.json, {
      success: true,
      code: 200,
      msg: 'File no longer served; its bytes taken down',
      data: {
        key_id: key.key_id,
        file_id: once.data.file_id,
        original_name: once.data.original_name,
        file_size: 3000,
        mime_type: once.data.mime_type,
        sha256: once.digest,
        upload_time: once.data.upload_time,
        served: false,
        blocked: true,
      },
    });
    assert.deepEqual(objectsOf(key.key_id), [], 'its bytes went before the answer');
  } finally {
    await worker.releaseAlarms();
  }
  const entry = await admin('GET', `/api/v1/admin/blocklist/${once.digest}`);
  assert.deepEqual([entry.status, entry.json.data.file_id, entry.json.data.key_id], [200, once.data.file_id, key.key_id]);
  // The same bytes, by another key under another name: refused, nothing stored.
  const other = await newKey(worker, ADMIN, 'same-bytes');
  const again = await upload(worker, { file_url: origin.file('/t/once-again.bin', first.body), file_name: 'again.bin' }, { key: other.key });
  assertError(again, 451, /^this file is on the blocklist/);
  assert.deepEqual(objectsOf(other.key_id), [], 'nothing stored');
  // Nothing of it left: 404.
  assertError(await takeDown({ file_id: once.data.file_id }), 404, /^file not found, deleted, expired or past its download limit$/);
});

test('R2 refusing the key authority\'s deletes: a delete is tried again at once, or answers 500 (not 200 while its bytes still serve); a take-down deletes them itself', async () => {
  const key = await newKey(worker, ADMIN, 'r2-faults');
  const fault = 'delete: We encountered an internal error. Please try again.';
  const del = (file) => api(worker, 'DELETE', `/api/v1/files/${file.data.file_id}`, { token: key.key });
  // One refusal: the second try at once takes the bytes; both URLs 404 once answered.
  const once = await stored(key);
  await worker.failR2Deletes([fault]);
  assert.equal((await del(once)).status, 200);
  await assertServed(once, 404);
  assert.deepEqual(objectsOf(key.key_id), []);
  // Refused twice: 500, and the client is not told its bytes are gone while they are.
  const twice = await stored(key);
  await worker.failR2Deletes([fault, fault]);
  assertError(await del(twice), 500, /^internal error$/);
  assert.deepEqual(objectsOf(key.key_id), [`o/${twice.data.file_id}`], 'still in R2: the answer was not 200');
  assertError(await del(twice), 404, /^file not found/);
  assert.deepEqual([(await usage(worker, key.key)).files, (await usage(worker, key.key)).bytes], [0, 0], 'its row and quota went');
  // The next delete of the key's drains what was left.
  const next = await stored(key);
  assert.equal((await del(next)).status, 200);
  assert.deepEqual(objectsOf(key.key_id), [], 'the bytes left behind went with the next delete');
  assert.equal((await get(twice.data.download_url)).status, 404);
  // A take-down whose authority's deletes R2 refuses (twice): the Worker deletes the bytes
  // itself.
  const reported = await stored(key);
  await worker.failR2Deletes([fault, fault]);
  assert.equal((await takeDown({ url: reported.data.download_url, block: false })).status, 200);
  await assertServed(reported, 404);
  assert.deepEqual(objectsOf(key.key_id), []);
});

test("R2 refusing an overwrite's delete of the old object twice: the upload is 200 and the name serves it; the old id serves until the alarm's retry deletes it", async () => {
  const key = await newKey(worker, ADMIN, 'r2-fault-overwrite');
  const fault = 'delete: We encountered an internal error. Please try again.';
  const name = { upload_path: 'over', file_name: 'same.bin' };
  const old = await stored(key, name);
  await assertServed(old, 200);
  await worker.failR2Deletes([fault, fault]);
  const fresh = await stored(key, name);
  // the name: the new file, at once (the uploading isolate forgot the name it had cached)
  const byName = await get(fresh.data.file_url);
  assert.equal(byName.status, 200);
  assert.equal(sha256(byName.body), fresh.digest, 'the name serves the new bytes');
  // charged once, for the new file only
  const u = await usage(worker, key.key);
  assert.deepEqual([u.files, u.bytes], [1, 3000]);
  // the old object is still in R2, and its id serves it, as documented, until the retry
  assert.deepEqual(objectsOf(key.key_id).sort(), [`o/${old.data.file_id}`, `o/${fresh.data.file_id}`].sort());
  const oldById = await get(old.data.download_url);
  assert.equal(oldById.status, 200);
  assert.equal(sha256(oldById.body), old.digest);
  // the key's alarm retries the delete within a minute (bounded wait: 90 s)
  await until(() => objectsOf(key.key_id).length === 1, 90_000);
  assert.deepEqual(objectsOf(key.key_id), [`o/${fresh.data.file_id}`], 'the old object went at the retry');
  assert.equal((await get(old.data.download_url)).status, 404);
  await assertServed(fresh, 200);
});

test("a revoked key's files still serve; a take-down and a purge remove them, at once", async () => {
  const key = await newKey(worker, ADMIN, 'abuser');
  const files = await pool(Array.from({ length: 24 }, (_, i) => i), 4, (i) => stored(key, { upload_path: `p${i % 3}` }, 1000 + i));
  assert.equal((await admin('DELETE', `/api/v1/admin/keys/${key.key_id}`)).status, 200);
  await assertServed(files[0], 200);
  const one = await takeDown({ url: files[0].data.file_url });
  assert.equal(one.status, 200, JSON.stringify(one.json));
  assert.equal(one.json.data.key_id, key.key_id);
  await worker.holdAlarms();
  try {
    const purged = await admin('DELETE', `/api/v1/admin/keys/${key.key_id}/files`);
    const bytes = files.slice(1).reduce((sum, f) => sum + f.data.file_size, 0);
    assert.deepEqual(purged.json, { success: true, code: 200, msg: 'Files of the key deleted', data: { key_id: key.key_id, files: 23, bytes, pending: 0 } });
    assert.deepEqual(objectsOf(key.key_id), [], 'every object went before the answer');
    await pool(files, 4, (f) => assertServed(f, 404));
  } finally {
    await worker.releaseAlarms();
  }
  const again = await admin('DELETE', `/api/v1/admin/keys/${key.key_id}/files`);
  assert.deepEqual(again.json.data, { key_id: key.key_id, files: 0, bytes: 0, pending: 0 }, 'nothing left');
});

test("a purge of a key in use: its files go, its usage is zero, and it uploads again", async () => {
  const key = await newKey(worker, ADMIN, 'cleaned');
  const other = await newKey(worker, ADMIN, 'bystander');
  const files = [await stored(key), await stored(key, { upload_path: 'x' })];
  const bystander = await stored(other, { upload_path: 'x' });
  const purged = await admin('DELETE', `/api/v1/admin/keys/${key.key_id}/files`);
  assert.deepEqual(purged.json.data, { key_id: key.key_id, files: 2, bytes: 6000, pending: 0 });
  for (const f of files) await assertServed(f, 404);
  const after = await usage(worker, key.key);
  assert.deepEqual([after.files, after.bytes], [0, 0]);
  assert.deepEqual((await listAll(worker, key.key)).files, []);
  await assertServed(bystander, 200);
  const fresh = await stored(key, { upload_path: 'x' });
  await assertServed(fresh, 200);
  assert.deepEqual([(await usage(worker, key.key)).files, (await usage(worker, other.key)).files], [1, 1]);
});

test('take-down and purge refusals: 400 naming the field, 404, 401, 405, 415', async () => {
  const key = await newKey(worker, ADMIN, 'refusals');
  const file = await stored(key);
  for (const [body, fragment] of [
    [{ url: `${worker.url}/api/v1/files` }, /^invalid `url`: must be a download_url or file_url/],
    [{ url: 'not a url' }, /^invalid `url`/],
    [{ url: file.data.download_url, file_id: file.data.file_id }, /^invalid `file_id`: give `url` or `file_id`, not both$/],
    [{ file_id: 'file_12' }, /^invalid `file_id`/],
    [{}, /^missing required field: give `url` or `file_id`$/],
    [{ url: file.data.download_url, why: 'spam' }, /^unknown field `why`$/],
    [{ url: file.data.download_url, block: 'yes' }, /^invalid `block`: must be true or false$/],
  ]) {
    assertError(await takeDown(body), 400, fragment);
  }
  assertError(await takeDown({ file_id: `file_${'0'.repeat(32)}` }), 404, /^file not found, deleted, expired or past its download limit$/);
  assertError(await takeDown({ url: `${worker.url}/f/k_nosuchkey/a/b.bin` }), 404, /^file not found, deleted, expired or past its download limit$/);
  assertError(await admin('DELETE', '/api/v1/admin/keys/k_nosuchkey/files'), 404, /^no such API key$/);
  assertError(await api(worker, 'POST', '/api/v1/admin/takedown', { body: { file_id: file.data.file_id } }), 401, /admin token/);
  assertError(await api(worker, 'DELETE', `/api/v1/admin/keys/${key.key_id}/files`, { token: key.key }), 401, /invalid admin token/);
  assertError(await admin('GET', '/api/v1/admin/takedown'), 405, /allowed: POST/);
  assertError(await admin('POST', `/api/v1/admin/keys/${key.key_id}/files`), 405, /allowed: DELETE/);
  const notJson = await api(worker, 'POST', '/api/v1/admin/takedown', { token: ADMIN, body: 'x', headers: { 'content-type': 'text/plain' } });
  assertError(notJson, 415, /JSON/);
  await assertServed(file, 200);
});
