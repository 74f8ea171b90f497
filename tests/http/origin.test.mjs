// The loopback test origin itself (support/origin.mjs), no Worker: ranges with ETag,
// Last-Modified and If-Range, a per-connection throttle, resets and stalls at a byte of the
// file, a range left without an answer, a cap on connections, a file that changes, lying
// ranges, and the bytes it counts as sent. The ingest
// tests' verdicts rest on these, so they are proved here first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOrigin, parseRange } from './support/origin.mjs';
import { filler, sha256 } from './support/fixtures.mjs';

const KiB = 1024;
let origin;
before(async () => { origin = await startOrigin(); });
after(() => origin.close());

/** GETs `path` with `headers`: status, headers, body; or `{error, received}` when the
 * connection breaks mid-body (received: bytes read before it did). */
async function fetchOrigin(path, headers = {}, { abortAfterMs } = {}) {
  const controller = new AbortController();
  const timer = abortAfterMs ? setTimeout(() => controller.abort(), abortAfterMs) : null;
  const res = await fetch(origin.url(path), { headers, signal: controller.signal });
  const chunks = [];
  let received = 0;
  try {
    for await (const c of res.body) { chunks.push(c); received += c.length; }
  } catch (error) {
    return { status: res.status, headers: res.headers, error, received };
  } finally {
    clearTimeout(timer);
  }
  return { status: res.status, headers: res.headers, body: Buffer.concat(chunks), received };
}

test('parseRange: one range of each form, unsatisfiable, and ignored forms', () => {
  const cases = [
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=50-1000', 100, { start: 50, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=0-1048575', 0, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-1,5-6', 100, null],
    ['bytes=9-1', 100, null],
    ['items=0-1', 100, null],
    [undefined, 100, null],
  ];
  for (const [header, total, want] of cases) assert.deepEqual(parseRange(header, total), want, `${header} of ${total}`);
});

