// The ingest engine over HTTP, one stream at a time (the parallel path is in
// ingest-parallel.test.mjs): every stored upload reports the SHA-256 of its bytes on every
// path (small, known length, no Content-Length below and above a multipart part, ranged);
// `expected_sha256` right, wrong (422, nothing stored) and malformed (400); the engine's
// 1 MiB probe, a ranged single stream with If-Range, resume after resets at 30 % and 70 %
// (and after a stall past the idle timeout, in the body or before the headers) from the
// byte where it broke, a resume that can never finish, a file that changes mid-transfer,
// an origin whose ranges lie (or whose chunked 206 runs past its Content-Range), empty files and sizes at a part boundary, and an origin that
// answers in gzip or brotli though asked for `identity` (the decoded file is stored; a
// corrupt coding is 502).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { useStack, upload, api, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import {
  KiB, MiB, PROBE, EMPTY_SHA256, ATTEMPTS, STACK, partSizes, assertStored, assertRefused, assertStoredOrRefused, assertRanged, storedObject,
  rangesAfterProbe,
} from './support/ingest.mjs';

let origin;
let worker;
useStack(STACK, (s) => ({ origin, worker } = s));

const ETAG = '"v1"';
const DATE = 'Tue, 03 Nov 2015 10:00:00 GMT';
const THROTTLE = 32 * MiB; // per connection: the reset tests' origins cannot run ahead

test('the parallel part sizes of the contract (a table, no Worker)', () => {
  const table = [
    [16 * MiB, [5 * MiB, 5 * MiB, 5 * MiB, 1 * MiB]],
    [20 * MiB, [5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB]],
    [20 * MiB + 1, [5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 1]],
    [32 * MiB, [...Array(4).fill(6592 * KiB), 6400 * KiB]], // 6.4 MiB, rounded up to 64 KiB
    [40 * MiB, Array(5).fill(8 * MiB)],
    [48 * MiB, [...Array(9).fill(5 * MiB), 3 * MiB]],
    [64 * MiB, [...Array(9).fill(6592 * KiB), 6208 * KiB]], // 2 rounds: no lone short part
    [100 * MiB, [...Array(14).fill(6848 * KiB), 6528 * KiB]], // 3 rounds
  ];
  for (const [total, want] of table) assert.deepEqual(partSizes(total), want, `${total / MiB} MiB`);
});

describe('sha256 on every single-stream path', () => {
  // [label, size, origin options]
  const PATHS = [
    ['small, read whole (Content-Length, 48 KiB)', 48 * KiB, {}],
    ['known length, one stream (Content-Length, 2 MiB)', 2 * MiB, {}],
    ['no Content-Length, under one part (3 MiB)', 3 * MiB, { chunked: true }],
    ['no Content-Length, multipart (7 MiB)', 7 * MiB, { chunked: true }],
    ['ranged, done in the probe (512 KiB)', 512 * KiB, { ranges: true, etag: ETAG }],
    ['ranged, one stream (3 MiB, ETag)', 3 * MiB, { ranges: true, etag: ETAG }],
    ['ranged, one stream (3 MiB, Last-Modified only)', 3 * MiB, { ranges: true, lastModified: DATE }],
    ['ranged origin answering no Content-Length to a 200 (3 MiB)', 3 * MiB, { ranges: true, etag: ETAG, chunked: true }],
  ];
  // from this loopback origin either way is right (one stream when the probe came at
  // ONE_STREAM_MIB_S or faster, else parallel parts): checked whichever it took
  test('ranged, 10 MiB: stored byte-exact, sha256 the origin\'s digest, If-Range on every range', async () => {
    const body = filler(10 * MiB + 3, 119);
    const path = '/single/ten.bin';
    const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG }), upload_path: 'single' });
    await assertStored(res, body);
    assertRanged(origin, path, ETAG);
    assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
  });
  for (const [i, [label, size, opts]] of PATHS.entries()) {
    test(`${label}: stored byte-exact, sha256 the origin's digest`, async () => {
      const body = filler(size, 100 + i);
      const path = `/single/${i}.bin`;
      const res = await upload(worker, { file_url: origin.file(path, body, opts), upload_path: 'single', file_name: `${i}.bin` });
      await assertStored(res, body, label);
      assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
      if (opts.ranges) {
        const requests = assertRanged(origin, path, opts.etag ?? opts.lastModified);
        const rest = size > MiB ? [[MiB, size]] : [];
        assert.deepEqual(rangesAfterProbe(requests, size), rest, 'the probe, then the rest in one range (bytes=N- or bytes=N-last)');
        assert.deepEqual(requests.map((r) => r.status), [206, ...rest.map(() => 206)]);
      }
    });
  }

  test('info and list carry the same sha256', async () => {
    const body = filler(100 * KiB, 120);
    const res = await upload(worker, { file_url: origin.file('/single/info.bin', body), upload_path: 'single-info', file_name: 'i.bin' });
    const d = await assertStored(res, body);
    const info = await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: KEYS.a.key });
    assert.equal(info.status, 200, JSON.stringify(info.json));
    assert.deepEqual(info.json.data, d, 'info answers the FileData the upload answered');
    const list = await api(worker, 'GET', '/api/v1/files?upload_path=single-info', { token: KEYS.a.key });
    assert.equal(list.status, 200, JSON.stringify(list.json));
    assert.deepEqual(list.json.data.files.map((f) => [f.file_id, f.sha256]), [[d.file_id, sha256(body)]]);
  });
});

