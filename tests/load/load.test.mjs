// Load: 64 concurrent uploads of sizes from 1 KiB to 20 MiB (log-spaced), half with a
// Content-Length and half chunked, against the Worker in local workerd. Four of those with a
// length come from an origin that serves ranges with a validator, and are fetched in ranges:
// the largest, throttled and sent a moment before the others, in parallel lanes while the
// others come (it took the isolate's one turn to run lanes, and their buffers, first); the
// other three in the burst, where the turn is mostly taken or the buffers short, so their
// lanes keep to one ranged stream (the figures say how many ran at once). Every upload must
// succeed, and every byte served by both links and the answer's `sha256` must match the
// origin's (SHA-256). Bounded: 64 uploads, one deadline. The figures are printed and
// written to tests/artifacts/load.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { api, get, useStack, KEYS } from '../http/support/worker.mjs';
import { until } from '../http/support/burst.mjs';
import { filler, sha256 } from '../http/support/fixtures.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
const COUNT = 64;
const MIN = KiB;
const MAX = 20 * MiB;
const DEADLINE_MS = 8 * 60_000;
// The per-upload deadline covers the whole transfer; 64 transfers share one machine here.
// Chunked uploads reserve MAX_FILE_BYTES of quota each until they commit: room for all 64.
let origin;
let worker;
// ONE_STREAM_MIB_S=0: however fast its probe came (loopback is faster than the default's
// 64 MiB/s), a ranged file asks for the isolate's turn to run lanes: the largest has it, the
// others find it taken (or the buffers short) and go on as one ranged stream.
useStack({ vars: { FETCH_TIMEOUT_MS: '240000', DEFAULT_MAX_BYTES: String(64 * 100 * MiB), ONE_STREAM_MIB_S: '0' } }, (s) => ({ origin, worker } = s));

// From 1 KiB to 20 MiB, log-spaced: 137 MiB in all, nine files above one multipart part
// (5 MiB), five of them chunked.
const sizes = Array.from({ length: COUNT }, (_, i) => Math.round(MIN * (MAX / MIN) ** (i / (COUNT - 1))));
// Served with ranges and an ETag: 48, 52, 56 and 60 (1.9, 3.5, 6.6 and 12.5 MiB; the last
// two are more than one part, R2's 5 MiB). The largest leads, each connection at 4 MiB/s.
const RANGED = new Set([48, 52, 56, 60]);
const LEAD = new Set([60]);
const LEAD_BYTES_S = 4 * MiB;

