// Quotas over HTTP: the key's authority (a Durable Object per key) holds them under
// concurrency, counts real sizes, and gives quota back on failure, delete, overwrite and
// expiry. After every step usage (GET /api/v1/usage) equals what local R2 holds for the key.
import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, get } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { sleep, until } from './support/burst.mjs';

const ADMIN = 'quota-admin-token';
const KiB = 1024;
const MAX_FILE = 64 * KiB;
let origin;
let worker;
useStack({ adminToken: ADMIN, vars: { MAX_FILE_BYTES: String(MAX_FILE) } }, (s) => ({ origin, worker } = s));

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

/** The counters of a usage answer. */
const counters = (u) => ({ bytes: u.bytes, files: u.files, reserved_bytes: u.reserved_bytes, reserved_files: u.reserved_files });

/** The key's objects in local R2: `o/{file_id}`, owned by the key. */
const objectsOf = (w, key) => w.r2().objects.filter((o) => o.key.startsWith('o/') && o.custom.owner === key.key_id);

/** Usage equals local R2: the key's live bytes and files, nothing reserved. */
async function assertUsageMatchesStorage(w, key) {
  const objects = objectsOf(w, key);
  const u = await usage(w, key);
  assert.deepEqual(counters(u), { bytes: objects.reduce((n, o) => n + o.size, 0), files: objects.length, reserved_bytes: 0, reserved_files: 0 });
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
  const u = await assertUsageMatchesStorage(worker, key);
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
  await assertUsageMatchesStorage(worker, key);
});