test('an origin whose Last-Modified is the second its answer was sent (no ETag) is not fetched in ranges: asked again whole, one stream, byte-exact', async () => {
  // a date is a strong validator only a second or more before its answer's Date: a file
  // changed again within that second keeps it, and ranges asked with it as If-Range could
  // splice the two versions
  const body = filler(10 * MiB + 3, 121);
  const path = '/single/modified-now.bin';
  const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, lastModified: 'now' }), upload_path: 'single', file_name: 'modified-now.bin' });
  await assertStored(res, body);
  const requests = origin.requests(path);
  assert.deepEqual(requests.map((r) => [r.range ?? null, r.ifRange ?? null, r.status]), [[PROBE, null, 206], [null, null, 200]], 'the probe, then the whole file without Range');
});

describe('expected_sha256', () => {
  const CASES = [
    ['small', 20 * KiB, {}],
    ['one stream (Content-Length)', 2 * MiB, {}],
    ['ranged one stream', 3 * MiB, { ranges: true, etag: ETAG }],
    ['no Content-Length, multipart', 6 * MiB, { chunked: true }],
  ];
  for (const [i, [label, size, opts]] of CASES.entries()) {
    test(`${label}: the right digest, in either case, stores`, async () => {
      const body = filler(size, 130 + i);
      const url = origin.file(`/expect/right-${i}.bin`, body, opts);
      const lower = await upload(worker, { file_url: url, upload_path: 'expect', expected_sha256: sha256(body) });
      await assertStored(lower, body, 'lowercase');
      const upper = await upload(worker, { file_url: url, upload_path: 'expect', expected_sha256: sha256(body).toUpperCase() });
      await assertStored(upper, body, 'uppercase');
    });

    test(`${label}: a wrong digest is 422 naming both digests, nothing stored, nothing charged`, async () => {
      const body = filler(size, 140 + i);
      const wrong = sha256(filler(16, 999 + i));
      const url = origin.file(`/expect/wrong-${i}.bin`, body, opts);
      const res = await assertRefused(worker, { file_url: url, upload_path: 'expect', file_name: `w${i}.bin`, expected_sha256: wrong.toUpperCase() }, 422, /sha256/i);
      // the expected digest in lowercase, each digest in its place
      assert.equal(res.json.msg, `sha256 mismatch: expected ${wrong}, got ${sha256(body)}`);
      assert.ok(origin.hits(`/expect/wrong-${i}.bin`) >= 1, 'the file was fetched');
    });
  }

  test('a malformed digest is 400 naming expected_sha256, nothing stored', async () => {
    const body = filler(10 * KiB, 150);
    const url = origin.file('/expect/malformed.bin', body);
    const good = sha256(body);
    for (const bad of [good.slice(1), `${good}0`, `${good.slice(1)}g`, `${good.slice(2)} `, '', 123, [good], { sha256: good }]) {
      await assertRefused(worker, { file_url: url, upload_path: 'expect-bad', expected_sha256: bad }, 400, /^invalid `expected_sha256`/);
    }
  });
});

