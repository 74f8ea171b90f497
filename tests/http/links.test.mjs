// Link controls over HTTP: `expires_in` (bounds, the key's own maximum, the file gone after
// it), `max_downloads` (counted atomically in the key's authority; HEAD and 304 not
// counted; every GET served whole, Range ignored; never kept by a cache; a one-time link
// served exactly once under a race), private files (never kept by a cache; signed links;
// no signature, a wrong or tampered one, an expired one and a rotated secret all 403 on
// `download_url`, and all but the expired one 404 on `file_url`, as for a name that holds
// nothing; fresh ones 200), and If-Range after an overwrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, get, request, KEYS } from './support/worker.mjs';
import { filler, png, sha256 } from './support/fixtures.mjs';
import { assertError, assertLifetime } from './support/assert.mjs';
import { newKey, usage, sleep } from './support/burst.mjs';

const ADMIN = 'links-admin-token';
const TTL = 3600;
let origin;
let worker;
useStack(
  { adminToken: ADMIN, counting: true, vars: { FILE_TTL_SECONDS: String(TTL), LINK_SECRET: 'first-link-secret' } },
  (s) => ({ origin, worker } = s),
);

let seq = 0;
/** A fresh file at the origin: its URL, bytes and digest. */
function originFile(size = 4096) {
  seq += 1;
  const body = filler(size, 9000 + seq);
  return { url: origin.file(`/links/${seq}.bin`, body), body, digest: sha256(body) };
}

/** The file a background job of `key` stored, once it succeeded (`started`: its 202). */
async function jobResult(started, key = KEYS.a.key) {
  assert.equal(started.status, 202, JSON.stringify(started.json));
  let job;
  for (let i = 0; i < 240; i++) {
    job = (await api(worker, 'GET', `/api/v1/jobs/${started.json.data.job_id}`, { token: key })).json.data;
    if (['succeeded', 'failed', 'canceled'].includes(job.state)) break;
    await sleep(250);
  }
  assert.equal(job.state, 'succeeded', JSON.stringify(job));
  return job.result;
}

async function stored(fields, size) {
  const file = originFile(size);
  const res = await upload(worker, { file_url: file.url, ...fields });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return { ...file, data: res.json.data };
}

// Uploaded first, checked last: a file with the shortest life, gone after it.
let shortLived;
test('expires_in: 60 is the shortest life; expires_at shows it', async () => {
  shortLived = await stored({ expires_in: 60, upload_path: 'short' });
  await assertLifetime(worker, shortLived.data, 60);
  assert.equal((await get(shortLived.data.download_url)).status, 200);
});

test('expires_in: 59, more than the maximum, and non-integers are 400 naming the field', async () => {
  const file = originFile();
  const rule = "invalid `expires_in`: must be a whole number of seconds, from 60 to the key's longest file lifetime";
  for (const expires_in of [59, 60.5, '60', -1, 0, 1e23]) {
    const res = await upload(worker, { file_url: file.url, expires_in });
    assertError(res, 400, new RegExp(`^${rule}$`));
  }
  // past the key's longest lifetime, which is known once the key is
  assertError(await upload(worker, { file_url: file.url, expires_in: TTL + 1 }), 400, new RegExp(`^invalid \`expires_in\`: must be a whole number of seconds from 60 to ${TTL}$`));
  const max = await stored({ expires_in: TTL });
  await assertLifetime(worker, max.data, TTL); // the maximum itself is accepted
  const plain = await stored({});
  await assertLifetime(worker, plain.data, TTL); // absent: FILE_TTL_SECONDS
  // a whole number written with a fraction or an exponent (JSON Schema's integer)
  for (const [written, secs] of [['120.0', 120], ['1.2e2', 120]]) {
    const res = await upload(worker, `{"file_url":${JSON.stringify(file.url)},"expires_in":${written}}`);
    assert.equal(res.status, 200, `${written}: ${JSON.stringify(res.json)}`);
    await assertLifetime(worker, res.json.data, secs);
  }
});