test('ranges with a strong ETag: 206 with Content-Range, 416 past the end, 200 for several ranges', async () => {
  const body = filler(100 * KiB, 1);
  origin.file('/r/etag.bin', body, { ranges: true, etag: '"v1"' });
  const part = await fetchOrigin('/r/etag.bin', { range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${body.length}`);
  assert.equal(part.headers.get('content-length'), '10');
  assert.equal(part.headers.get('etag'), '"v1"');
  assert.equal(part.headers.get('accept-ranges'), 'bytes');
  assert.deepEqual(part.body, body.subarray(10, 20));

  const open = await fetchOrigin('/r/etag.bin', { range: 'bytes=1000-' });
  assert.equal(open.status, 206);
  assert.equal(open.headers.get('content-range'), `bytes 1000-${body.length - 1}/${body.length}`);
  assert.deepEqual(open.body, body.subarray(1000));

  const suffix = await fetchOrigin('/r/etag.bin', { range: 'bytes=-5' });
  assert.equal(suffix.status, 206);
  assert.deepEqual(suffix.body, body.subarray(body.length - 5));

  const past = await fetchOrigin('/r/etag.bin', { range: `bytes=${body.length}-` });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), `bytes */${body.length}`);

  const multi = await fetchOrigin('/r/etag.bin', { range: 'bytes=0-1,5-6' });
  assert.equal(multi.status, 200);
  assert.equal(sha256(multi.body), sha256(body));

  assert.deepEqual(origin.requests('/r/etag.bin').map((r) => [r.range, r.status]), [
    ['bytes=10-19', 206], ['bytes=1000-', 206], ['bytes=-5', 206], [`bytes=${body.length}-`, 416], ['bytes=0-1,5-6', 200],
  ]);
  assert.equal(origin.sent('/r/etag.bin'), 10 + (body.length - 1000) + 5 + body.length);
});

test('If-Range: the current ETag (or Last-Modified) gets the range, any other value the whole file', async () => {
  const body = filler(50 * KiB, 2);
  origin.file('/r/if-range.bin', body, { ranges: true, etag: '"v1"' });
  assert.equal((await fetchOrigin('/r/if-range.bin', { range: 'bytes=0-9', 'if-range': '"v1"' })).status, 206);
  const stale = await fetchOrigin('/r/if-range.bin', { range: 'bytes=0-9', 'if-range': '"v0"' });
  assert.equal(stale.status, 200);
  assert.equal(sha256(stale.body), sha256(body));
  assert.deepEqual(origin.requests('/r/if-range.bin').map((r) => r.ifRange), ['"v1"', '"v0"']);

  const date = 'Tue, 03 Nov 2015 10:00:00 GMT';
  origin.file('/r/last-modified.bin', body, { ranges: true, lastModified: date });
  const byDate = await fetchOrigin('/r/last-modified.bin', { range: 'bytes=5-', 'if-range': date });
  assert.equal(byDate.status, 206);
  assert.equal(byDate.headers.get('last-modified'), date);
  assert.equal(byDate.headers.get('etag'), null);
  assert.equal((await fetchOrigin('/r/last-modified.bin', { range: 'bytes=5-', 'if-range': 'Mon, 02 Nov 2015 10:00:00 GMT' })).status, 200);
});

test('a file without `ranges` ignores Range and advertises nothing (as before)', async () => {
  const body = filler(10 * KiB, 3);
  origin.file('/r/plain.bin', body);
  const res = await fetchOrigin('/r/plain.bin', { range: 'bytes=0-9' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('accept-ranges'), null);
  assert.equal(res.headers.get('content-length'), String(body.length));
  assert.equal(sha256(res.body), sha256(body));
});

test('chunked with ranges: the 200 has no Content-Length, a 206 has one', async () => {
  const body = filler(300 * KiB, 4);
  origin.file('/r/chunked.bin', body, { ranges: true, etag: '"c"', chunked: true, chunkSize: 1000 });
  const whole = await fetchOrigin('/r/chunked.bin');
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-length'), null);
  assert.equal(whole.headers.get('transfer-encoding'), 'chunked');
  assert.equal(sha256(whole.body), sha256(body));
  const part = await fetchOrigin('/r/chunked.bin', { range: 'bytes=0-1048575' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-length'), String(body.length));
  assert.equal(part.headers.get('content-range'), `bytes 0-${body.length - 1}/${body.length}`);
});

test('throttle: one connection gets about its rate', async () => {
  const rate = 1024 * KiB; // 1 MiB/s
  const body = filler(1024 * KiB, 5); // ~1 s
  origin.file('/r/slow.bin', body, { throttle: rate });
  const t0 = performance.now();
  const res = await fetchOrigin('/r/slow.bin');
  const ms = performance.now() - t0;
  assert.equal(sha256(res.body), sha256(body));
  // slack for a loaded machine above; a rate 2.5 times too slow (bits for bytes: 8) is out
  assert.ok(ms > 900 && ms < 2500, `1 MiB at 1 MiB/s took ${ms.toFixed(0)} ms (want ~1000)`);
});

test('throttle is per connection: four at once each get the rate; concurrency counts them', async () => {
  const rate = 1024 * KiB;
  const body = filler(1024 * KiB, 13);
  origin.file('/r/slow3.bin', body, { throttle: rate, ranges: true, etag: '"3"' });
  const t0 = performance.now();
  // undici opens a connection per concurrent request to one origin
  const all = await Promise.all([0, 1, 2, 3].map(() => fetchOrigin('/r/slow3.bin')));
  const ms = performance.now() - t0;
  for (const res of all) assert.equal(sha256(res.body), sha256(body));
  // one rate shared by the four would take 4 s (slack for a loaded machine below that)
  assert.ok(ms > 900 && ms < 3500, `4 x 1 MiB at 1 MiB/s per connection took ${ms.toFixed(0)} ms (want ~1000)`);
  assert.equal(origin.concurrency('/r/slow3.bin'), 4);
  assert.equal(origin.sent('/r/slow3.bin'), 4 * body.length);
});

test('resetAt: each threshold breaks the first response that reaches it, once; sent counts what was written', async () => {
  const body = filler(400 * KiB, 6);
  const [first, second] = [100_000, 300_000];
  origin.file('/r/reset.bin', body, { ranges: true, etag: '"r"', resetAt: [second, first] });
  const a = await fetchOrigin('/r/reset.bin');
  assert.ok(a.error, 'the first response breaks');
  assert.equal(a.received, first, 'it delivered exactly the bytes before the threshold');
  assert.equal(origin.sent('/r/reset.bin'), first);
  // resume from where it broke: the second threshold breaks this one at its file offset
  const b = await fetchOrigin('/r/reset.bin', { range: `bytes=${first}-`, 'if-range': '"r"' });
  assert.equal(b.status, 206);
  assert.ok(b.error);
  assert.equal(b.received, second - first);
  const c = await fetchOrigin('/r/reset.bin', { range: `bytes=${second}-`, 'if-range': '"r"' });
  assert.equal(c.status, 206);
  assert.equal(c.error, undefined, 'both thresholds fired: the rest arrives');
  assert.equal(sha256(Buffer.concat([body.subarray(0, second), c.body])), sha256(body));
  assert.equal(origin.sent('/r/reset.bin'), body.length, 'resuming at the exact bytes sends the file once');
  const whole = await fetchOrigin('/r/reset.bin');
  assert.equal(sha256(whole.body), sha256(body), 'no threshold left');
});

test('resetEvery: every response breaks after n bytes of its own body', async () => {
  const body = filler(200 * KiB, 7);
  origin.file('/r/every.bin', body, { ranges: true, etag: '"e"', resetEvery: 50_000 });
  for (const start of [0, 60_000, 150_001]) {
    const res = await fetchOrigin('/r/every.bin', { range: `bytes=${start}-` });
    assert.ok(res.error, `from ${start}`);
    assert.equal(res.received, 50_000);
  }
  const short = await fetchOrigin('/r/every.bin', { range: 'bytes=0-999' });
  assert.equal(short.body.length, 1000, 'a response shorter than n completes');
  assert.equal(origin.sent('/r/every.bin'), 3 * 50_000 + 1000);
});

test('stallAt: once, a response stops at that byte and never goes on', async () => {
  const body = filler(200 * KiB, 8);
  origin.file('/r/stall.bin', body, { ranges: true, etag: '"s"', stallAt: 70_000 });
  const stuck = await fetchOrigin('/r/stall.bin', {}, { abortAfterMs: 300 });
  assert.ok(stuck.error);
  assert.equal(stuck.received, 70_000);
  const rest = await fetchOrigin('/r/stall.bin', { range: 'bytes=70000-', 'if-range': '"s"' });
  assert.equal(rest.status, 206);
  assert.deepEqual(rest.body, body.subarray(70_000));
});

test('stallHeaders: once, the first request for a range past byte 0 gets no answer at all', async () => {
  const body = filler(64 * KiB, 13);
  origin.file('/r/silent.bin', body, { ranges: true, etag: '"q"', stallHeaders: true });
  assert.equal((await fetchOrigin('/r/silent.bin')).status, 200, 'a request without Range is answered');
  await assert.rejects(
    fetch(origin.url('/r/silent.bin'), { headers: { range: 'bytes=1000-' }, signal: AbortSignal.timeout(300) }),
    { name: 'TimeoutError' },
  );
  const again = await fetchOrigin('/r/silent.bin', { range: 'bytes=1000-' });
  assert.equal(again.status, 206);
  assert.deepEqual(again.body, body.subarray(1000));
  assert.deepEqual(origin.requests('/r/silent.bin').map((r) => r.status), [200, null, 206]);
});

test('maxConnections: a request that comes while n are being answered is 503 with Retry-After', async () => {
  const body = filler(256 * KiB, 14);
  origin.file('/r/capped.bin', body, { ranges: true, etag: '"c"', throttle: 256 * KiB, maxConnections: 1 });
  const first = fetchOrigin('/r/capped.bin'); // about a second at 256 KiB/s
  // the second comes once the first is being answered, not after a guessed wait
  for (let i = 0; i < 100 && origin.sent('/r/capped.bin') === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(origin.sent('/r/capped.bin') > 0, 'the first is being answered');
  const refused = await fetchOrigin('/r/capped.bin', { range: 'bytes=0-99' });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal(sha256((await first).body), sha256(body));
  const after = await fetchOrigin('/r/capped.bin', { range: 'bytes=0-99' });
  assert.equal(after.status, 206, 'answered once the first is done');
  assert.deepEqual(after.body, body.subarray(0, 100));
});

test('lying origins: ignoreRange answers 200 whole; wrong-range answers another range', async () => {
  const body = filler(64 * KiB, 9);
  origin.file('/r/liar.bin', body, { ignoreRange: true, etag: '"l"' });
  const res = await fetchOrigin('/r/liar.bin', { range: 'bytes=0-1023', 'if-range': '"l"' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.equal(res.headers.get('etag'), '"l"');
  assert.equal(sha256(res.body), sha256(body));

  origin.file('/r/wrong.bin', body, { rangeLies: 'wrong-range', etag: '"w"' });
  const wrong = await fetchOrigin('/r/wrong.bin', { range: 'bytes=1000-1999' });
  assert.equal(wrong.status, 206);
  assert.equal(wrong.headers.get('content-range'), `bytes 0-999/${body.length}`);
  assert.deepEqual(wrong.body, body.subarray(0, 1000));
});

test('a file changes after k requests, or when replaced: new bytes, new ETag, stale If-Range gets 200', async () => {
  const [v1, v2, v3] = [filler(20 * KiB, 10), filler(20 * KiB, 11), filler(30 * KiB, 12)];
  origin.file('/r/change.bin', v1, { ranges: true, etag: '"1"', changeAfterRequests: 1, changedBody: v2, changedEtag: '"2"' });
  const first = await fetchOrigin('/r/change.bin', { range: 'bytes=0-9' });
  assert.equal(first.headers.get('etag'), '"1"');
  assert.deepEqual(first.body, v1.subarray(0, 10));
  const second = await fetchOrigin('/r/change.bin', { range: 'bytes=10-', 'if-range': '"1"' });
  assert.equal(second.status, 200, 'the validator changed: the whole new file');
  assert.equal(second.headers.get('etag'), '"2"');
  assert.equal(sha256(second.body), sha256(v2));
  origin.replace('/r/change.bin', v3, { etag: '"3"' });
  const third = await fetchOrigin('/r/change.bin', { range: 'bytes=0-', 'if-range': '"3"' });
  assert.equal(third.status, 206);
  assert.equal(sha256(third.body), sha256(v3));
});