test('an unknown length holds what the quota leaves, up to MAX_FILE_BYTES; past it, 429 with nothing left, now or as a job', async () => {
  // a quota below MAX_FILE_BYTES: such a key used to refuse every file sent without a length
  const key = await newKey(worker, { max_bytes: 10_000 });
  const chunked = (path, size, seed) => origin.file(path, filler(size, seed), { chunked: true });
  const first = await upload(worker, { file_url: chunked('/chunked.bin', 5_000, 22), file_name: 'a.bin' }, { key: key.key });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal(first.json.data.sha256, sha256(filler(5_000, 22)));
  assert.deepEqual(counters(await usage(worker, key)), { bytes: 5_000, files: 1, reserved_bytes: 0, reserved_files: 0 }, 'the real size');
  // 5000 left: a body of 6000 holds 5000 and runs past it
  const mark = worker.r2();
  const over = await upload(worker, { file_url: chunked('/chunked-6000.bin', 6_000, 24), file_name: 'b.bin' }, { key: key.key });
  assertError(over, 429, /^quota exhausted: this file, sent without a length, grew past the 5000 bytes the key's quota had left when it began$/);
  assertNothingStored(worker, mark);
  // the same as a job: refused at the same point, nothing kept
  const refused = await upload(worker, { file_url: chunked('/chunked-6000.bin', 6_000, 24), file_name: 'c.bin', async: true }, { key: key.key });
  assert.equal(refused.status, 202, JSON.stringify(refused.json));
  const failed = await jobEnd(worker, key, refused.json.data.job_id);
  assert.deepEqual([failed.state, failed.error], ['failed', { code: 429, msg: "quota exhausted: this file, sent without a length, grew past the 5000 bytes the key's quota had left when it began" }]);
  assertNothingStored(worker, mark);
  // and one that fits, as a job: stored whole
  const fits = await upload(worker, { file_url: chunked('/chunked-4500.bin', 4_500, 25), file_name: 'd.bin', async: true }, { key: key.key });
  const done = await jobEnd(worker, key, fits.json.data.job_id);
  assert.equal(done.state, 'succeeded', JSON.stringify(done));
  assert.equal(done.result.sha256, sha256(filler(4_500, 25)));
  assert.equal((await assertUsageMatchesStorage(worker, key)).bytes, 9_500);
});

test('a batch item refused for the quota while an item of unknown length held it runs again alone: all fit, each stored once', async () => {
  const key = await newKey(worker, { max_bytes: 64_000 });
  // item 0: 60,000 bytes without a length, at 40,000 B/s: sniffed within about 0.1 s,
  // from then on it holds all the quota leaves (64,000) for over a second; items 1-3:
  // 1,000 bytes each with a length, whose first connection is closed unanswered, so they
  // ask the quota a quarter second later, while item 0 holds it
  const slowBytes = filler(60_000, 31);
  const smallBytes = [1, 2, 3].map((n) => filler(1_000, 31 + n));
  const items = [
    { file_url: origin.file('/batch-quota/slow.bin', slowBytes, { chunked: true, throttle: 40_000 }), file_name: 'slow.bin' },
    ...smallBytes.map((bytes, i) => ({ file_url: origin.file(`/batch-quota/small-${i}.bin`, bytes, { closeUnanswered: 1 }), file_name: `small-${i}.bin` })),
  ];
  const res = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: key.key, body: { items } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const results = res.json.data.results;
  assert.deepEqual(results.map((r) => r.code), [200, 200, 200, 200], JSON.stringify(results.map((r) => r.msg)));
  assert.deepEqual(results.map((r) => r.data.sha256), [slowBytes, ...smallBytes].map(sha256));
  assert.deepEqual(counters(await assertUsageMatchesStorage(worker, key)), { bytes: 63_000, files: 4, reserved_bytes: 0, reserved_files: 0 });
});

test('a batch item refused for the quota is not run again when nothing beside it ended otherwise: the origin sends it once', async () => {
  const key = await newKey(worker, { max_bytes: 10_000 });
  // alone (the other item is refused before it runs): 60,000 bytes without a length,
  // refused once past the quota
  const big = '/batch-quota/alone-big.bin';
  const alone = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: key.key, body: { items: [
    { file_url: 'ftp://example.com/a.bin' },
    { file_url: origin.file(big, filler(60_000, 41), { chunked: true }), file_name: 'big.bin' },
  ] } });
  assert.deepEqual(alone.json.data.results.map((r) => r.code), [400, 429], JSON.stringify(alone.json));
  assert.equal(origin.hits(big), 1, 'fetched once');
  // a full key: three items, each refused beside the others, none of which freed anything
  const fill = await upload(worker, { file_url: origin.file('/batch-quota/fill.bin', filler(9_500, 42)), file_name: 'fill.bin' }, { key: key.key });
  assert.equal(fill.status, 200, JSON.stringify(fill.json));
  const paths = [0, 1, 2].map((n) => `/batch-quota/full-${n}.bin`);
  const full = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: key.key, body: { items:
    paths.map((p, n) => ({ file_url: origin.file(p, filler(1_000, 43 + n)), file_name: `full-${n}.bin` })) } });
  assert.deepEqual(full.json.data.results.map((r) => r.code), [429, 429, 429], JSON.stringify(full.json));
  assert.deepEqual(paths.map((p) => origin.hits(p)), [1, 1, 1], 'each fetched once');
  assert.deepEqual(counters(await assertUsageMatchesStorage(worker, key)), { bytes: 9_500, files: 1, reserved_bytes: 0, reserved_files: 0 });
});

test('a batch\'s background job starts after its items stored now have ended: it does not take their quota', async () => {
  const key = await newKey(worker, { max_bytes: 64_000 });
  // item 0: 30,000 bytes with a length at 20,000 B/s (1.5 s); item 1, a job of unknown
  // length at 5,000 B/s (6 s), would hold all the quota leaves from its start, within
  // milliseconds, past item 0's end and past that of its run alone after the others
  const now = filler(30_000, 51);
  const later = filler(30_000, 52);
  const res = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: key.key, body: { items: [
    { file_url: origin.file('/batch-quota/now.bin', now, { throttle: 20_000 }), file_name: 'now.bin' },
    { file_url: origin.file('/batch-quota/later.bin', later, { chunked: true, throttle: 5_000 }), file_name: 'later.bin', async: true },
  ] } });
  assert.deepEqual(res.json.data.results.map((r) => r.code), [200, 202], JSON.stringify(res.json));
  assert.equal(res.json.data.results[0].data.sha256, sha256(now));
  const done = await jobEnd(worker, key, res.json.data.results[1].data.job_id);
  assert.equal(done.state, 'succeeded', JSON.stringify(done));
  assert.equal(done.result.sha256, sha256(later));
  assert.deepEqual(counters(await assertUsageMatchesStorage(worker, key)), { bytes: 60_000, files: 2, reserved_bytes: 0, reserved_files: 0 });
});