describe('origins that support ranges', () => {
  test('resets at 30 % and 70 % of a ranged single stream: resumed from where it broke, byte-exact, sent at most 1.1 x', async () => {
    const size = 4 * MiB + 12345; // one stream whether the parallel path starts above one part or at 16 MiB
    const body = filler(size, 160);
    const cuts = [Math.floor(size * 0.3), Math.floor(size * 0.7)];
    const path = '/resume/single.bin';
    const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, throttle: THROTTLE, resetAt: cuts }), upload_path: 'resume' });
    await assertStored(res, body);
    const requests = assertRanged(origin, path, ETAG);
    assert.deepEqual(rangesAfterProbe(requests, size), [[MiB, size], ...cuts.map((n) => [n, size])],
      'after each break, the next range starts at the byte where it broke and runs to the end');
    assert.ok(origin.sent(path) <= size * 1.1, `the origin sent ${origin.sent(path)} bytes for ${size}`);
  });

  test('a reset in the probe itself is resumed too', async () => {
    const size = 3 * MiB;
    const body = filler(size, 161);
    const path = '/resume/probe.bin';
    const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, resetAt: [300 * KiB] }), upload_path: 'resume' });
    await assertStored(res, body);
    const requests = assertRanged(origin, path, ETAG);
    assert.equal(rangesAfterProbe(requests, size)[0][0], 300 * KiB, `resumed at the break: ${JSON.stringify(requests)}`);
    assert.ok(origin.sent(path) <= size * 1.1, `the origin sent ${origin.sent(path)} bytes for ${size}`);
  });

  for (const cut of [1, 2000]) {
    test(`a reset at byte ${cut} of the probe, before its type was sniffed: the probe is asked for again, byte-exact`, async () => {
      const size = 3 * MiB;
      const body = filler(size, 168 + cut);
      const path = `/resume/sniffed-${cut}.bin`;
      const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, resetAt: [cut] }), upload_path: 'resume' });
      await assertStored(res, body);
      const requests = assertRanged(origin, path, ETAG);
      assert.deepEqual(requests.slice(0, 2).map((r) => [r.range, r.ifRange]), [[PROBE, null], [PROBE, ETAG]], 'the probe, then the probe again of the same version');
      assert.ok(origin.sent(path) <= size * 1.1 + cut, `the origin sent ${origin.sent(path)} bytes for ${size}`);
    });
  }

  test('a probe whose chunked body ends cleanly short of its Content-Range, before its type was sniffed: asked for again, the type sniffed from the file, byte-exact', async () => {
    const size = 3 * MiB;
    const body = Buffer.concat([TYPES.png.bytes, filler(size - TYPES.png.bytes.length, 172)]);
    const path = '/resume/sniffed-short.bin';
    const url = origin.file(path, body, { ranges: true, etag: ETAG, rangeLies: 'short-first-206', claim: 0 });
    const res = await upload(worker, { file_url: url, upload_path: 'resume', file_name: 'sniffed-short.png' });
    const d = await assertStored(res, body);
    assert.equal(d.mime_type, 'image/png', 'sniffed from the bytes asked for again, not from none');
    const requests = assertRanged(origin, path, ETAG);
    assert.deepEqual(requests.slice(0, 2).map((r) => [r.range, r.ifRange, r.status]), [[PROBE, null, 206], [PROBE, ETAG, 206]], 'the probe, then the probe again');
  });

  test('a probe broken before its type was sniffed, from an origin that caps its ranges, is asked for again and its same short answer taken', async () => {
    const size = 3 * MiB;
    const body = filler(size, 171);
    const path = '/resume/sniffed-capped.bin';
    const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, rangeCap: 256 * KiB, resetAt: [2000] }), upload_path: 'resume' });
    await assertStored(res, body);
    const requests = assertRanged(origin, path, ETAG);
    assert.deepEqual(requests.slice(0, 2).map((r) => [r.range, r.ifRange, r.status]), [[PROBE, null, 206], [PROBE, ETAG, 206]], 'the probe, then the probe again');
  });

  test('an origin that caps its ranges at 16 KiB (each answer too short to count as progress): 502 after a bounded number of requests, nothing stored', async () => {
    const body = filler(3 * MiB, 179);
    const path = '/resume/tiny-cap.bin';
    const url = origin.file(path, body, { ranges: true, etag: ETAG, rangeCap: 16 * KiB });
    await assertRefused(worker, { file_url: url, upload_path: 'resume', file_name: 'tiny-cap.bin' }, 502, /connection failed during the download/);
    const requests = assertRanged(origin, path, ETAG);
    // at 16 KiB an answer, the file would have taken 192 requests
    assert.ok(requests.length <= 1 + ATTEMPTS, `each short answer counted as a failed attempt: ${requests.length} requests`);
  });

  for (const status of [503, 500]) {
    test(`a probe broken before its type was sniffed, asked for again and answered ${status} once, is asked once more: byte-exact`, async () => {
      const size = 3 * MiB;
      const body = filler(size, 172 + status);
      const path = `/resume/sniffed-then-${status}.bin`;
      const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, resetAt: [2000], statuses: { 2: status } }), upload_path: 'resume' });
      await assertStored(res, body);
      const requests = assertRanged(origin, path, ETAG);
      assert.deepEqual(requests.slice(0, 3).map((r) => [r.range, r.ifRange, r.status]), [[PROBE, null, 206], [PROBE, ETAG, status], [PROBE, ETAG, 206]]);
    });
  }

  test('a probe broken before its type was sniffed, whose asking again is answered 404, fails with 502 naming the status (as a range would), asked no more, nothing stored', async () => {
    const path = '/resume/sniffed-then-gone.bin';
    const url = origin.file(path, filler(3 * MiB, 197), { ranges: true, etag: ETAG, resetAt: [2000], statuses: { 2: 404 } });
    await assertRefused(worker, { file_url: url, upload_path: 'resume' }, 502, /HTTP 404/);
    assert.equal(origin.requests(path).length, 2, 'the probe, then once again');
  });

  test(`a probe broken before its type was sniffed, whose asking again is answered 503 every time, fails with 502 naming the status after ${ATTEMPTS} attempts, nothing stored`, async () => {
    const path = '/resume/sniffed-then-busy.bin';
    const busy = Object.fromEntries(Array.from({ length: ATTEMPTS + 1 }, (_, i) => [i + 2, 503]));
    const url = origin.file(path, filler(3 * MiB, 175), { ranges: true, etag: ETAG, resetAt: [2000], statuses: busy });
    await assertRefused(worker, { file_url: url, upload_path: 'resume' }, 502, /HTTP 503/);
    assert.equal(origin.requests(path).length, ATTEMPTS, 'the probe, then asked again until the attempts ran out');
  });

  /** Uploads 4 MiB from an origin with ranges and `stall` (one of its stall options): it
   * must be stored byte-exact within the deadline, after waiting the per-attempt idle
   * timeout (a quarter of FETCH_TIMEOUT_MS, at most 15 s) once. Answers the origin's
   * requests and the file's size. */
  async function storedAfterAStall(path, seed, stall) {
    const size = 4 * MiB;
    const body = filler(size, seed);
    const started = Date.now();
    const res = await upload(worker, { file_url: origin.file(path, body, { ranges: true, etag: ETAG, ...stall }), upload_path: 'resume' });
    await assertStored(res, body);
    assert.ok(Date.now() - started < Number(STACK.vars.FETCH_TIMEOUT_MS), 'within the deadline');
    return { requests: assertRanged(origin, path, ETAG), size };
  }

  test('a response that stalls mid-body is abandoned after the idle timeout and resumed where it stopped', async () => {
    const stop = 2 * MiB + 5;
    const { requests, size } = await storedAfterAStall('/resume/stall.bin', 169, { stallAt: stop });
    assert.deepEqual(rangesAfterProbe(requests, size), [[MiB, size], [stop, size]], 'resumed at the byte where it stalled');
  });

  test('a probe that stalls before its type is sniffed is asked for again after the idle timeout (not left to the deadline): byte-exact', async () => {
    const { requests, size } = await storedAfterAStall('/resume/probe-stall.bin', 194, { stallAt: 2000 });
    assert.deepEqual(requests.slice(0, 2).map((r) => [r.range, r.ifRange, r.status]), [[PROBE, null, 206], [PROBE, ETAG, 206]], 'the stalled probe asked for again, of the same version');
    assert.deepEqual(rangesAfterProbe(requests, size), [[0, MiB], [MiB, size]], 'then the rest, once');
  });

  test('a probe broken before its type was sniffed, at a signed URL that expired since, is asked for again through the first URL\'s redirects: byte-exact', async () => {
    const path = '/resume/signed-probe.bin';
    const sign = '/resume/sign-probe';
    const body = filler(3 * MiB, 196);
    origin.file(path, body, { ranges: true, etag: ETAG, signed: 1, resetAt: [2000] });
    const res = await upload(worker, { file_url: origin.signer(sign, path), upload_path: 'resume' });
    await assertStored(res, body);
    const probes = origin.requests(path).filter((r) => r.range === PROBE);
    assert.deepEqual(probes.map((r) => [r.ifRange, r.status]), [[null, 206], [ETAG, 403], [ETAG, 206]], 'the broken probe, its expired URL, then the URL signed anew');
    assert.ok(origin.requests(sign).length >= 2, 'the first URL asked again');
    assert.ok(origin.sent(path) <= body.length * 1.1, `the origin sent ${origin.sent(path)} bytes for ${body.length}`);
  });

  test('a range whose headers never come is ended after the idle timeout and asked for again', async () => {
    const { requests, size } = await storedAfterAStall('/resume/no-headers.bin', 170, { stallHeaders: true });
    assert.deepEqual(rangesAfterProbe(requests, size), [[MiB, size], [MiB, size]], 'the unanswered range asked for again');
    assert.deepEqual(requests.slice(1).map((r) => r.status), [null, 206], 'the first got no answer');
  });

  test('every attempt breaks: 502 after a bounded number of attempts, nothing stored, nothing charged', async () => {
    const body = filler(4 * MiB, 162);
    const path = '/resume/never.bin';
    const url = origin.file(path, body, { ranges: true, etag: ETAG, resetEvery: 256 * KiB });
    await assertRefused(worker, { file_url: url, upload_path: 'resume', file_name: 'never.bin' }, 502, /connection failed during the download/);
    const requests = assertRanged(origin, path, ETAG);
    assert.ok(requests.length > 2, `it did resume: ${requests.length} requests`);
    assert.ok(requests.length <= 2 * ATTEMPTS, `at most ${ATTEMPTS} attempts per range (the probe, the rest): ${requests.length}`);
  });

  test('the file changes between the probe and the rest: 502 "changed at the origin", nothing stored', async () => {
    const [v1, v2] = [filler(4 * MiB, 163), filler(4 * MiB, 164)];
    const path = '/changed/single.bin';
    const url = origin.file(path, v1, { ranges: true, etag: ETAG, changeAfterRequests: 1, changedBody: v2, changedEtag: '"v2"' });
    await assertRefused(worker, { file_url: url, upload_path: 'changed', file_name: 'c.bin' }, 502, /changed at the origin/);
    assertRanged(origin, path, ETAG);
  });

  test('the file changes between the probe and the rest at an origin that ignores If-Range (206 of the new version): 502, nothing stored', async () => {
    const [v1, v2] = [filler(4 * MiB, 190), filler(4 * MiB, 191)];
    const path = '/changed/no-if-range.bin';
    const url = origin.file(path, v1, { ranges: true, etag: ETAG, ignoreIfRange: true, changeAfterRequests: 1, changedBody: v2, changedEtag: '"v2"' });
    await assertRefused(worker, { file_url: url, upload_path: 'changed', file_name: 'n.bin' }, 502, /changed at the origin/);
    const requests = assertRanged(origin, path, ETAG);
    assert.equal(requests.at(-1).status, 206, 'the origin sent the new version\'s range, its ETag telling it apart');
  });

  test('the file changes within the second at an origin with a weak ETag that ignores If-Range (206 of the new version, the same Last-Modified): 502, nothing stored', async () => {
    const [v1, v2] = [filler(4 * MiB, 192), filler(4 * MiB, 193)];
    const path = '/changed/weak-etag.bin';
    // a weak ETag cannot be sent as If-Range: the date is, and the new version has the same
    const url = origin.file(path, v1, {
      ranges: true, etag: 'W/"v1"', lastModified: DATE, ignoreIfRange: true, changeAfterRequests: 1, changedBody: v2, changedEtag: 'W/"v2"', changedLastModified: DATE,
    });
    await assertRefused(worker, { file_url: url, upload_path: 'changed', file_name: 'w.bin' }, 502, /changed at the origin/);
    const requests = assertRanged(origin, path, DATE);
    assert.equal(requests.at(-1).status, 206, 'the origin sent the new version\'s range, its weak ETag telling it apart');
  });

  test('the file changes while being resumed (Last-Modified validator): 502, nothing stored', async () => {
    const [v1, v2] = [filler(4 * MiB + 512 * KiB, 165), filler(4 * MiB + 512 * KiB, 166)];
    const path = '/changed/resumed.bin';
    const url = origin.file(path, v1, {
      ranges: true, lastModified: DATE, throttle: THROTTLE, resetAt: [3 * MiB], changeAfterRequests: 2, changedBody: v2, changedLastModified: 'Wed, 04 Nov 2015 10:00:00 GMT',
    });
    await assertRefused(worker, { file_url: url, upload_path: 'changed', file_name: 'r.bin' }, 502, /changed at the origin/);
    const requests = assertRanged(origin, path, DATE);
    assert.equal(requests.at(-1).status, 200, 'the origin answered the stale If-Range with the whole new file');
  });

  test('an origin that advertises ranges but ignores them: the probe\'s 200 is the whole file, one stream', async () => {
    const body = filler(12 * MiB + 7, 167);
    const path = '/liar/ignores.bin';
    const res = await upload(worker, { file_url: origin.file(path, body, { ignoreRange: true, etag: ETAG }), upload_path: 'liar' });
    await assertStored(res, body);
    assert.deepEqual(origin.requests(path).map(({ range, ifRange, status }) => ({ range, ifRange, status })), [{ range: PROBE, ifRange: null, status: 200 }], 'one request: the probe, answered 200 whole');
    assert.equal(origin.sent(path), body.length);
  });

  // [mode, what the origin does to a range request]
  const LIES = [
    ['wrong-range', 'a range that is not the one asked (206, Content-Range from byte 0)'],
    ['whole-206', 'the whole file as a 206 to every range'],
    ['whole-206-later', 'the whole file as a 206 to every range but the probe'],
  ];
  // [label, size, throttle]: one stream (3 MiB), and the parallel path (20 MiB from
  // connections slower than ONE_STREAM_MIB_S)
  const SIZES = [['3 MiB, one stream', 3 * MiB, undefined], ['20 MiB, parallel ranges', 20 * MiB, THROTTLE]];
  for (const [i, [mode, lie]] of LIES.entries()) {
    for (const [j, [label, size, throttle]] of SIZES.entries()) {
      test(`an origin that answers ${lie}, ${label}: never stored spliced`, async (t) => {
        const body = filler(size, 168 + 2 * i + j);
        const path = `/liar/${mode}-${size}.bin`;
        const url = origin.file(path, body, { rangeLies: mode, etag: ETAG, throttle });
        // refused (the range is not the one asked: nothing stored, nothing charged), or
        // fetched again another way (then exactly the file)
        const res = await assertStoredOrRefused(worker, { file_url: url, upload_path: 'liar', file_name: `${mode}-${size}.bin` }, body, 502, /changed at the origin/);
        t.diagnostic(`answered ${res.status}`);
        assert.ok(origin.hits(path) >= 1, 'the file was fetched');
        if (mode === 'whole-206-later') {
          const lied = origin.requests(path).filter((r) => r.status === 206 && !/^bytes=0-/.test(r.range ?? ''));
          assert.ok(lied.length >= 1, `a range past the probe was asked, and lied to: ${JSON.stringify(origin.requests(path))}`);
        }
      });
    }
  }
});

