// The ingest engine's parallel path over HTTP: a file of more than one part (5 MiB) from an
// origin with ranges and a validator, whose connections are slower than ONE_STREAM_MIB_S
// (the origins here send 32 MiB/s per connection, two 2 MiB/s; the default is 64), is
// fetched as equal ranges over up to 5 connections at once, each stored as an R2 multipart
// part (sizes by partSizes in support/ingest.mjs), every range with If-Range; the lanes
// start once the one-stream budget runs out, not after the probe's whole MiB; byte-exact
// with the right sha256 at part boundaries; each part's upload running while its range
// arrives; resumed after resets at 30 % and 70 % with the origin sending at most 1.1 x the
// file; an origin that refuses more than 2 connections at once is served over its 2;
// signed URLs behind a redirect that expire mid-transfer are followed to again (the user's
// headers to the first URL only, and a URL found that drops the validator refused);
// refused with nothing stored when every attempt breaks, when the file changes
// mid-transfer, when the redirect leads to an expired URL again, when a range comes in a content coding, or when expected_sha256 is wrong;
// and never more than 6 outbound calls waiting for headers at once, for one upload or a
// batch of three (one of which runs lanes: one transfer per isolate does, for memory; the
// others go up as one streamed put each).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { useStack, upload, api, KEYS } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { sleep } from './support/burst.mjs';
import { startOrigin } from './support/origin.mjs';
import {
  MiB, PROBE, ATTEMPTS, STACK, partSizes, assertStored, assertRefused, assertRanged, assertParallel, storedObject, rangesAfterProbe,
} from './support/ingest.mjs';

let origin;
let worker;
let other; // a second loopback origin (another port is another origin), for signed URLs elsewhere
useStack(
  async () => {
    other = await startOrigin();
    return { ...STACK, allow: [other.host] };
  },
  (s) => ({ origin, worker } = s),
);
after(() => other?.close());

const ETAG = '"p1"';
// per connection: ranges overlap in time (so the parallelism is visible) and an origin
// cannot run far ahead of a broken or cancelled response
const THROTTLE = 32 * MiB;
const ranged = (extra = {}) => ({ ranges: true, etag: ETAG, throttle: THROTTLE, ...extra });

/** Uploads `body` served at `path` with `opts`, counting the Worker's calls; checks it was
 * stored byte-exact the parallel way. Answers FileData, the calls and the origin's requests. */
async function parallel(path, body, opts = ranged(), extra = {}) {
  const url = origin.file(path, body, opts);
  const { calls, result } = await worker.countCalls(() => upload(worker, { file_url: url, upload_path: 'parallel', ...extra }));
  const data = await assertStored(result, body, path);
  assertParallel({ worker, origin, path, data, calls, total: body.length, validator: opts.etag ?? opts.lastModified });
  return { data, calls, requests: origin.requests(path) };
}

for (const [label, size] of [
  ['exactly 4 parts (20 MiB)', 20 * MiB],
  ['one byte past a part boundary (20 MiB + 1: 5 parts, the last 1 byte)', 20 * MiB + 1],
  ['the smallest parallel file (16 MiB: 5, 5, 5 and 1 MiB)', 16 * MiB],
]) {
  test(`parallel, ${label}: byte-exact, sha256, parts as designed, If-Range on every range`, async () => {
    const path = `/par/${size}.bin`;
    const body = filler(size, size % 1000);
    await parallel(path, body);
    // each byte once: part 1 goes on from the probe's MiB, never asks for it again
    assert.equal(origin.sent(path), size, 'the origin sent the file once');
  });
}

test('a slow origin: the other lanes start when the one-stream budget (15 ms) runs out, not after the probe\'s whole MiB', async () => {
  const path = '/par/slow-start.bin';
  const body = filler(20 * MiB, 240); // four parts of 5 MiB
  // at 1 MiB/s per connection the probe's MiB takes a second
  const { requests } = await parallel(path, body, ranged({ throttle: MiB }));
  const second = requests[1];
  assert.ok(second.sentBefore < MiB / 2, `the second range was asked when the origin had sent ${second.sentBefore} bytes: before the probe's MiB`);
});

