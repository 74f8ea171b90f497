// A Worker with a short TTL, a short fetch timeout and the image-only allow-list of
// seeds 001/002: expiry (each URL and route checks it on its own: the key's alarm is held
// back while they are read, so the expired file's row and object are still there), timeouts
// and type refusals, each leaving nothing stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useStack, upload, api, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingKept, marked, assertFileUrlCaching, assertDownloadCaching, assertLifetime } from './support/assert.mjs';
import { sleep, usage } from './support/burst.mjs';

// Long enough that two uploads, their lifetime checks and a read on a busy machine all fall
// inside one lifetime (5 s left a second of slack under load).
const TTL = 10;
// The deployment's ALLOWED_MIME_TYPES, as a refusal names them
const ALLOWED = 'image/jpeg, image/png, image/gif, image/webp';
const NOT_FOUND = { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null };
let silent; // accepts connections and never answers
let origin;
let worker;
useStack(async () => {
  silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  return {
    // counting: for its hold on the key's alarm (support/counting.mjs)
    counting: true,
    allow: [`127.0.0.1:${silent.address().port}`],
    vars: { FILE_TTL_SECONDS: String(TTL), FETCH_TIMEOUT_MS: '1500', ALLOWED_MIME_TYPES: ALLOWED.replaceAll(', ', ',') },
  };
}, (s) => ({ origin, worker } = s));
after(() => silent?.close());

/** Waits until `expiresAt` has passed (a bounded loop: at most TTL + 5 seconds). */
async function pastExpiry(expiresAt) {
  const due = Date.parse(expiresAt) + 100;
  for (let i = 0; i < (TTL + 5) * 10 && Date.now() < due; i++) await sleep(100);
  assert.ok(Date.now() >= due, 'expired');
}

/** Past the latest of `files`' expiry, with the key's alarm (held: `worker.holdAlarms()`
 * first) fired and waiting: nothing has retired them, their rows and objects are there. */
async function expiredUnretired(files) {
  await pastExpiry(files.map((d) => d.expires_at).sort().at(-1));
  for (let i = 0; i < 200 && (await worker.alarms()).waiting === 0; i++) await sleep(100);
  assert.ok((await worker.alarms()).waiting >= 1, 'the key\'s alarm fired and is held');
  const keys = objectKeys();
  for (const d of files) assert.ok(keys.includes(`o/${d.file_id}`), `R2 still holds o/${d.file_id}`);
}

/** Releases the held alarm and waits (bounded) until it has retired `files`: their objects
 * gone from R2. */
async function retiredByAlarm(files) {
  await worker.releaseAlarms();
  const left = () => files.filter((d) => objectKeys().includes(`o/${d.file_id}`));
  for (let i = 0; i < 100 && left().length; i++) await sleep(100);
  assert.deepEqual(left().map((d) => d.file_id), [], 'the alarm deleted their objects');
}

/** Runs `fn` with the key's alarm held, releasing it however `fn` ends; then waits (bounded)
 * until no expired object is left, so a test that failed midway leaves none to the next. */
async function alarmHeld(fn) {
  await worker.holdAlarms();
  try {
    return await fn();
  } finally {
    await worker.releaseAlarms();
    const expired = () => worker.r2().objects.filter((o) => Number(o.custom.expires_ms) <= Date.now());
    for (let i = 0; i < 100 && expired().length; i++) await sleep(100);
  }
}

const objectKeys = () => worker.r2().objects.map((o) => o.key);
const counted = ({ bytes, files }) => ({ bytes, files });

async function stored(name, path) {
  const res = await upload(worker, { file_url: origin.file(`/${path}/${name}`, TYPES.png.bytes), upload_path: path, file_name: name });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const d = res.json.data;
  await assertLifetime(worker, d, TTL);
  return d;
}

test('a type outside the allow-list is 415 and stores nothing', async () => {
  const mark = await marked(worker);
  const res = await upload(worker, { file_url: origin.file('/doc.pdf', TYPES.pdf.bytes, { contentType: 'image/png' }), upload_path: 'refused' });
  assert.equal(res.status, 415);
  assert.equal(res.json.code, 415);
  assert.equal(res.json.msg, `file type \`application/pdf\` is not allowed (allowed: ${ALLOWED})`);
  await assertNothingKept(worker, mark);
});

test('bytes that only claim an allowed image type (by Content-Type or by name) are 415 and store nothing; SVG markup is taken for SVG', async () => {
  // a shell script, typed or named as a PNG or an SVG: PNG has a signature, and these
  // bytes lack it; SVG has none, and these bytes are no markup
  const script = Buffer.from('echo "not an image"\n'.repeat(50));
  for (const [path, contentType] of [['/claims/typed', 'image/png'], ['/claims/photo.png', null], ['/claims/typed-svg', 'image/svg+xml'], ['/claims/drawing.svg', null]]) {
    const mark = await marked(worker);
    const res = await upload(worker, { file_url: origin.file(path, script, { contentType }), upload_path: 'refused' });
    assert.equal(res.status, 415, JSON.stringify(res.json));
    assert.equal(res.json.msg, `file type \`application/octet-stream\` is not allowed (allowed: ${ALLOWED})`);
    await assertNothingKept(worker, mark);
  }
  // and real SVG markup, typed or named, an XML declaration and a comment first or not, is
  // taken for SVG (which this list does not take either)
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n';
  for (const [path, body, contentType] of [['/claims/real-typed', svg, 'image/svg+xml'], ['/claims/real.svg', `<?xml version="1.0"?>\n<!-- made by hand -->\n${svg}`, null]]) {
    const res = await upload(worker, { file_url: origin.file(path, Buffer.from(body), { contentType }), upload_path: 'refused' });
    assert.equal(res.status, 415, JSON.stringify(res.json));
    assert.equal(res.json.msg, `file type \`image/svg+xml\` is not allowed (allowed: ${ALLOWED})`);
  }
});