test('an origin that answers every GET with its first MiB as a 206 (no validator): 502, nothing stored', async () => {
  // The probe's 206 has no validator, so the file is asked for again without Range: a 206
  // to that is a part, not the file, however many bytes it holds.
  const body = filler(3 * MiB, 175);
  const path = '/liar/always-206.bin';
  const url = origin.file(path, body, { rangeLies: 'always-206' });
  await assertRefused(worker, { file_url: url, upload_path: 'liar', file_name: 'always-206.bin' }, 502, /HTTP 206/);
  assert.deepEqual(origin.requests(path).map(({ range, status }) => [range, status]), [[PROBE, 206], [null, 206]], 'the probe, then the file without Range');
});

// A 206 sent chunked is as long as its Content-Range says: what the origin sends past that
// is never read (the probe's body is canceled there), so it cannot fill the isolate's memory.
test('a chunked 206 that claims 100 bytes as the whole file and sends 48 MiB: those 100 bytes are the file; the rest is not read', async () => {
  const body = filler(48 * MiB, 176);
  const path = '/liar/overlong-whole.bin';
  const url = origin.file(path, body, { rangeLies: 'overlong-whole-206', claim: 100, etag: ETAG });
  const res = await upload(worker, { file_url: url, upload_path: 'liar', file_name: 'overlong-whole.bin' });
  await assertStored(res, body.subarray(0, 100));
  assert.deepEqual(origin.requests(path).map(({ range, status }) => [range, status]), [[PROBE, 206]], 'the probe alone');
  assert.ok(origin.sent(path) < 16 * MiB, `the origin sent ${origin.sent(path)} bytes of its 48 MiB`);
});