test('with the isolate\'s buffer budget held by other transfers, a parallel-size file goes up as one stream; once it is free, in parallel parts', async () => {
  // seven uploads without a length, each holding 10 MiB of the isolate's 80 while its origin
  // drips (1.5 MiB at 128 KiB/s: 12 s)
  const holders = Array.from({ length: 7 }, (_, i) => {
    const bytes = filler(1536 * 1024, 300 + i);
    const url = origin.file(`/par/holder-${i}.bin`, bytes, { chunked: true, throttle: 128 * 1024 });
    return { bytes, done: upload(worker, { file_url: url, upload_path: 'budget', file_name: `holder-${i}.bin` }) };
  });
  // each takes its buffers once its origin's headers come: wait (bounded) until every origin
  // is sending, and a little more
  for (let i = 0; i < 100 && holders.some((_, n) => origin.sent(`/par/holder-${n}.bin`) === 0); i++) await sleep(50);
  await sleep(500);
  // 16 MiB at 8 MiB/s per connection: slower than one stream's budget, so lanes, when the
  // budget can spare their 4 parts of 5 MiB, one waiting to be hashed and their scratch
  const body = filler(16 * MiB, 310);
  const path = '/par/budget-short.bin';
  const short = await upload(worker, { file_url: origin.file(path, body, ranged({ throttle: 8 * MiB })), upload_path: 'budget', file_name: 'short.bin' });
  await assertStored(short, body, path);
  const asked = origin.requests(path).map((r) => r.range);
  assert.equal(asked.length, 2, `75 of 80 MiB held: the probe and one range for the rest, no lanes: ${JSON.stringify(asked)}`);
  for (const h of holders) await assertStored(await h.done, h.bytes);
  // the budget is free again: the same file in parallel parts
  await parallel('/par/budget-free.bin', body, ranged({ throttle: 8 * MiB }));
});

test('parallel with Last-Modified as the only validator', async () => {
  const path = '/par/last-modified.bin';
  const date = 'Tue, 03 Nov 2015 10:00:00 GMT';
  await parallel(path, filler(18 * MiB, 201), { ranges: true, lastModified: date, throttle: THROTTLE });
});

test('no Content-Length on the 200 does not matter: the 206s have one, parallel as usual', async () => {
  await parallel('/par/chunked.bin', filler(17 * MiB + 3, 202), ranged({ chunked: true }));
});

test('206s sent chunked, without Content-Length: their Content-Range gives their size, parallel as usual', async () => {
  const path = '/par/chunked-206.bin';
  const { requests } = await parallel(path, filler(17 * MiB + 5, 203), ranged({ chunked: true, chunked206: true }));
  assert.ok(requests.every((r) => r.range !== null), `every request was a range, none asked for the whole file again: ${JSON.stringify(requests.map((r) => r.range))}`);
});

test('resets at 30 % and 70 %: resumed where each broke, byte-exact, the origin sent at most 1.1 x', async () => {
  const size = 32 * MiB; // parts of 7 MiB: refetching a whole part would send 1.125 x
  const body = filler(size, 203);
  const cuts = [Math.floor(size * 0.3), Math.floor(size * 0.7)];
  const path = '/par/resets.bin';
  const { requests } = await parallel(path, body, ranged({ resetAt: cuts }));
  assert.ok(origin.sent(path) <= size * 1.1, `the origin sent ${origin.sent(path)} bytes for ${size}`);
  for (const cut of cuts) {
    assert.ok(rangesAfterProbe(requests, size).some(([start]) => start === cut), `a range resumed at ${cut}: ${JSON.stringify(requests.map((r) => r.range))}`);
  }
  assert.equal(requests.filter((r) => r.status === 200).length, 0, 'no whole-file answer: every range was honoured');
});

test('each part goes up while its range arrives: a range stalled mid-part has its part\'s upload running already; resumed, byte-exact', async () => {
  const body = filler(12 * MiB, 271); // parts of 5, 5 and 2 MiB
  const path = '/par/streamed-parts.bin';
  const stop = 7 * MiB; // inside the second part
  const url = origin.file(path, body, ranged({ stallAt: stop }));
  await worker.resetCounts();
  const uploading = upload(worker, { file_url: url, upload_path: 'parallel' });
  // The stalled range is asked for again only after the idle timeout (15 s here); until
  // then its part has not all come, so a part upload made by then was made before it had.
  const resumed = () => origin.requests(path).some((r) => r.range === `bytes=${stop}-${10 * MiB - 1}`);
  let started = 0;
  for (let i = 0; i < 100 && started < 3 && !resumed(); i++) {
    await sleep(100);
    started = (await worker.counts()).parts.flat().length;
  }
  assert.equal(resumed(), false, 'the stalled range was not asked for again yet');
  assert.equal(started, 3, 'all three parts\' uploads started, the stalled part\'s with its first bytes');
  const data = await assertStored(await uploading, body, path);
  assertParallel({ worker, origin, path, data, calls: await worker.counts(), total: body.length, validator: ETAG });
  assert.ok(resumed(), `the stalled range resumed where it stopped: ${JSON.stringify(origin.requests(path).map((r) => r.range))}`);
});