test('a key with a lower max_ttl_secs (admin API): its default and its bound', async () => {
  const key = await newKey(worker, ADMIN, 'short-lived', { max_ttl_secs: 120 });
  assert.equal(key.max_ttl_secs, 120);
  const file = originFile();
  assertError(await upload(worker, { file_url: file.url, expires_in: 121 }, { key: key.key }), 400, /from 60 to 120/);
  const ok = await upload(worker, { file_url: file.url, expires_in: 120 }, { key: key.key });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  await assertLifetime(worker, ok.json.data, 120, key.key);
  const dflt = await upload(worker, { file_url: file.url }, { key: key.key });
  assert.equal(dflt.status, 200, JSON.stringify(dflt.json));
  await assertLifetime(worker, dflt.json.data, 120, key.key); // the key maximum is its default
  const job = await jobResult(await upload(worker, { file_url: file.url, async: true }, { key: key.key }), key.key);
  await assertLifetime(worker, job, 120, key.key); // a background job's too
  assertError(await upload(worker, { file_url: file.url, async: true, expires_in: 121 }, { key: key.key }), 400, /from 60 to 120/);
  const patched = await api(worker, 'PATCH', `/api/v1/admin/keys/${key.key_id}`, { token: ADMIN, body: { max_ttl_secs: null } });
  assert.equal(patched.json.data.max_ttl_secs, TTL, 'null: back to FILE_TTL_SECONDS');
  assertError(await api(worker, 'PATCH', `/api/v1/admin/keys/${key.key_id}`, { token: ADMIN, body: { max_ttl_secs: 59 } }), 400, /max_ttl_secs/);
});

test('max_downloads: 1 is served once, whole, then 404 on both links; the quota comes back', async () => {
  const before = await usage(worker, KEYS.a.key);
  const f = await stored({ max_downloads: 1, upload_path: 'once' });
  assert.equal(f.data.max_downloads, 1);
  assert.equal(f.data.downloads, 0);
  const first = await get(f.data.download_url);
  assert.equal(first.status, 200);
  assert.equal(sha256(first.body), f.digest);
  for (const url of [f.data.download_url, f.data.file_url]) {
    assertError(await api(worker, 'GET', new URL(url).pathname), 404, /not found/);
    // its kept bytes do not show through a precondition either
    for (const headers of [{ 'if-match': '"other"' }, { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }]) {
      assertError(await api(worker, 'GET', new URL(url).pathname, { headers }), 404, /not found/);
    }
  }
  assertError(await api(worker, 'GET', `/api/v1/files/${f.data.file_id}`, { token: KEYS.a.key }), 404, /not found/);
  const after = await usage(worker, KEYS.a.key);
  assert.equal(after.files, before.files, 'the file and its quota are gone');
  assert.equal(after.bytes, before.bytes);
  // Its bytes stay a while for the download that used it up (which may still be reading
  // them), whatever else the key does: a delete deletes every object due in the key.
  const other = await stored({ upload_path: 'once' });
  assert.equal((await api(worker, 'DELETE', `/api/v1/files/${other.data.file_id}`, { token: KEYS.a.key })).status, 200);
  const keys = worker.r2().objects.map((o) => o.key);
  assert.ok(!keys.includes(`o/${other.data.file_id}`), 'the deleted file\'s bytes went before the answer');
  assert.ok(keys.includes(`o/${f.data.file_id}`), 'the used-up file\'s bytes are kept for its download');
});

test('max_downloads: 1 under two concurrent first downloads is served exactly once', async () => {
  for (let round = 0; round < 3; round++) {
    const f = await stored({ max_downloads: 1 }, 256 * 1024);
    const answers = await Promise.all([get(f.data.download_url), get(f.data.download_url)]);
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 404], `round ${round}`);
    const served = answers.find((a) => a.status === 200);
    assert.equal(sha256(served.body), f.digest, 'the one served is whole');
  }
});

