// The ingest engine's one-stream path over HTTP: a ranged file (more than one part) whose
// probe came faster than ONE_STREAM_MIB_S goes up as ONE streamed put, not a multipart
// upload, and is still resumed where it breaks. This stack sets ONE_STREAM_MIB_S=1, so any
// probe that came within a second takes that path (the default, 64 MiB/s, is a rate only an
// origin a few milliseconds away reaches: see ingest-parallel.test.mjs for the other side).
// Byte-exact with the origin's sha256; resets at 30 % and 70 % resumed with the origin
// sending at most 1.1 x; every attempt breaking, a file changed mid-transfer and a wrong
// expected_sha256 each refused with nothing stored and nothing charged; a batch of six
// such files, each broken once, all resumed (no item waits on another for a slot). A
// signed URL behind a redirect that expires is followed to again, also when that first
// refetch is refused for a moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, KEYS } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import {
  KiB, MiB, ATTEMPTS, STACK, assertStored, assertRefused, assertRanged, storedObject, rangesAfterProbe,
} from './support/ingest.mjs';

let origin;
let worker;
useStack({ ...STACK, vars: { ...STACK.vars, ONE_STREAM_MIB_S: '1' } }, (s) => ({ origin, worker } = s));

const ETAG = '"s1"';
// per connection: an origin cannot run far ahead of a broken response
const THROTTLE = 32 * MiB;
/** A read waits for at least this much (cursor.rs CHUNK_MIN): a break loses at most this. */
const CHUNK_MIN = 64 * KiB;

/** Uploads `body` served at `path` with `opts`, counting the Worker's calls; checks it was
 * stored byte-exact as one stream: the probe, then ranges that each run to the end of the
 * file, one put (no multipart upload), at most 2 calls waiting at once. */
async function streamed(path, body, opts) {
  const url = origin.file(path, body, opts);
  const { calls, result } = await worker.countCalls(() => upload(worker, { file_url: url, upload_path: 'stream' }));
  const data = await assertStored(result, body, path);
  assert.deepEqual(storedObject(worker, data).parts, [], 'one put, not a multipart upload');
  assert.deepEqual(calls.parts, [], 'no multipart upload was started');
  const requests = assertRanged(origin, path, opts.etag ?? opts.lastModified);
  const ranges = rangesAfterProbe(requests, body.length);
  assert.deepEqual(ranges[0], [MiB, body.length], 'after the probe, the rest of the file in one range');
  for (const [, end] of ranges) assert.equal(end, body.length, `every range runs to the end: ${JSON.stringify(ranges)}`);
  assert.ok(calls.waiting.peak <= 2, `the origin's request and the put at most: ${calls.waiting.peak}`);
  assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
  return { data, ranges };
}

for (const [label, size] of [
  ['two parts\' worth (10 MiB + 3)', 10 * MiB + 3],
  ['one byte past a part (5 MiB + 1)', 5 * MiB + 1],
  ['a parallel-size file (20 MiB)', 20 * MiB],
]) {
  test(`one stream, ${label}: byte-exact, sha256, one put, If-Range on the rest`, async () => {
    await streamed(`/stream/${size}.bin`, filler(size, size % 997), { ranges: true, etag: ETAG });
  });
}

test('one stream with Last-Modified as the only validator', async () => {
  await streamed('/stream/last-modified.bin', filler(9 * MiB, 301), { ranges: true, lastModified: 'Tue, 03 Nov 2015 10:00:00 GMT' });
});

test('resets at 30 % and 70 %: resumed within a read of where each broke, byte-exact, sent at most 1.1 x', async () => {
  const size = 24 * MiB;
  const body = filler(size, 302);
  const cuts = [Math.floor(size * 0.3), Math.floor(size * 0.7)];
  const { ranges } = await streamed('/stream/resets.bin', body, { ranges: true, etag: ETAG, throttle: THROTTLE, resetAt: cuts });
  assert.equal(ranges.length, 3, `the rest, then one range per break: ${JSON.stringify(ranges)}`);
  for (const [i, cut] of cuts.entries()) {
    const [start] = ranges[i + 1];
    assert.ok(start <= cut && start > cut - CHUNK_MIN, `resumed at ${start}, within ${CHUNK_MIN} bytes before the break at ${cut}`);
  }
});

test('a response that stalls mid-body is abandoned after the idle timeout and resumed', async () => {
  const size = 8 * MiB;
  const stop = 5 * MiB;
  const { ranges } = await streamed('/stream/stall.bin', filler(size, 303), { ranges: true, etag: ETAG, stallAt: stop });
  assert.equal(ranges.length, 2, JSON.stringify(ranges));
  assert.ok(ranges[1][0] <= stop && ranges[1][0] > stop - CHUNK_MIN, `resumed near the stall: ${JSON.stringify(ranges)}`);
});

test('every attempt breaks: 502 after a bounded number of attempts, no object, nothing charged', async () => {
  const path = '/stream/never.bin';
  // every response breaks after 2 MiB: the probe (1 MiB) comes whole, the rest never does
  const url = origin.file(path, filler(12 * MiB, 304), { ranges: true, etag: ETAG, resetEvery: 2 * MiB });
  await assertRefused(worker, { file_url: url, upload_path: 'stream', file_name: 'never.bin' }, 502, /connection failed during the download/);
  const requests = assertRanged(origin, path, ETAG);
  assert.equal(requests.length, 1 + ATTEMPTS, `the probe, then ${ATTEMPTS} attempts at the rest, each resumed where the last broke`);
  const ranges = rangesAfterProbe(requests, 12 * MiB);
  for (let i = 1; i < ranges.length; i += 1) assert.ok(ranges[i][0] > ranges[i - 1][0], `each attempt goes on from further: ${JSON.stringify(ranges)}`);
});

