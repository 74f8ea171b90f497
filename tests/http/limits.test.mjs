// A Worker with a short TTL, a short fetch timeout and the image-only allow-list of
// seeds 001/002: expiry, timeouts and type refusals, each leaving nothing stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin } from './support/origin.mjs';
import { startWorker, upload, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';

const TTL = 3;
let origin;
let worker;
let silent; // accepts connections and never answers

before(async () => {
  origin = await startOrigin();
  const net = await import('node:net');
  silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  worker = await startWorker({
    allow: [origin.host, `127.0.0.1:${silent.address().port}`],
    assets: false, // the sweep test triggers `scheduled`, which local assets break (see startWorker)
    vars: { FILE_TTL_SECONDS: String(TTL), FETCH_TIMEOUT_MS: '1500', ALLOWED_MIME_TYPES: 'image/jpeg,image/png,image/gif,image/webp' },
  });
});
after(async () => {
  await worker?.stop();
  await origin?.close();
  silent?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const underPath = (path) => worker.r2().objects.filter((o) => o.key.includes(`/${path}/`) || o.custom.object_key?.includes(`/${path}/`));

test('a type outside the allow-list is 415 and stores nothing', async () => {
  const res = await upload(worker, { file_url: origin.file('/doc.pdf', TYPES.pdf.bytes, { contentType: 'image/png' }), upload_path: 'refused' });
  assert.equal(res.status, 415);
  assert.equal(res.json.code, 415);
  assert.match(res.json.msg, /`application\/pdf` is not allowed/);
  assert.deepEqual(underPath('refused'), []);
});

test('expiry: served until the TTL, then 404 on both URLs and deleted', async () => {
  const res = await upload(worker, { file_url: origin.file('/exp.png', TYPES.png.bytes), upload_path: 'expiring' });
  assert.equal(res.status, 200);
  const d = res.json.data;
  assert.equal(Date.parse(d.expires_at) - Date.parse(d.upload_time), TTL * 1000);
  assert.equal(sha256((await get(d.file_url)).body), sha256(TYPES.png.bytes));
  const dl = await get(d.download_url);
  assert.ok(Number(/max-age=(\d+)/.exec(dl.headers.get('cache-control'))[1]) <= TTL);
  await sleep(Date.parse(d.expires_at) - Date.now() + 500);
  assert.equal((await get(d.download_url)).status, 404);
  assert.equal((await get(d.file_url)).status, 404);
  assert.deepEqual(underPath('expiring'), [], 'the read deleted the object and its index entry');
});

test('the scheduled sweep deletes expired files nobody read', async () => {
  const res = await upload(worker, { file_url: origin.file('/sweep.gif', TYPES.gif.bytes), upload_path: 'swept' });
  assert.equal(res.status, 200);
  assert.equal(underPath('swept').length, 2, 'object and index entry');
  await sleep(Date.parse(res.json.data.expires_at) - Date.now() + 500);
  await worker.cron();
  assert.deepEqual(underPath('swept'), []);
});

for (const [label, opts] of [['with', { contentLength: 1024 * 1024 }], ['without', {}]]) {
  test(`an origin that stalls (${label} Content-Length) is 504 and stores nothing`, async () => {
    // a PNG start (so the type passes) and then nothing more
    const url = origin.stall(`/stall-${label}`, Buffer.concat([TYPES.png.bytes, filler(8192, 12)]), opts);
    const started = Date.now();
    const res = await upload(worker, { file_url: url, upload_path: `stalled-${label}`, file_name: 's.png' });
    assert.equal(res.status, 504, JSON.stringify(res.json));
    assert.equal(res.json.code, 504);
    assert.match(res.json.msg, /within 1500 ms/);
    assert.ok(Date.now() - started < 15_000);
    assert.deepEqual(underPath(`stalled-${label}`), []);
    assert.deepEqual(worker.r2().multipart.filter((m) => m.state === 0), []);
  });
}

test('an origin that accepts the connection and never answers is 504', async () => {
  const res = await upload(worker, { file_url: `http://127.0.0.1:${silent.address().port}/x.png` });
  assert.equal(res.status, 504, JSON.stringify(res.json));
});

test('a disabled key stays refused here too', async () => {
  const res = await upload(worker, { file_url: origin.file('/k.png', TYPES.png.bytes) }, { key: KEYS.off.key });
  assert.equal(res.status, 401);
});