test('a counted file: HEAD and 304 do not count; every GET is served whole (Range ignored), as an attachment, and counts; no cache keeps it', async () => {
  const f = await stored({ max_downloads: 3 }, 10_000);
  const url = f.data.download_url;
  const downloads = async () => (await api(worker, 'GET', `/api/v1/files/${f.data.file_id}`, { token: KEYS.a.key })).json.data.downloads;
  const head = await get(url, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('accept-ranges'), 'none');
  assert.equal(head.headers.get('cache-control'), 'private, no-store, no-transform');
  assert.equal((await get(url, { 'If-None-Match': head.headers.get('etag') })).status, 304);
  assert.equal(await downloads(), 0, 'neither HEAD nor 304 counted');
  // a range from byte 1 would read the file uncounted; a player's 2-byte probe would use a download up
  for (const [i, range] of ['bytes=1-', 'bytes=0-1'].entries()) {
    const res = await get(url, { Range: range });
    assert.equal(res.status, 200, range);
    assert.equal(res.headers.get('content-range'), null, range);
    assert.equal(res.headers.get('cache-control'), 'private, no-store, no-transform', range);
    assert.equal(sha256(res.body), f.digest, `${range}: the whole file`);
    assert.equal(await downloads(), i + 1, `${range} counted`);
  }
  const last = await get(f.data.file_url);
  assert.equal(last.status, 200, 'file_url counts too');
  assert.equal(last.headers.get('cache-control'), 'private, no-store, no-transform');

  assert.equal(sha256(last.body), f.digest);
  assert.equal((await get(url)).status, 404);
  assert.equal((await get(url, {}, 'HEAD')).status, 404, 'a used-up file is gone for HEAD too');
});

test('an image is shown inline on its file_url, a counted one is saved (a player\'s probes would use its downloads up)', async () => {
  const image = png(24, 24);
  for (const [fields, disposition] of [[{}, /^inline; /], [{ max_downloads: 2 }, /^attachment; /]]) {
    const res = await upload(worker, { file_url: origin.file(`/links/shown-${++seq}.png`, image, { contentType: 'image/png' }), ...fields });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.mime_type, 'image/png');
    const served = await get(res.json.data.file_url);
    assert.equal(served.status, 200);
    assert.match(served.headers.get('content-disposition'), disposition, JSON.stringify(fields));
    assert.equal(sha256(served.body), sha256(image));
  }
});

test('a file without max_downloads is served without a call to the key authority; one with it, one call', async () => {
  const plain = await stored({});
  const { calls, result } = await worker.countCalls(() => get(plain.data.download_url));
  assert.equal(calls.authorityCalls, 0, JSON.stringify(calls.authority));
  assert.equal(result.status, 200);
  assert.equal(sha256(result.body), plain.digest, 'served without a call, byte for byte');
  const counted = await stored({ max_downloads: 5 });
  const { calls: c2, result: r2 } = await worker.countCalls(() => get(counted.data.download_url));
  assert.equal(c2.authorityCalls, 1, JSON.stringify(c2.authority));
  assert.equal(r2.status, 200);
  assert.equal(sha256(r2.body), counted.digest, 'served after its one call, byte for byte');
  const info = await api(worker, 'GET', `/api/v1/files/${counted.data.file_id}`, { token: KEYS.a.key });
  assert.equal(info.json.data.downloads, 1, 'the one call counted the download');
});

/** Both links of `data` are signed until `expiresAt` (the `exp` they carry, not only the
 * figure answered beside them), and the answer says so. */
function assertLinksEnd(data, expiresAt, message = 'links end with the file') {
  assert.equal(data.expires_at, expiresAt, message);
  for (const url of [data.download_url, data.file_url]) {
    assert.equal(new URL(url).searchParams.get('exp'), String(Math.floor(Date.parse(expiresAt) / 1000)), `${message}: ${url}`);
  }
}

/** The same link with its query changed by `fn(params)`. */
function withQuery(url, fn) {
  const u = new URL(url);
  fn(u.searchParams);
  return u.toString();
}