test('expected_sha256 on the parallel path: right (uppercase) stores; wrong is 422 naming both, nothing stored', async () => {
  const body = filler(20 * MiB, 204);
  const right = await upload(worker, { file_url: origin.file('/par/expect-right.bin', body, ranged()), upload_path: 'parallel', expected_sha256: sha256(body).toUpperCase() });
  await assertStored(right, body);
  const wrong = sha256(Buffer.from('something else'));
  const url = origin.file('/par/expect-wrong.bin', body, ranged());
  const res = await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: 'w.bin', expected_sha256: wrong }, 422, /sha256/i);
  assert.ok(res.json.msg.includes(wrong) && res.json.msg.includes(sha256(body)), `msg names both digests: ${res.json.msg}`);
  assertRanged(origin, '/par/expect-wrong.bin', ETAG);
  assert.ok(origin.requests('/par/expect-wrong.bin').length > 2, 'the wrong one went the parallel way too');
});

test('every attempt breaks: 502 after at most 5 attempts per range, nothing stored, nothing charged', async () => {
  const size = 20 * MiB;
  const path = '/par/never.bin';
  const url = origin.file(path, filler(size, 205), ranged({ resetEvery: 256 * 1024 }));
  await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: 'never.bin' }, 502, /connection failed during the download/);
  const requests = assertRanged(origin, path, ETAG);
  const ranges = partSizes(size).length + 1; // the parts and the probe
  assert.ok(requests.length > ranges, `it did resume: ${requests.length} requests`);
  assert.ok(requests.length <= ATTEMPTS * ranges, `at most ${ATTEMPTS} attempts per range: ${requests.length} requests`);
});

for (const k of [1, 3]) {
  test(`the file changes after ${k} request(s) (new ETag): 502 "changed at the origin", nothing stored, never spliced`, async () => {
    const [v1, v2] = [filler(20 * MiB, 206 + k), filler(20 * MiB, 216 + k)];
    const path = `/par/changed-${k}.bin`;
    const url = origin.file(path, v1, ranged({ changeAfterRequests: k, changedBody: v2, changedEtag: '"p2"' }));
    await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: `c${k}.bin` }, 502, /changed at the origin/);
    assertRanged(origin, path, ETAG);
  });
}

test('a probe answered with more than was asked (206, all but the last byte): fetched again whole, byte-exact, no parts', async () => {
  const body = filler(20 * MiB, 240);
  const path = '/par/long-probe.bin';
  const { calls, result } = await worker.countCalls(() => upload(worker, {
    file_url: origin.file(path, body, ranged({ rangeLies: 'long-206' })), upload_path: 'parallel', file_name: 'long-probe.bin',
  }));
  const data = await assertStored(result, body, path);
  assert.deepEqual(storedObject(worker, data).parts, [], 'one put');
  assert.deepEqual(calls.parts, [], 'no multipart upload');
  assert.deepEqual(origin.requests(path).map((r) => r.range), [PROBE, null], 'the probe, then the whole file without Range');
});

test('an origin that takes 2 connections at once (503 to more): the refused lanes give their parts to the others; byte-exact', async () => {
  // At 2 MiB/s per connection the file takes seconds over 2 connections: longer than a
  // lane's 5 attempts (3.75 s of backoff), so lanes that kept retrying would fail it.
  const body = filler(20 * MiB + 1, 261);
  const path = '/par/two-connections.bin';
  const { requests } = await parallel(path, body, ranged({ throttle: 2 * MiB, maxConnections: 2 }));
  const refused = requests.filter((r) => r.status === 503);
  assert.ok(refused.length >= 1, 'the origin refused the connections past its 2');
  assert.ok(refused.every((r) => r.range !== null), 'only ranged requests were refused');
  assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
});

