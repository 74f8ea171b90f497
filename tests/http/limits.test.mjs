// A Worker with a short TTL, a short fetch timeout and the image-only allow-list of
// seeds 001/002: expiry (each URL and route checks it on its own), timeouts and type
// refusals, each leaving nothing stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useStack, upload, api, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingStored, assertFileUrlCaching, assertDownloadCaching } from './support/assert.mjs';
import { sleep } from './support/burst.mjs';

const TTL = 2;
const NOT_FOUND = { success: false, code: 404, msg: 'file not found or expired', data: null };
let silent; // accepts connections and never answers
let origin;
let worker;
useStack(async () => {
  silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  return {
    allow: [`127.0.0.1:${silent.address().port}`],
    vars: { FILE_TTL_SECONDS: String(TTL), FETCH_TIMEOUT_MS: '1500', ALLOWED_MIME_TYPES: 'image/jpeg,image/png,image/gif,image/webp' },
  };
}, (s) => ({ origin, worker } = s));
after(() => silent?.close());

/** Waits until `expiresAt` has passed (a bounded loop: at most TTL + 5 seconds). */
async function pastExpiry(expiresAt) {
  const due = Date.parse(expiresAt) + 100;
  for (let i = 0; i < (TTL + 5) * 10 && Date.now() < due; i++) await sleep(100);
  assert.ok(Date.now() >= due, 'expired');
}

async function stored(name, path) {
  const res = await upload(worker, { file_url: origin.file(`/${path}/${name}`, TYPES.png.bytes), upload_path: path, file_name: name });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const d = res.json.data;
  assert.equal(Date.parse(d.expires_at) - Date.parse(d.upload_time), TTL * 1000);
  return d;
}

test('a type outside the allow-list is 415 and stores nothing', async () => {
  const mark = worker.r2();
  const res = await upload(worker, { file_url: origin.file('/doc.pdf', TYPES.pdf.bytes, { contentType: 'image/png' }), upload_path: 'refused' });
  assert.equal(res.status, 415);
  assert.equal(res.json.code, 415);
  assert.match(res.json.msg, /`application\/pdf` is not allowed/);
  assertNothingStored(worker, mark);
});

test('file_url checks expiry itself: read only through file_url, it is 404 once expired', async () => {
  const d = await stored('by-name.png', 'expiring-name');
  const live = await get(d.file_url);
  assert.equal(live.status, 200);
  assert.equal(sha256(live.body), sha256(TYPES.png.bytes));
  assertFileUrlCaching(live);
  await pastExpiry(d.expires_at);
  // nothing has read download_url: the name's own check answers
  const gone = await get(d.file_url);
  assert.equal(gone.status, 404);
  assert.deepEqual(JSON.parse(gone.body), NOT_FOUND);
  assert.equal((await get(d.file_url, {}, 'HEAD')).status, 404);
});

test('download_url: max-age is what is left of the file, then 404 once expired', async () => {
  const d = await stored('by-id.png', 'expiring-id');
  const live = await get(d.download_url);
  assert.equal(live.status, 200);
  assert.equal(sha256(live.body), sha256(TYPES.png.bytes));
  assert.ok(assertDownloadCaching(live, d.expires_at) <= TTL);
  await pastExpiry(d.expires_at);
  const gone = await get(d.download_url);
  assert.equal(gone.status, 404);
  assert.deepEqual(JSON.parse(gone.body), NOT_FOUND);
});

test('an expired id: GET and DELETE /api/v1/files/{id} are 404, and the listing leaves it out', async () => {
  const d = await stored('by-route.png', 'expiring-route');
  const listed = await api(worker, 'GET', '/api/v1/files?upload_path=expiring-route', { token: KEYS.a.key });
  assert.deepEqual(listed.json.data.files.map((f) => f.file_id), [d.file_id]);
  await pastExpiry(d.expires_at);
  assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key }), 404, /file not found/);
  const after = await api(worker, 'GET', '/api/v1/files?upload_path=expiring-route', { token: KEYS.a.key });
  assert.deepEqual(after.json.data, { files: [], cursor: null });
  assertError(await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key }), 404, /file not found/);
});

for (const [label, opts] of [['with', { contentLength: 1024 * 1024 }], ['without', {}]]) {
  test(`an origin that stalls (${label} Content-Length) is 504 and stores nothing`, async () => {
    // a PNG start (so the type passes) and then nothing more
    const url = origin.stall(`/stall-${label}`, Buffer.concat([TYPES.png.bytes, filler(8192, 12)]), opts);
    const mark = worker.r2();
    const res = await upload(worker, { file_url: url, upload_path: `stalled-${label}`, file_name: 's.png' });
    assert.equal(res.status, 504, JSON.stringify(res.json));
    assert.equal(res.json.code, 504);
    assert.match(res.json.msg, /within 1500 ms/);
    assertNothingStored(worker, mark);
  });
}

test('an origin that accepts the connection and never answers is 504', async () => {
  const mark = worker.r2();
  const res = await upload(worker, { file_url: `http://127.0.0.1:${silent.address().port}/x.png` });
  assertError(res, 504, /within 1500 ms/);
  assertNothingStored(worker, mark);
});

test('a disabled key stays refused here too', async () => {
  const res = await upload(worker, { file_url: origin.file('/k.png', TYPES.png.bytes) }, { key: KEYS.off.key });
  assertError(res, 401, /disabled/);
});