test('private files: signed links serve; no, wrong, tampered and expired signatures are refused', async () => {
  const f = await stored({ private: true, upload_path: 'secret', file_name: 'a.bin' });
  const g = await stored({ private: true, upload_path: 'secret', file_name: 'b.bin' });
  assert.equal(f.data.private, true);
  for (const url of [f.data.file_url, f.data.download_url]) {
    assert.match(url, /\?exp=\d+&sig=[A-Za-z0-9_-]+$/);
    const ok = await get(url);
    assert.equal(ok.status, 200, url);
    assert.equal(sha256(ok.body), f.digest);
    assert.equal(ok.headers.get('cache-control'), 'private, no-store, no-transform', 'no cache keeps a copy past the signature');
    assert.equal(ok.headers.get('accept-ranges'), 'bytes');
    const bare = new URL(url);
    const noQuery = `${bare.origin}${bare.pathname}`;
    const cases = {
      'no signature': noQuery,
      'wrong signature': withQuery(url, (q) => q.set('sig', 'A'.repeat(43))),
      'a longer expiry': withQuery(url, (q) => q.set('exp', String(Number(q.get('exp')) + 1))),
      'no expiry': withQuery(url, (q) => q.delete('exp')),
      // forged for a time past: refused as forged, never "expired" (that would tell that a
      // private file holds the name)
      'a wrong signature with a past expiry': withQuery(url, (q) => {
        q.set('exp', '1');
        q.set('sig', 'A'.repeat(43));
      }),
      'the first two characters of the signature': withQuery(url, (q) => q.set('sig', q.get('sig').slice(0, 2))),
    };
    for (const [label, bad] of Object.entries(cases)) {
      const res = await api(worker, 'GET', bad.slice(worker.url.length));
      if (url === f.data.file_url) {
        // names can be guessed: refused as a name that holds nothing, so no one can probe
        // which private files a key has
        assert.equal(res.status, 404, label);
        assertError(res, 404, /^file not found, deleted, expired or past its download limit$/);
      } else {
        assert.equal(res.status, 403, label);
        assertError(res, 403, /private|signature/);
        assert.doesNotMatch(res.json.msg, /expired/, label);
      }
    }
  }
  // the same link as a mail client or a person may rewrite it (escapes in lower case, `!`
  // unescaped, the name in another Unicode form): the signature covers one spelling of it
  const accented = await stored({ private: true, upload_path: 'secret', file_name: 'café!.bin' });
  const signed = new URL(accented.data.file_url);
  assert.match(signed.pathname, /caf%C3%A9%21\.bin$/);
  for (const path of [signed.pathname.replace('%C3%A9', '%c3%a9'), signed.pathname.replace('%21', '!'), signed.pathname.replace('%C3%A9', 'e%CC%81')]) {
    const res = await get(`${worker.url}${path}${signed.search}`);
    assert.equal(res.status, 200, path);
    assert.equal(sha256(res.body), accented.digest, path);
  }
  // a file of its own under the name without the accent: this signature does not open it
  const plain = await stored({ private: true, upload_path: 'secret', file_name: 'cafe!.bin' });
  const plainPath = new URL(plain.data.file_url).pathname;
  assert.equal((await get(`${worker.url}${plainPath}${signed.search}`)).status, 404, 'another name is not signed by it');
  assert.equal((await get(plain.data.file_url)).status, 200, 'its own signature opens it');
  const nothing = await api(worker, 'GET', new URL(f.data.file_url).pathname.replace('a.bin', 'nothing.bin'));
  const unsigned = await api(worker, 'GET', new URL(f.data.file_url).pathname);
  assert.deepEqual([unsigned.status, unsigned.json], [nothing.status, nothing.json], 'a private name answers as no file');
  // another private file's valid query on this path
  const foreign = new URL(g.data.download_url);
  const tampered = `${worker.url}/api/v1/files/download/${f.data.file_id}${foreign.search}`;
  assertError(await api(worker, 'GET', tampered.slice(worker.url.length)), 403, /signature/);
  // info and listings answer signed links too, good until the file expires
  const info = await api(worker, 'GET', `/api/v1/files/${f.data.file_id}`, { token: KEYS.a.key });
  const listed = await api(worker, 'GET', '/api/v1/files?upload_path=secret', { token: KEYS.a.key });
  assert.equal(listed.status, 200, JSON.stringify(listed.json));
  const row = listed.json.data.files.find((x) => x.file_id === f.data.file_id);
  for (const data of [info.json.data, row]) {
    assertLinksEnd(data, f.data.expires_at);
    for (const url of [data.download_url, data.file_url]) {
      const res = await get(url);
      assert.equal(res.status, 200, url);
      assert.equal(sha256(res.body), f.digest, url);
    }
  }

  // a fresh pair with a short life: 200, then 403 once it expired
  // (5 s, not 1: a busy local runtime can take seconds to serve the first GET)
  const minted = await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, { token: KEYS.a.key, body: { expires_in: 5 } });
  assert.equal(minted.status, 200, JSON.stringify(minted.json));
  assert.ok(Date.parse(minted.json.data.expires_at) <= Date.now() + 6000);
  assertLinksEnd(minted.json.data, minted.json.data.expires_at);
  assert.equal((await get(minted.json.data.download_url)).status, 200);
  await sleep(Math.max(0, Date.parse(minted.json.data.expires_at) - Date.now()) + 100);
  // a genuine link past its exp: 403 on both (only a link's holder can show one)
  for (const url of [minted.json.data.download_url, minted.json.data.file_url]) {
    assertError(await api(worker, 'GET', url.slice(worker.url.length)), 403, /^this link has expired/);
  }
  // a lifetime past the file's is cut to the file's
  const long = await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, { token: KEYS.a.key, body: { expires_in: 10 * TTL } });
  assertLinksEnd(long.json.data, f.data.expires_at);
  assertError(await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, { token: KEYS.a.key, body: { expires_in: 0 } }), 400, /expires_in/);
  assertError(await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, { token: KEYS.b.key }), 404, /not found/);
  // a body without Content-Type (as Python's requests.post(url, data=...) sends it) is 415,
  // never taken for no body: its expires_in would be dropped and the links live for days
  const untyped = await request(`${worker.url}/api/v1/files/${f.data.file_id}/link`, {
    method: 'POST', headers: { authorization: `Bearer ${KEYS.a.key}` }, body: Buffer.from('{"expires_in":60}'),
  });
  assertError({ status: untyped.status, json: await untyped.json() }, 415, /must be JSON/);
  // sent chunked and untyped, only the bytes tell: none is no body (no options), any is 415
  const chunked = (text) => request(`${worker.url}/api/v1/files/${f.data.file_id}/link`, {
    method: 'POST', headers: { authorization: `Bearer ${KEYS.a.key}` }, duplex: 'half',
    body: new ReadableStream({ start(c) { if (text) c.enqueue(new TextEncoder().encode(text)); c.close(); } }),
  });
  const empty = await chunked('');
  const none = await empty.json();
  assert.equal(empty.status, 200, JSON.stringify(none));
  assertLinksEnd(none.data, f.data.expires_at, 'no options: the links live as long as the file');
  const some = await chunked('{"expires_in":60}');
  assertError({ status: some.status, json: await some.json() }, 415, /must be JSON/);
  // an empty body under a type that is not JSON (`curl -d ''` sends a form type) is no body too
  const formless = await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, {
    token: KEYS.a.key, body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(formless.status, 200, JSON.stringify(formless.json));
  assertLinksEnd(formless.json.data, f.data.expires_at, 'an empty form body: no options');
  const typedChunked = await request(`${worker.url}/api/v1/files/${f.data.file_id}/link`, {
    method: 'POST', headers: { authorization: `Bearer ${KEYS.a.key}`, 'content-type': 'text/plain' }, duplex: 'half',
    body: new ReadableStream({ start(c) { c.close(); } }),
  });
  assert.equal(typedChunked.status, 200, 'chunked, typed text/plain and empty: no body');
  assertLinksEnd((await typedChunked.json()).data, f.data.expires_at, 'an empty chunked text body: no options');
});