test('a small body without Content-Length, read to its end while sniffing, reserves its own size: it fits a quota below MAX_FILE_BYTES, now or as a job', async () => {
  const key = await newKey(worker, { max_bytes: 10_000 });
  const body = filler(1_000, 23);
  const url = origin.file('/small-chunked.bin', body, { chunked: true });
  const now = await upload(worker, { file_url: url, file_name: 'now.bin' }, { key: key.key });
  assert.equal(now.status, 200, JSON.stringify(now.json));
  assert.equal(now.json.data.sha256, sha256(body));
  // a job may reserve ASYNC_MAX_FILE_BYTES (5 GiB) for an unknown length: not this one
  const accepted = await upload(worker, { file_url: url, file_name: 'job.bin', async: true }, { key: key.key });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
  let job;
  for (let i = 0; i < 150; i++) {
    job = (await api(worker, 'GET', `/api/v1/jobs/${accepted.json.data.job_id}`, { token: key.key })).json.data;
    if (['succeeded', 'failed', 'canceled'].includes(job.state)) break;
    await sleep(100);
  }
  assert.equal(job.state, 'succeeded', JSON.stringify(job));
  assert.equal(job.result.sha256, sha256(body));
  assert.equal((await assertUsageMatchesStorage(worker, key)).bytes, 2_000);
});

test('a small upload that does not fit is 429 and leaves nothing stored', async () => {
  // known length up to 64 KiB: stored first, then refused by the commit, which deletes it
  const key = await newKey(worker, { max_bytes: 15_000 });
  const url = origin.file('/fits-once.bin', filler(10_000, 29));
  assert.equal((await upload(worker, { file_url: url, file_name: 'a.bin' }, { key: key.key })).status, 200);
  const mark = worker.r2();
  const refused = await upload(worker, { file_url: url, file_name: 'b.bin' }, { key: key.key });
  assert.equal(refused.status, 429, JSON.stringify(refused.json));
  assertNothingStored(worker, mark);
  await assertUsageMatchesStorage(worker, key);
});

describe('a failed upload gives back everything it reserved', () => {
  // a Worker of its own: a short fetch deadline, and a limit above the small-body line, so
  // a known length can take either path (read whole up to 64 KiB, reserved above)
  const LIMIT = 1024 * KiB;
  const TIMEOUT_MS = 1500;
  const failing = useStack({ adminToken: ADMIN, vars: { MAX_FILE_BYTES: String(LIMIT), FETCH_TIMEOUT_MS: String(TIMEOUT_MS) } });
  let key;
  let baseline;
  before(async () => {
    const { origin: o, worker: w } = failing;
    key = await newKey(w, { max_files: 2 });
    // one live file, so "back to what it was" is not just zero
    assert.equal((await upload(w, { file_url: o.file('/kept.png', TYPES.png.bytes), file_name: 'kept.png' }, { key: key.key })).status, 200);
    baseline = counters(await usage(w, key));
    assert.deepEqual(baseline, { bytes: TYPES.png.bytes.length, files: 1, reserved_bytes: 0, reserved_files: 0 });
  });

  const start = Buffer.concat([TYPES.png.bytes, filler(4096, 30)]);
  const cases = [
    ['origin 404', 502, (o) => o.status('/gone.png', 404)],
    ['Content-Length over the limit', 413, (o) => o.stall('/big-cl.bin', Buffer.alloc(10), { contentLength: LIMIT + 1 })],
    ['over the limit without Content-Length', 413, (o) => o.file('/big-chunked.bin', filler(LIMIT + 64 * KiB, 31), { chunked: true })],
    ['origin timeout, Content-Length 200 KiB (reserved)', 504, (o) => o.stall('/stall-200k.bin', start, { contentLength: 200 * KiB })],
    ['origin timeout, Content-Length 48 KiB (read whole)', 504, (o) => o.stall('/stall-48k.bin', start, { contentLength: 48 * KiB })],
    ['origin timeout without Content-Length', 504, (o) => o.stall('/stall-chunked.bin', start)],
    ['origin reset, Content-Length 200 KiB (reserved)', 502, (o) => o.drop('/reset-200k.bin', filler(60 * KiB, 32), { contentLength: 200 * KiB })],
    ['origin reset, Content-Length 48 KiB (read whole)', 502, (o) => o.drop('/reset-48k.bin', filler(16 * KiB, 33), { contentLength: 48 * KiB })],
    ['origin reset without Content-Length', 502, (o) => o.drop('/reset-chunked.bin', filler(300 * KiB, 34))],
  ];
  for (const [label, status, serve] of cases) {
    test(`${label}: ${status}, usage as before, nothing stored`, async () => {
      const { origin: o, worker: w } = failing;
      const mark = w.r2();
      const res = await upload(w, { file_url: serve(o), upload_path: 'failing', file_name: 'f.bin' }, { key: key.key });
      assert.equal(res.status, status, JSON.stringify(res.json));
      assert.deepEqual(counters(await usage(w, key)), baseline, 'bytes, files and reservations as before');
      assertNothingStored(w, mark);
    });
  }

  test('after all of them the quota of 2 files still holds exactly one more', async () => {
    const { origin: o, worker: w } = failing;
    const url = o.file('/more.png', TYPES.png.bytes);
    assert.equal((await upload(w, { file_url: url, file_name: 'second.png' }, { key: key.key })).status, 200);
    assert.equal((await upload(w, { file_url: url, file_name: 'third.png' }, { key: key.key })).status, 429);
    await assertUsageMatchesStorage(w, key);
  });
});