test('a ranged file whose chunked probe claims 100 bytes and sends all 24 MiB: the rest is asked in ranges from byte 100; byte-exact', async () => {
  const body = filler(24 * MiB, 177);
  const path = '/liar/overlong-probe.bin';
  const url = origin.file(path, body, { rangeLies: 'overlong-206', claim: 100, etag: ETAG });
  const res = await upload(worker, { file_url: url, upload_path: 'liar', file_name: 'overlong-probe.bin' });
  await assertStored(res, body);
  const requests = assertRanged(origin, path, ETAG);
  assert.equal(rangesAfterProbe(requests, body.length)[0][0], 100, 'the first range after the probe starts where its claim ended');
  // the probe's body past its 100 bytes, sent before the Worker canceled it, and the
  // rest of the file once more in ranges
  assert.ok(origin.sent(path) < body.length + 16 * MiB, `the origin sent ${origin.sent(path)} bytes for a file of ${body.length}`);
});

// The probe read whole (64 KiB with Content-Length) breaks, and the retry's answer claims
// the same range but comes chunked: it is read as far as its Content-Range, like any
// chunked 206, not whole (which would read all the origin sends).
test('a small probe that breaks and comes again chunked, sending the whole 8 MiB file: read to its claim, the rest in ranges; byte-exact', async () => {
  const body = filler(8 * MiB, 178);
  const path = '/liar/overlong-again.bin';
  const url = origin.file(path, body, { rangeLies: 'framed-then-overlong-206', claim: 64 * KiB, resetAt: [2000], etag: ETAG });
  const res = await upload(worker, { file_url: url, upload_path: 'liar', file_name: 'overlong-again.bin' });
  await assertStored(res, body);
  const requests = assertRanged(origin, path, ETAG);
  assert.deepEqual(requests.slice(0, 2).map(({ range, status }) => [range, status]), [[PROBE, 206], [PROBE, 206]], 'the probe, cut, then asked again');
  const starts = rangesAfterProbe(requests.slice(1), body.length).map(([start]) => start);
  assert.equal(Math.min(...starts), 64 * KiB, `the ranges after the probes start where their claim ended: ${starts}`);
});