test('a name whose used-up private one-time file is kept serves its next file at once, unsigned, uploaded or fetched by a job', async () => {
  for (const job of [false, true]) {
    const name = { upload_path: 'kept', file_name: `next-${job}.bin` };
    const once = await stored({ ...name, max_downloads: 1, private: true });
    // the one download, through the name: this isolate now knows the name's file, whose
    // bytes are kept a while for that download
    const used = await get(once.data.file_url);
    assert.equal(used.status, 200);
    assert.equal(sha256(used.body), once.digest);
    assert.ok(worker.r2().objects.some((o) => o.key === `o/${once.data.file_id}`), 'its bytes are kept');
    const next = originFile(7000);
    const data = job
      ? await jobResult(await upload(worker, { file_url: next.url, ...name, async: true }))
      : (await upload(worker, { file_url: next.url, ...name })).json.data;
    assert.ok(!data.private, JSON.stringify(data));
    const bare = new URL(data.file_url);
    assert.equal(bare.search, '', 'a public file\'s link is unsigned');
    const res = await get(data.file_url);
    assert.equal(res.status, 200, `${job ? 'job' : 'upload'}: the name's new file at once, not the kept one's refusal`);
    assert.equal(sha256(res.body), next.digest);
  }
});

test('If-Range with the ETag of a replaced file gets the new file whole (200)', async () => {
  const name = { upload_path: 'ifrange', file_name: 'doc.bin' };
  const v1 = await stored(name, 20_000);
  const old = await get(v1.data.file_url, {}, 'HEAD');
  const oldTag = old.headers.get('etag');
  const v2 = await stored(name, 30_000);
  const stale = await get(v2.data.file_url, { Range: 'bytes=100-', 'If-Range': oldTag });
  assert.equal(stale.status, 200);
  assert.equal(stale.headers.get('content-range'), null);
  assert.equal(sha256(stale.body), v2.digest, 'the new file, whole');
  const fresh = await get(v2.data.file_url, { Range: 'bytes=100-', 'If-Range': stale.headers.get('etag') });
  assert.equal(fresh.status, 206);
  assert.deepEqual(fresh.body, v2.body.subarray(100));
});