test('overwriting a name counts the file once, at its new size', async () => {
  const key = await newKey(worker, { max_files: 1 });
  const small = origin.file('/small.bin', filler(1_000, 25));
  const large = origin.file('/large.bin', filler(3_000, 26));
  assert.equal((await upload(worker, { file_url: small, upload_path: 'o', file_name: 'same.bin' }, { key: key.key })).status, 200);
  const again = await upload(worker, { file_url: large, upload_path: 'o', file_name: 'same.bin' }, { key: key.key });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  const u = await assertUsageMatchesStorage(worker, key);
  assert.deepEqual([u.files, u.bytes], [1, 3_000]);
});

/** Follows job `jobId` of `key` to its end; answers its last status. */
async function jobEnd(w, key, jobId) {
  let job;
  for (let i = 0; i < 300; i++) {
    job = (await api(w, 'GET', `/api/v1/jobs/${jobId}`, { token: key.key })).json.data;
    if (['succeeded', 'failed', 'canceled'].includes(job.state)) return job;
    await sleep(100);
  }
  assert.fail(`job ${jobId} still ${job.state}`);
}

test('at its file limit a key may still overwrite: now, as a job, and twice at once', async () => {
  const key = await newKey(worker, { max_files: 1 });
  const name = { upload_path: 'full', file_name: 'same.bin' };
  assert.equal((await upload(worker, { file_url: origin.file('/full-first.bin', filler(1_000, 40)), ...name }, { key: key.key })).status, 200);
  const other = await upload(worker, { file_url: origin.file('/full-other.bin', filler(10, 41)), upload_path: 'full', file_name: 'other.bin' }, { key: key.key });
  assert.equal(other.status, 429, 'a second name does not fit');
  // a job is admitted before its size is known: it replaces the name's file, so it fits
  const body = filler(2_000, 42);
  const accepted = await upload(worker, { file_url: origin.file('/full-job.bin', body), ...name, async: true }, { key: key.key });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
  const job = await jobEnd(worker, key, accepted.json.data.job_id);
  assert.equal(job.state, 'succeeded', JSON.stringify(job));
  assert.equal(job.result.sha256, sha256(body));
  // two overwrites in flight at once (no length: each reserves MAX_FILE_BYTES while it
  // streams, slowly): the name counts once, so both fit; the last to land holds it
  const bodies = [filler(30 * KiB, 43), filler(30 * KiB, 44)];
  const urls = bodies.map((b, i) => origin.file(`/full-slow-${i}.bin`, b, { chunked: true, throttle: 20 * KiB }));
  const both = await Promise.all(urls.map((file_url) => upload(worker, { file_url, ...name }, { key: key.key })));
  assert.deepEqual(both.map((r) => r.status), [200, 200], JSON.stringify(both.map((r) => r.json)));
  const served = await get(`${worker.url}/f/${key.key_id}/full/same.bin`);
  assert.equal(served.status, 200);
  assert.ok(bodies.some((b) => sha256(b) === sha256(served.body)), 'the name serves one of the two uploads, whole');
  const u = await assertUsageMatchesStorage(worker, key);
  assert.deepEqual([u.files, u.bytes], [1, 30 * KiB]);
});