describe('empty files and part boundaries', () => {
  for (const [label, opts] of [
    ['a ranged origin (416 to the probe)', { ranges: true, etag: ETAG }],
    ['Content-Length: 0', {}],
    ['no Content-Length', { chunked: true }],
  ]) {
    test(`an empty file from ${label}: stored, size 0, sha256 of nothing`, async () => {
      const path = `/empty/${label.replace(/\W+/g, '-')}`;
      const res = await upload(worker, { file_url: origin.file(path, Buffer.alloc(0), opts), upload_path: 'empty', file_name: 'e.bin' });
      const d = await assertStored(res, Buffer.alloc(0), label);
      assert.equal(d.sha256, EMPTY_SHA256);
      if (opts.ranges) assert.deepEqual(origin.requests(path).map((r) => [r.range, r.status])[0], [PROBE, 416], 'the probe, answered 416');
    });
  }

  test('no Content-Length, exactly one part (5 MiB): byte-exact', async () => {
    const body = filler(5 * MiB, 170);
    const res = await upload(worker, { file_url: origin.file('/edge/five.bin', body, { chunked: true }), upload_path: 'edge' });
    const d = await assertStored(res, body);
    const { parts } = storedObject(worker, d);
    assert.ok(parts.length === 0 || (parts.length === 1 && parts[0] === 5 * MiB), `one put or one part: ${parts}`);
  });

  test('no Content-Length, one byte past a part (5 MiB + 1): two parts, 5 MiB and 1 byte', async () => {
    const body = filler(5 * MiB + 1, 171);
    const res = await upload(worker, { file_url: origin.file('/edge/five-plus.bin', body, { chunked: true }), upload_path: 'edge' });
    const d = await assertStored(res, body);
    assert.deepEqual(storedObject(worker, d).parts, [5 * MiB, 1]);
  });
});