test('the file changes while it streams (new ETag): 502 "changed at the origin", no object, never spliced', async () => {
  const [v1, v2] = [filler(12 * MiB, 305), filler(12 * MiB, 306)];
  const path = '/stream/changed.bin';
  const url = origin.file(path, v1, { ranges: true, etag: ETAG, throttle: THROTTLE, resetAt: [6 * MiB], changeAfterRequests: 2, changedBody: v2, changedEtag: '"s2"' });
  await assertRefused(worker, { file_url: url, upload_path: 'stream', file_name: 'changed.bin' }, 502, /changed at the origin/);
  assertRanged(origin, path, ETAG);
});

test('expected_sha256 on the one-stream path: right stores; wrong is 422 naming both, no object, nothing charged', async () => {
  const body = filler(11 * MiB, 307);
  const right = await upload(worker, { file_url: origin.file('/stream/right.bin', body, { ranges: true, etag: ETAG }), upload_path: 'stream', expected_sha256: sha256(body) });
  await assertStored(right, body);
  const wrong = sha256(Buffer.from('something else'));
  const url = origin.file('/stream/wrong.bin', body, { ranges: true, etag: ETAG });
  const res = await assertRefused(worker, { file_url: url, upload_path: 'stream', file_name: 'w.bin', expected_sha256: wrong }, 422, /sha256/i);
  assert.ok(res.json.msg.includes(wrong) && res.json.msg.includes(sha256(body)), `msg names both digests: ${res.json.msg}`);
  assert.equal(origin.requests('/stream/wrong.bin').length, 2, 'the probe and the rest: one stream');
});

test('a batch of six streamed files, each broken once mid-stream: five run at once, and every one is resumed and stored', async () => {
  // Each streamed put holds one of the request's six slots until its last byte, and a
  // resume needs one more: the batch runs five at a time, so one slot is always free.
  const bodies = Array.from({ length: 6 }, (_, i) => filler(8 * MiB + i, 310 + i));
  const paths = bodies.map((_, i) => `/stream/batch-${i}.bin`);
  const items = bodies.map((body, i) => ({
    file_url: origin.file(paths[i], body, { ranges: true, etag: ETAG, throttle: THROTTLE, resetAt: [4 * MiB] }),
    upload_path: 'stream-batch',
    file_name: `b${i}.bin`,
  }));
  const { calls, result } = await worker.countCalls(() => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items } }));
  assert.equal(result.status, 200, JSON.stringify(result.json));
  assert.deepEqual([result.json.data.succeeded, result.json.data.failed], [6, 0], JSON.stringify(result.json));
  for (const [i, r] of result.json.data.results.entries()) {
    const data = await assertStored({ status: r.code, json: r }, bodies[i], `item ${i}`);
    assert.deepEqual(storedObject(worker, data).parts, [], `item ${i}: one put`);
    const ranges = rangesAfterProbe(assertRanged(origin, paths[i], ETAG), bodies[i].length);
    assert.equal(ranges.length, 2, `item ${i}: the rest, then the rest again from where it broke: ${JSON.stringify(ranges)}`);
  }
  assert.deepEqual(calls.parts, [], 'no multipart upload');
  assert.ok(calls.waiting.peak <= 6, `at most 6 calls waiting for headers at once: ${calls.waiting.peak}`);
  // five at once: each of the first five began before any of them ended (none waited for a
  // slot another held, nor for another's resume)
  const firstEnd = Math.min(...paths.slice(0, 5).map((p) => origin.requests(p).at(-1).closedAt));
  paths.slice(0, 5).forEach((p, i) => {
    const began = origin.requests(p)[0].at;
    assert.ok(began < firstEnd, `item ${i} began ${began - firstEnd} ms after the first of the five ended`);
  });
});

test('a signed URL behind a redirect that expires after the probe, whose first refetch is answered 503: tried again at the expired URL, then through the redirect; byte-exact, one put', async () => {
  const body = filler(12 * MiB, 273);
  const path = '/s/signed-busy.bin';
  origin.file(path, body, { ranges: true, etag: ETAG, throttle: THROTTLE, signed: 1 }); // each signed URL is good for 1 request
  const url = origin.signer('/s/sign-busy', path, { busy: [2] });
  const res = await upload(worker, { file_url: url, upload_path: 'stream', file_name: 'signed-busy.bin' });
  const data = await assertStored(res, body, path);
  assert.deepEqual(storedObject(worker, data).parts, [], 'one put');
  // the probe at sig=1; the rest at sig=1 (expired); the refetch refused (503); the rest at
  // sig=1 again (expired: not at the first URL, which redirects); the refetch to sig=2
  assert.deepEqual(origin.requests('/s/sign-busy').map((r) => r.status), [302, 503, 302]);
  assert.deepEqual(origin.requests(path).map((r) => r.status), [206, 403, 403, 206]);
});