test('under limits lowered below usage, only an upload that grows the usage is refused', async () => {
  const key = await newKey(worker, {});
  const url = (n, seed) => origin.file(`/lowered-${seed}.bin`, filler(n, seed));
  for (const [i, n] of ['a', 'b', 'c'].entries()) {
    assert.equal((await upload(worker, { file_url: url(1_000, 50 + i), upload_path: 'low', file_name: `${n}.bin` }, { key: key.key })).status, 200);
  }
  const patched = await api(worker, 'PATCH', `/api/v1/admin/keys/${key.key_id}`, { token: ADMIN, body: { max_files: 1, max_bytes: 2_000 } });
  assert.equal(patched.status, 200, JSON.stringify(patched.json));
  const smaller = await upload(worker, { file_url: url(500, 53), upload_path: 'low', file_name: 'a.bin' }, { key: key.key });
  assert.equal(smaller.status, 200, `an overwrite with a smaller file lowers the usage: ${JSON.stringify(smaller.json)}`);
  const larger = await upload(worker, { file_url: url(1_500, 54), upload_path: 'low', file_name: 'b.bin' }, { key: key.key });
  assert.equal(larger.status, 429);
  assert.equal(larger.json.msg, 'quota exhausted: this upload needs 1500 bytes and no new file (it replaces one); in use 2500 of 2000 bytes and 3 of 1 files (including 0 uploads in progress)');
  const added = await upload(worker, { file_url: url(10, 55), upload_path: 'low', file_name: 'd.bin' }, { key: key.key });
  assert.equal(added.status, 429);
  assert.match(added.json.msg, /^quota exhausted: this upload needs 10 bytes and 1 file; /);
  const u = await assertUsageMatchesStorage(worker, key);
  assert.deepEqual([u.files, u.bytes], [3, 2_500]);
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
  await assertUsageMatchesStorage(worker, key);
});