test('signed URLs behind a redirect that expire mid-transfer (403): a range whose URL expired follows the redirect again, and every lane goes on at the new URL; byte-exact, in parallel parts', async () => {
  // 10 parts over 5 lanes: every lane asks again after its first part
  const body = filler(48 * MiB + 1, 270);
  const path = '/par/signed.bin';
  origin.file(path, body, ranged({ signed: 2 })); // each signed URL is good for 2 requests
  const url = origin.signer('/par/sign', path);
  const { calls, result } = await worker.countCalls(() => upload(worker, {
    file_url: url, upload_path: 'parallel', file_name: 'signed.bin', origin_headers: { 'X-Token': 't0k' },
  }));
  const data = await assertStored(result, body, path);
  assert.deepEqual(storedObject(worker, data).parts, partSizes(body.length), 'stored in parallel parts');
  const requests = assertRanged(origin, path, ETAG);
  const expired = requests.filter((r) => r.status === 403);
  assert.ok(expired.length >= 1, 'signed URLs expired mid-transfer');
  const signs = origin.requests('/par/sign');
  assert.equal(signs.length, 1 + expired.length, 'the redirect was followed again once per expired answer');
  for (const r of signs.slice(1)) {
    assert.match(r.range ?? '', /^bytes=[1-9]\d*-\d+$/, `a refetch asks for its range: ${JSON.stringify(r)}`);
    assert.equal(r.ifRange, ETAG, 'with If-Range');
  }
  assert.ok(origin.headers('/par/sign').every((h) => h['x-token'] === 't0k'), "the user's headers go with every refetch");
  // a refetch uses a new signature once: one used twice was used by a lane that did not
  // refetch, at the URL another lane's refetch found
  const served = origin.rangesBySignature(path);
  assert.ok(Object.entries(served).some(([sig, n]) => sig !== '1' && n === 2), `a lane went on at a URL found by another: ${JSON.stringify(served)}`);
  assert.equal(calls.raw.worker?.fetch?.fetch ?? 0, requests.length + signs.length, 'every request counted');
  assert.ok(calls.waiting.peak <= 6, `at most 6 calls waiting for headers at once: ${calls.waiting.peak}`);
  // 10 parts: lanes that took a part each would be more than 5
  assert.ok(origin.concurrency(path) <= 5, `ranges answered at once: ${origin.concurrency(path)} (at most 5 lanes)`);
  assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
});

test('signed URLs that, once expired, answer a range with a redirect back to their signer (302): the first URL\'s redirects followed again; byte-exact, in parallel parts', async () => {
  const body = filler(48 * MiB + 1, 274);
  const path = '/par/signed-302.bin';
  const sign = '/par/sign-302';
  origin.file(path, body, ranged({ signed: 2, expiredRedirect: sign }));
  const res = await upload(worker, { file_url: origin.signer(sign, path), upload_path: 'parallel', file_name: 'signed-302.bin' });
  const data = await assertStored(res, body, path);
  assert.deepEqual(storedObject(worker, data).parts, partSizes(body.length), 'stored in parallel parts');
  const redirected = assertRanged(origin, path, ETAG).filter((r) => r.status === 302);
  assert.ok(redirected.length >= 1, 'signed URLs expired mid-transfer, answering 302');
  assert.equal(origin.requests(sign).length, 1 + redirected.length, 'the first URL asked again once per redirected range');
  assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
});

test('signed URLs on another origin: the user\'s headers go to the first URL on every refetch, never to the other origin; byte-exact', async () => {
  const body = filler(20 * MiB + 1, 274);
  const path = '/x/signed.bin';
  other.file(path, body, ranged({ signed: 1 }));
  const url = origin.signer('/par/sign-away', path, { on: other });
  const res = await upload(worker, { file_url: url, upload_path: 'parallel', file_name: 'signed-away.bin', origin_headers: { 'X-Token': 't0k' } });
  await assertStored(res, body, path);
  assert.ok(other.requests(path).some((r) => r.status === 403), 'signed URLs expired mid-transfer');
  const signs = origin.headers('/par/sign-away');
  assert.ok(signs.length >= 2 && signs.every((h) => h['x-token'] === 't0k'), `the first URL got the headers on every refetch (${signs.length} requests)`);
  assert.ok(other.headers(path).every((h) => h['x-token'] === undefined), 'the other origin never got them');
});