/** POSTs an upload with node:http (fetch gives up on response headers after 300 s). */
function post(body) {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${worker.url}/api/v1/files/upload/url`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.a.key}`, 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try { resolve({ status: res.statusCode, json: JSON.parse(text) }); } catch { reject(new Error(`non-JSON ${res.statusCode}: ${text}`)); }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

test(`${COUNT} concurrent uploads, 1 KiB to 20 MiB, with and without Content-Length`, { timeout: DEADLINE_MS }, async () => {
  const files = sizes.map((size, i) => {
    const bytes = filler(size, 1000 + i);
    const chunked = i % 2 === 1;
    const ranged = RANGED.has(i);
    const lead = LEAD.has(i);
    const path = `/load/${i}.bin`;
    const url = origin.file(path, bytes, {
      chunked,
      contentType: 'application/octet-stream',
      chunkSize: 256 * KiB,
      ...(ranged && { ranges: true, etag: `"load-${i}"` }),
      ...(lead && { throttle: LEAD_BYTES_S }),
    });
    return { i, size, chunked, ranged, lead, path, url, hash: sha256(bytes) };
  });
  const total = sizes.reduce((a, b) => a + b, 0);

  const started = performance.now();
  let done = 0;
  const send = async (f) => {
    const t0 = performance.now();
    const res = await post({ file_url: f.url, upload_path: 'load', file_name: `${f.i}.bin` });
    const ms = performance.now() - t0;
    done += 1;
    if (process.env.LOAD_PROGRESS) console.error(`  ${done}/${COUNT}: #${f.i} ${f.size} B ${f.ranged ? 'ranged' : f.chunked ? 'chunked' : 'length'} -> ${res.status} in ${(ms / 1000).toFixed(1)} s`);
    return { ...f, res, ms, endedAt: performance.now() };
  };
  // The leading one first; the rest once it fetches two or more ranges at once (or it
  // ended, or 60 s passed: the assertions below say which).
  const leading = files.filter((f) => f.lead).map(send);
  await until(() => files.filter((f) => f.lead).every((f) => origin.concurrency(f.path) >= 2) || done === LEAD.size, 60_000, 10);
  const burstAt = performance.now();
  const results = (await Promise.all([...leading, ...files.filter((f) => !f.lead).map(send)])).sort((a, b) => a.i - b.i);
  const uploadMs = performance.now() - started;

  // What each upload and download came to is recorded first and asserted after the figures
  // are written, so the figures say what happened, failures included.
  const stored = results.filter((r) => r.res.status === 200 && r.res.json.data?.file_size === r.size);

  // Every served byte, through download_url and file_url (each name's), 16 at a time.
  const verifyStart = performance.now();
  const queue = [...stored];
  const fetched = async (url) => {
    const served = await get(url);
    return { status: served.status, length: served.body.length, hash: sha256(served.body) };
  };
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      r.served = await fetched(r.res.json.data.download_url);
      r.named = await fetched(r.res.json.data.file_url);
    }
  }));
  const verifyMs = performance.now() - verifyStart;
  const same = (got, r) => got.status === 200 && got.length === r.size && got.hash === r.hash;
  const matching = stored.filter((r) => same(r.served, r) && same(r.named, r) && r.res.json.data.sha256 === r.hash);

  // What the origin saw of each ranged file: its requests, how many at once, bytes sent.
  const ranged = results.filter((r) => r.ranged).map((r) => ({
    i: r.i,
    size: r.size,
    requests: origin.requests(r.path),
    at_once: origin.concurrency(r.path),
    sent: origin.sent(r.path),
  }));

  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  const figures = {
    uploads: COUNT,
    concurrency: COUNT,
    sizes: '1 KiB to 20 MiB, log-spaced (1 KiB * 20480^(i/63)); odd ones chunked (no Content-Length); 48, 52, 56 and 60 with ranges',
    total_mib: +(total / MiB).toFixed(1),
    upload_wall_s: +(uploadMs / 1000).toFixed(1),
    upload_throughput_mib_s: +(total / MiB / (uploadMs / 1000)).toFixed(1),
    latency_s: {
      p50: +(percentile(latencies, 50) / 1000).toFixed(1),
      p95: +(percentile(latencies, 95) / 1000).toFixed(1),
      max: +(latencies.at(-1) / 1000).toFixed(1),
    },
    verify_wall_s: +(verifyMs / 1000).toFixed(1),
    // per ranged file: the requests the origin answered, and the most at once (1: one stream)
    ranged: ranged.map((f) => ({ i: f.i, mib: +(f.size / MiB).toFixed(1), requests: f.requests.length, at_once: f.at_once })),
    succeeded: stored.length,
    bytes_match: matching.length,
    all_succeeded: stored.length === COUNT,
    all_bytes_match: matching.length === COUNT,
  };
  console.log(`load figures: ${JSON.stringify(figures)}`);
  const dir = path.resolve(new URL('../artifacts', import.meta.url).pathname);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'load.json'), `${JSON.stringify(figures, null, 2)}\n`);

  for (const r of results) {
    assert.equal(r.res.status, 200, `upload ${r.i} (${r.size} bytes, ${r.chunked ? 'chunked' : 'Content-Length'}): ${JSON.stringify(r.res.json)}`);
    assert.equal(r.res.json.data.file_size, r.size, `upload ${r.i}`);
    assert.equal(r.served.status, 200, `download ${r.i}`);
    assert.equal(r.served.length, r.size, `download ${r.i}`);
    assert.equal(r.served.hash, r.hash, `download ${r.i}: bytes differ`);
    assert.deepEqual(r.named, r.served, `file_url ${r.i}: as download_url`);
    assert.equal(r.res.json.data.sha256, r.hash, `upload ${r.i}: the answer's sha256 is the origin's`);
  }
  // The ranged files were fetched in ranges, each under its validator, and each byte about
  // once: a probe, then the rest in one or more ranges.
  assert.deepEqual(ranged.map((f) => f.i), [...RANGED]);
  for (const f of ranged) {
    if (LEAD.has(f.i)) {
      assert.ok(f.at_once >= 2, `ranged ${f.i}: fetched in parallel lanes (at most ${f.at_once} at once)`);
      assert.ok(results[f.i].endedAt > burstAt, `ranged ${f.i}: still running when the other uploads began`);
    }
    assert.ok(f.requests.length >= 2, `ranged ${f.i}: the probe and the rest (${f.requests.length} requests)`);
    for (const q of f.requests) {
      assert.match(q.range ?? '', /^bytes=\d+-\d*$/, `ranged ${f.i}: every request asks for a range`);
      assert.equal(q.status, 206, `ranged ${f.i}: every request answered with its range`);
    }
    assert.ok(f.requests.slice(1).every((q) => q.ifRange === `"load-${f.i}"`), `ranged ${f.i}: every range after the probe carries the file's ETag`);
    assert.ok(f.sent <= f.size * 1.1, `ranged ${f.i}: the origin sent ${f.sent} bytes for ${f.size}`);
  }

  // R2 holds exactly the 64 uploads, each under o/{file_id}, nothing in progress
  const state = worker.r2();
  assert.equal(state.multipart.filter((m) => m.state === 0).length, 0, 'no multipart upload left in progress');
  const objects = new Map(state.objects.map((o) => [o.key, o.size]));
  assert.equal(objects.size, COUNT, 'one object per upload');
  for (const r of results) assert.equal(objects.get(`o/${r.res.json.data.file_id}`), r.size, `upload ${r.i} stored under o/{file_id}`);
  const u = await api(worker, 'GET', '/api/v1/usage', { token: KEYS.a.key });
  assert.equal(u.status, 200, JSON.stringify(u.json));
  assert.deepEqual([u.json.data.files, u.json.data.bytes, u.json.data.reserved_bytes, u.json.data.reserved_files], [COUNT, total, 0, 0], 'usage counts the 64, nothing reserved');
});