describe('expiry', () => {
  const TTL = 10;
  // counting: for `alarms().ran`, to know that an expiry's alarm has run
  const shortLived = useStack({ adminToken: ADMIN, counting: true, vars: { FILE_TTL_SECONDS: String(TTL) } });

  /** Polls `check` once a second until it answers true, at most `seconds` times. */
  async function eventually(seconds, check) {
    for (let i = 0; i < seconds; i++) {
      if (await check()) return true;
      await sleep(1_000);
    }
    return check();
  }

  test('expiry gives the quota back, by the alarm alone', async () => {
    const { origin: o, worker: w } = shortLived;
    const key = await newKey(w, { max_files: 2 });
    const url = o.file('/e.png', TYPES.png.bytes);
    const a = (await upload(w, { file_url: url, upload_path: 'exp', file_name: 'a.png' }, { key: key.key })).json.data;
    const b = (await upload(w, { file_url: url, upload_path: 'exp', file_name: 'b.png' }, { key: key.key })).json.data;
    assert.equal((await usage(w, key)).files, 2);
    assert.equal((await upload(w, { file_url: url, upload_path: 'live', file_name: 'new.png' }, { key: key.key })).status, 429, 'full while they live');
    const ran = (await w.alarms()).ran;
    await sleep(Math.max(0, Date.parse(b.expires_at) - Date.now()));
    // nobody reads them, nor asks the key's usage (which reaches its authority) until its
    // alarm has run and deleted their objects (local R2, read without the Worker)
    const gone = async () => objectsOf(w, key).length === 0 && (await w.alarms()).ran > ran;
    assert.ok(await eventually(60, gone), 'their objects deleted by an alarm within a minute');
    assert.equal((await usage(w, key)).files, 0, 'and their quota given back');
    for (const d of [a, b]) {
      assert.equal((await get(d.download_url)).status, 404);
      assert.equal((await get(d.file_url)).status, 404);
    }
    const fresh = await upload(w, { file_url: url, upload_path: 'live', file_name: 'new.png' }, { key: key.key });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.json));
    // the expired files' quota came back once: the live file counts, exactly
    const u = await assertUsageMatchesStorage(w, key);
    assert.deepEqual([u.files, u.bytes], [1, TYPES.png.bytes.length]);
  });

  test('an expiry gives back its own file\'s quota only: a live file of the key stays counted, exactly', async () => {
    const { origin: o, worker: w } = shortLived;
    const key = await newKey(w, {});
    const old = await upload(w, { file_url: o.file('/gone.bin', filler(3_000, 31)), upload_path: 'mix', file_name: 'gone.bin' }, { key: key.key });
    assert.equal(old.status, 200, JSON.stringify(old.json));
    await sleep(5_200); // the live file expires at least four seconds after the old one
    const liveBytes = filler(1_000, 32);
    const live = await upload(w, { file_url: o.file('/live.bin', liveBytes), upload_path: 'mix', file_name: 'live.bin' }, { key: key.key });
    assert.equal(live.status, 200, JSON.stringify(live.json));
    // a give-back counted twice would take the live file's count and bytes with it (the
    // counters stop at zero): 0 files, not 1
    assert.ok(await until(async () => (await usage(w, key)).files < 2, 10_000, 100), 'the old file retired by its alarm');
    const u = await assertUsageMatchesStorage(w, key);
    assert.ok(Date.now() < Date.parse(live.json.data.expires_at), 'read while the live file lives');
    assert.deepEqual([u.files, u.bytes], [1, liveBytes.length]);
  });

  test('the expiry of an overwritten upload leaves the newer file and its quota alone', async () => {
    const { origin: o, worker: w } = shortLived;
    const key = await newKey(w, {});
    const first = await upload(w, { file_url: o.file('/ow1.bin', filler(1_000, 27)), upload_path: 'ow', file_name: 'x.bin' }, { key: key.key });
    assert.equal(first.status, 200);
    await sleep(5_200); // the newer upload expires at least four seconds after the first
    const newerBytes = filler(2_000, 28);
    const newer = await upload(w, { file_url: o.file('/ow2.bin', newerBytes), upload_path: 'ow', file_name: 'x.bin' }, { key: key.key });
    assert.equal(newer.status, 200);
    assert.ok(Date.parse(newer.json.data.expires_at) - Date.parse(first.json.data.expires_at) >= 4_000);
    // the key's alarm is armed for the first file's expiry (the earlier time): wait until an
    // alarm ran after it, so what follows sees what that alarm did
    const ran = (await w.alarms()).ran;
    await sleep(Math.max(0, Date.parse(first.json.data.expires_at) + 1_000 - Date.now()));
    assert.ok(await until(async () => (await w.alarms()).ran > ran, 10_000, 100), 'an alarm ran after the first file expired');
    assert.ok(Date.now() < Date.parse(newer.json.data.expires_at), 'and the newer file is still live');
    assert.equal((await get(first.json.data.download_url)).status, 404);
    const served = await get(newer.json.data.file_url);
    assert.equal(served.status, 200, 'the newer file survived the old id\'s expiry');
    assert.equal(sha256(served.body), sha256(newerBytes));
    const u = await assertUsageMatchesStorage(w, key);
    assert.deepEqual([u.files, u.bytes], [1, 2_000]);
  });
});

test('usage needs a valid key', async () => {
  const res = await api(worker, 'GET', '/api/v1/usage', {});
  assert.equal(res.status, 401);
  assert.equal(res.json.code, 401);
});