describe('an origin that answers in a content coding though asked for identity', () => {
  /** A response `coding`-encoded, with Content-Length (of the encoded bytes) or chunked. */
  const encoded = (path, bytes, coding, { chunked = false } = {}) => {
    const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${bytes.length}`;
    const head = `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Encoding: ${coding}\r\n${framing}\r\n\r\n`;
    const body = chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]) : bytes;
    return origin.raw(path, head, body);
  };
  // text compresses well, so the encoded Content-Length is far from the file's size
  const text = (n) => Buffer.from(Array.from({ length: n }, (_, i) => `line ${i} of the log\n`).join(''));
  const compress = { gzip: zlib.gzipSync, br: zlib.brotliCompressSync };

  for (const [label, plain, coding, chunked] of [
    ['gzip, small, Content-Length', text(1_000), 'gzip', false],
    ['gzip, 1.7 MiB, Content-Length', text(80_000), 'gzip', false],
    ['br, 1.7 MiB, Content-Length', text(80_000), 'br', false],
    ['gzip, 6 MiB, chunked (two multipart parts)', text(300_000), 'gzip', true],
  ]) {
    test(`${label}: the decoded file is stored`, async () => {
      const path = `/coded/${label.replace(/\W+/g, '-')}`;
      const bytes = compress[coding](plain);
      assert.ok(bytes.length < plain.length / 4, 'the coding shrinks the file');
      const res = await upload(worker, { file_url: encoded(path, bytes, coding, { chunked }), upload_path: 'coded' });
      const d = await assertStored(res, plain, label);
      // chunked: the decoded bytes go up as multipart parts, not read whole
      if (chunked) assert.deepEqual(storedObject(worker, d).parts, [5 * MiB, plain.length - 5 * MiB]);
      assert.equal(origin.headers(path)[0]['accept-encoding'], 'identity', 'identity was asked for');
    });
  }

  test('`aws-chunked` (kept by some S3-compatible stores on plain objects) changes nothing: stored as it came', async () => {
    const plain = text(2_000);
    const res = await upload(worker, { file_url: encoded('/coded/aws-chunked', plain, 'aws-chunked'), upload_path: 'coded' });
    await assertStored(res, plain);
  });

  // the runtime decodes exactly `gzip` and `br`: any other coding would be stored as it came
  const zlibOf = { deflate: zlib.deflateSync, 'x-gzip': zlib.gzipSync, GZIP: zlib.gzipSync, 'gzip, gzip': (b) => zlib.gzipSync(zlib.gzipSync(b)) };
  for (const [coding, chunked] of [['deflate', false], ['x-gzip', true], ['GZIP', false], ['gzip, gzip', false]]) {
    test(`a body in a coding the runtime does not decode (${coding}${chunked ? ', chunked' : ''}): 502 naming it, nothing stored`, async () => {
      const url = encoded(`/coded/undecoded-${coding.replace(/\W+/g, '-')}`, zlibOf[coding](text(2_000)), coding, { chunked });
      const msg = `the origin sent the file in a content coding the Worker cannot decode (\`${coding}\`), though it asked for none`;
      await assertRefused(worker, { file_url: url, upload_path: 'coded' }, 502, new RegExp(`^${msg.replace(/[()]/g, '\\$&')}$`));
    });
  }

  for (const [label, coding, chunked] of [['gzip', 'gzip', false], ['gzip, chunked', 'gzip', true], ['br', 'br', false]]) {
    test(`a corrupt ${label} body: 502, nothing stored, nothing charged, the Worker still answers`, async () => {
      const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(100), Buffer.from('not the coding it claims')]);
      const url = encoded(`/coded/corrupt-${coding}-${chunked}`, garbage, coding, { chunked });
      await assertRefused(worker, { file_url: url, upload_path: 'coded' }, 502, /^the origin connection failed during the download$/);
      assert.equal((await api(worker, 'GET', '/api/v1/health')).status, 200);
    });
  }
});