test('file_url checks expiry itself, cold and cached: 404 once expired, before the alarm retires it', async () => {
  const files = await alarmHeld(async () => {
    const cached = await stored('by-name.png', 'expiring-name');
    const cold = await stored('cold.png', 'expiring-name');
    const live = await get(cached.file_url);
    assert.equal(live.status, 200);
    assert.equal(sha256(live.body), sha256(TYPES.png.bytes));
    assertFileUrlCaching(live);
    await expiredUnretired([cached, cold]);
    // nothing has read download_url: the name's own check answers, for a name this isolate
    // resolved a moment ago (cached) and for one it never read (cold)
    for (const d of [cached, cold]) {
      const gone = await get(d.file_url);
      assert.equal(gone.status, 404, d.file_url);
      assert.deepEqual(JSON.parse(gone.body), NOT_FOUND);
      assert.equal((await get(d.file_url, {}, 'HEAD')).status, 404, `HEAD ${d.file_url}`);
    }
    return [cached, cold];
  });
  await retiredByAlarm(files);
});

test('download_url: max-age is what is left of the file, then 404 (GET and HEAD) once expired, before the alarm retires it', async () => {
  const file = await alarmHeld(async () => {
    const d = await stored('by-id.png', 'expiring-id');
    const live = await get(d.download_url);
    assert.equal(live.status, 200);
    assert.equal(sha256(live.body), sha256(TYPES.png.bytes));
    assert.ok(assertDownloadCaching(live, d.expires_at) <= TTL);
    await expiredUnretired([d]);
    const gone = await get(d.download_url);
    assert.equal(gone.status, 404);
    assert.deepEqual(JSON.parse(gone.body), NOT_FOUND);
    assert.equal((await get(d.download_url, {}, 'HEAD')).status, 404, 'HEAD');
    return d;
  });
  await retiredByAlarm([file]);
});

test('an expired id: GET and DELETE /api/v1/files/{id} are 404 and the listing leaves it out while R2 still holds it; then the alarm retires it', async () => {
  const before = counted(await usage(worker, KEYS.a.key));
  let d;
  await alarmHeld(async () => {
    d = await stored('by-route.png', 'expiring-route');
    const listed = await api(worker, 'GET', '/api/v1/files?upload_path=expiring-route', { token: KEYS.a.key });
    assert.deepEqual(listed.json.data.files.map((f) => f.file_id), [d.file_id]);
    const held = { bytes: before.bytes + d.file_size, files: before.files + 1 };
    assert.deepEqual(counted(await usage(worker, KEYS.a.key)), held);
    await expiredUnretired([d]);
    assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key }), 404, /file not found/);
    const after = await api(worker, 'GET', '/api/v1/files?upload_path=expiring-route', { token: KEYS.a.key });
    assert.deepEqual(after.json.data, { files: [], cursor: null });
    assertError(await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key }), 404, /file not found/);
    // the refused delete deleted nothing: these reads leave an expired file to the alarm
    // (usage and the quota count it no more: expiry.test)
    assert.ok(objectKeys().includes(`o/${d.file_id}`), 'R2 still holds it');
  });
  await retiredByAlarm([d]);
  assert.deepEqual(counted(await usage(worker, KEYS.a.key)), before, 'usage gives it back');
});

for (const [label, opts] of [['with', { contentLength: 1024 * 1024 }], ['without', {}]]) {
  test(`an origin that stalls (${label} Content-Length) is 504 and stores nothing`, async () => {
    // a PNG start (so the type passes) and then nothing more
    const url = origin.stall(`/stall-${label}`, Buffer.concat([TYPES.png.bytes, filler(8192, 12)]), opts);
    const mark = await marked(worker);
    const res = await upload(worker, { file_url: url, upload_path: `stalled-${label}`, file_name: 's.png' });
    assert.equal(res.status, 504, JSON.stringify(res.json));
    assert.equal(res.json.code, 504);
    assert.match(res.json.msg, /within 1500 ms/);
    await assertNothingKept(worker, mark);
  });
}

test('an origin that accepts the connection and never answers is 504', async () => {
  const mark = await marked(worker);
  const res = await upload(worker, { file_url: `http://127.0.0.1:${silent.address().port}/x.png` });
  assertError(res, 504, /within 1500 ms/);
  await assertNothingKept(worker, mark);
});

test('a disabled key stays refused here too', async () => {
  const res = await upload(worker, { file_url: origin.file('/k.png', TYPES.png.bytes) }, { key: KEYS.off.key });
  assertError(res, 401, /disabled/);
});