test('a refetch that lands where answers carry no validator (and ignore If-Range): 502 "changed", nothing stored, never spliced', async () => {
  const path = '/par/signed-bare.bin';
  origin.file(path, filler(20 * MiB, 275), ranged({ signed: 2, bareAfterFirstSig: true }));
  const url = origin.signer('/par/sign-bare', path);
  await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: 'signed-bare.bin' }, 502, /changed at the origin/);
  assert.ok(origin.requests(path).some((r) => r.status === 206 && r.sig !== '1'), 'a range was answered at a refetched URL, without a validator');
});

test('a redirect that leads to the same expired signed URL again: 502 naming the 403, nothing stored, nothing charged', async () => {
  const path = '/par/signed-fixed.bin';
  origin.file(path, filler(20 * MiB, 271), ranged({ signed: 2 }));
  const url = origin.signer('/par/sign-fixed', path, { fixed: true });
  await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: 'signed-fixed.bin' }, 502, /HTTP 403/);
  assert.ok(origin.requests('/par/sign-fixed').length >= 2, 'the redirect was followed again');
  assert.ok(origin.requests(path).filter((r) => r.status === 403).length >= 2, 'and its URL was expired still');
});

test('ranges answered in a content coding (206, Content-Encoding: x-inverted): 502, nothing stored, never spliced', async () => {
  const body = filler(20 * MiB, 250);
  const path = '/par/encoded.bin';
  const url = origin.file(path, body, ranged({ rangeLies: 'encoded' }));
  await assertRefused(worker, { file_url: url, upload_path: 'parallel', file_name: 'encoded.bin' }, 502, /changed at the origin/);
  const later = origin.requests(path).slice(1);
  assert.ok(later.length >= 1 && later.length <= 5, `refused at the first encoded answer of each lane, not retried: ${later.length} ranges`);
});

test('a batch of three parallel-size files: one runs lanes (in parts), the others one streamed put each; byte-exact, at most 6 calls waiting', async () => {
  const bodies = [20 * MiB, 20 * MiB + 1, 16 * MiB].map((size, i) => filler(size, 230 + i));
  const items = bodies.map((body, i) => ({ file_url: origin.file(`/par/batch-${i}.bin`, body, ranged()), upload_path: 'batch', file_name: `b${i}.bin` }));
  // Nothing the earlier tests started is still waiting (a failed upload cancels what it
  // left open), so the peak below is this batch's alone.
  assert.deepEqual((await worker.counts()).waiting.pending, {}, 'no call left waiting by the failed uploads before');
  const { calls, result } = await worker.countCalls(() => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items } }));
  assert.equal(result.status, 200, JSON.stringify(result.json));
  assert.deepEqual([result.json.success, result.json.data.succeeded, result.json.data.failed], [true, 3, 0], JSON.stringify(result.json));
  assert.ok(calls.waiting.peak <= 6, `at most 6 calls waiting for headers at once: ${calls.waiting.peak}`);
  assert.ok(calls.waiting.peak >= 2, `the gauge saw the batch's calls: ${calls.waiting.peak}`);
  // One transfer in an isolate runs lanes at a time (their parts' memory): the item that
  // got there first goes in parts, the others as one streamed put each, all at once.
  const inParts = [];
  for (const [i, r] of result.json.data.results.entries()) {
    const d = await assertStored({ status: r.code, json: r }, bodies[i], `item ${i}`);
    const { parts } = storedObject(worker, d);
    if (parts.length > 0) {
      assert.deepEqual(parts, partSizes(bodies[i].length), `item ${i} in parts`);
      inParts.push(i);
    }
    assertRanged(origin, `/par/batch-${i}.bin`, ETAG);
  }
  assert.equal(inParts.length, 1, `one item ran lanes: ${JSON.stringify(inParts)}`);
  assert.deepEqual(calls.parts.map((p) => p.length), [partSizes(bodies[inParts[0]].length).length], 'one multipart upload');
  assert.ok(Math.max(...bodies.map((_, i) => origin.concurrency(`/par/batch-${i}.bin`))) <= 5, 'at most 5 connections to one file');
});