test('a background job keeps expires_in, max_downloads and private; it refuses origin_headers', async () => {
  const file = originFile(5000);
  const refused = await upload(worker, { file_url: file.url, async: true, origin_headers: { 'X-Token': 't' } });
  assertError(refused, 400, /invalid `origin_headers`: cannot be used with a background job/);
  assertError(await upload(worker, { file_url: file.url, async: true, expires_in: TTL + 1 }), 400, /expires_in/);
  const data = await jobResult(await upload(worker, { file_url: file.url, async: true, expires_in: 120, max_downloads: 1, private: true }));
  await assertLifetime(worker, data, 120);
  assert.equal(data.private, true);
  assert.deepEqual([data.max_downloads, data.downloads], [1, 0]);
  const bare = new URL(data.download_url);
  assertError(await api(worker, 'GET', bare.pathname), 403, /signature/);
  const once = await get(data.download_url);
  assert.equal(once.status, 200);
  assert.equal(sha256(once.body), file.digest);
  assert.equal((await get(data.download_url)).status, 404, 'a one-time link, once');
  // its object is kept a while for a download still being read: nothing tells it is there
  assertError(await api(worker, 'GET', bare.pathname), 404, /not found/);
  const tampered = new URL(withQuery(data.download_url, (q) => q.set('sig', 'A'.repeat(43))));
  assertError(await api(worker, 'GET', tampered.pathname + tampered.search), 404, /not found/);
  assert.equal((await get(data.download_url, { 'If-Match': '"x"' })).status, 404, 'no 412 either');
});

test('the shortest-lived file is gone after its 60 s, from both links and the listing', async () => {
  const wait = Date.parse(shortLived.data.expires_at) - Date.now() + 1500;
  if (wait > 0) await sleep(wait);
  assert.equal((await get(shortLived.data.download_url)).status, 404);
  assert.equal((await get(shortLived.data.file_url)).status, 404);
  const list = await api(worker, 'GET', '/api/v1/files?upload_path=short', { token: KEYS.a.key });
  assert.deepEqual(list.json.data.files, []);
});

test('a rotated LINK_SECRET invalidates every signed link; fresh ones serve; no secret: private uploads 503', async () => {
  const f = await stored({ private: true });
  assert.equal((await get(f.data.download_url)).status, 200);
  await worker.restart({ vars: { LINK_SECRET: 'second-link-secret' } });
  const rebased = (url) => `${worker.url}${new URL(url).pathname}${new URL(url).search}`;
  assertError(await api(worker, 'GET', rebased(f.data.download_url).slice(worker.url.length)), 403, /signature/);
  assertError(await api(worker, 'GET', rebased(f.data.file_url).slice(worker.url.length)), 404, /not found/);
  const minted = await api(worker, 'POST', `/api/v1/files/${f.data.file_id}/link`, { token: KEYS.a.key });
  for (const url of [minted.json.data.download_url, minted.json.data.file_url]) {
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), f.digest);
  }
  await worker.restart({ vars: { LINK_SECRET: '' } });
  assertError(await upload(worker, { file_url: originFile().url, private: true }), 503, /LINK_SECRET/);
  // without a secret no link can be checked: the private file is refused, its name as no file
  assertError(await api(worker, 'GET', rebased(f.data.download_url).slice(worker.url.length)), 403, /private links are disabled/);
  assertError(await api(worker, 'GET', rebased(f.data.file_url).slice(worker.url.length)), 404, /not found/);
});
