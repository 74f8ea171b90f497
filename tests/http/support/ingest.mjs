// What the ingest tests (ingest*.test.mjs) share: the stack they run on, the parallel
// engine's part sizes, and the checks every upload ends with: a stored upload serves the
// origin's bytes from both URLs and reports their SHA-256; a refused one leaves nothing.
import assert from 'node:assert/strict';
import { upload, get, KEYS } from './worker.mjs';
import { usage } from './burst.mjs';
import { sha256 } from './fixtures.mjs';
import { assertError, assertNothingStored } from './assert.mjs';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** The engine's probe: the first request to an origin asks for its first MiB. */
export const PROBE = 'bytes=0-1048575';
/** The SHA-256 of nothing. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Largest number of attempts at one range. */
export const ATTEMPTS = 5;

/** The stack of the ingest tests: a counting Worker (storage calls, the waiting gauge,
 * part sizes) that takes files up to 200 MiB within a minute. */
export const STACK = {
  counting: true,
  vars: { MAX_FILE_BYTES: String(200 * MiB), FETCH_TIMEOUT_MS: '60000', DEFAULT_MAX_BYTES: String(8 * 1024 * MiB) },
};

/** The part sizes of a parallel upload of `total` bytes (5 connections, at most 8 MiB a
 * part per round): rounds = ceil(total / 40 MiB); part = ceil(total / (5 rounds)) rounded
 * up to whole 64 KiB, at least 5 MiB; every part that size but the last. */
export function partSizes(total) {
  const rounds = Math.ceil(total / (5 * 8 * MiB));
  const unit = 64 * KiB;
  const part = Math.max(5 * MiB, Math.ceil(total / (5 * rounds) / unit) * unit);
  const n = Math.ceil(total / part);
  return Array.from({ length: n }, (_, i) => (i < n - 1 ? part : total - part * (n - 1)));
}

/** An upload answer `res` stored `body`: 200 in the envelope, its size, both URLs serving
 * exactly those bytes (SHA-256 compared), and `data.sha256` their digest. Answers `data`. */
export async function assertStored(res, body, label = '') {
  assert.equal(res.status, 200, `${label} ${JSON.stringify(res.json)}`);
  assert.deepEqual([res.json.success, res.json.code, res.json.msg], [true, 200, 'File uploaded successfully'], label);
  const d = res.json.data;
  assert.equal(d.file_size, body.length, `${label} file_size`);
  const want = sha256(body);
  for (const url of [d.download_url, d.file_url]) {
    const served = await get(url);
    assert.equal(served.status, 200, `${label} ${url}`);
    assert.equal(served.body.length, body.length, `${label} bytes served by ${url}`);
    assert.equal(sha256(served.body), want, `${label} the bytes served by ${url} are the origin's`);
  }
  assert.equal(d.sha256, want, `${label} FileData.sha256 is the SHA-256 of the stored bytes`);
  return d;
}

/** Uploads `body` as key a, expecting the refusal `status` /`fragment`/, and checks that
 * nothing of it is left: local R2 as it was (no object, no multipart upload in progress), the
 * key's usage as it was. Answers the upload's answer. */
export async function assertRefused(worker, body, status, fragment) {
  const [mark, before] = [worker.r2(), await usage(worker, KEYS.a.key)];
  const res = await upload(worker, body);
  assertError(res, status, fragment);
  assertNothingStored(worker, mark, 'nothing stored');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  return res;
}

/** Uploads `request` as key a for an origin the engine may either get round (fetching again
 * another way) or refuse: a 200 must have stored exactly `body` (assertStored), anything
 * else must be the refusal `status` /`fragment`/ leaving nothing, as assertRefused checks.
 * Answers the upload's answer. */
export async function assertStoredOrRefused(worker, request, body, status, fragment) {
  const [mark, before] = [worker.r2(), await usage(worker, KEYS.a.key)];
  const res = await upload(worker, request);
  if (res.status === 200) {
    await assertStored(res, body);
    return res;
  }
  assertError(res, status, fragment);
  assertNothingStored(worker, mark, 'nothing stored');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  return res;
}

/** The object stored for `data` in local R2, with its multipart part sizes (`parts`). */
export function storedObject(worker, data) {
  const object = worker.r2().objects.find((o) => o.key === `o/${data.file_id}`);
  assert.ok(object, `o/${data.file_id} in R2`);
  return object;
}

/** Where a request's `Range: bytes=a-b` or `bytes=a-` starts and ends (exclusive; the
 * file's `total` for an open end). */
export function rangeOf(header, total) {
  const m = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  assert.ok(m, `one range: ${header}`);
  return { start: Number(m[1]), end: m[2] === '' ? total : Number(m[2]) + 1 };
}

/** The ranges of `requests` after the probe, as `[start, end)` pairs. */
export const rangesAfterProbe = (requests, total) => requests.slice(1).map((r) => {
  const { start, end } = rangeOf(r.range, total);
  return [start, end];
});

/** The file at `path` of `origin` was fetched by the engine's ranged path: the first request
 * was the 1 MiB probe (answered 206), and every later one asked a range with If-Range equal
 * to `validator`. Answers the requests. */
export function assertRanged(origin, path, validator) {
  const requests = origin.requests(path);
  assert.ok(requests.length >= 1, `${path} was fetched`);
  assert.equal(requests[0].range, PROBE, `the first request is the 1 MiB probe: ${JSON.stringify(requests[0])}`);
  for (const [i, r] of requests.entries()) {
    if (i === 0) continue;
    assert.match(r.range ?? '', /^bytes=\d+-\d*$/, `request ${i + 1} asks one range: ${JSON.stringify(r)}`);
    assert.equal(r.ifRange, validator, `request ${i + 1} carries If-Range: ${JSON.stringify(r)}`);
  }
  return requests;
}

/** Checks an upload that went the parallel way: its object is a multipart upload of exactly
 * partSizes(total) (in local R2, and as far as counting.mjs saw them: a streamed part's size
 * is null there), its ranges after the probe are closed (`bytes=a-b`) and together cover the
 * file, at least 2 and at most 5 were answered at once, and 2 to 6 calls waited at once. */
export function assertParallel({ worker, origin, path, data, calls, total, validator }) {
  const want = partSizes(total);
  assert.deepEqual(storedObject(worker, data).parts, want, `the object is ${want.length} parts of ${want[0]} bytes (the last ${want.at(-1)})`);
  assert.equal(calls.parts.length, 1, `one multipart upload: ${JSON.stringify(calls.parts)}`);
  assert.equal(calls.parts[0].length, want.length, `${want.length} parts uploaded: ${JSON.stringify(calls.parts)}`);
  // a part's upload is a stream, fed while its range arrives (not the part's bytes once read)
  for (const [i, size] of calls.parts[0].entries()) assert.equal(size, null, `part ${i + 1} uploaded as a stream`);
  const requests = assertRanged(origin, path, validator);
  for (const r of requests.slice(1)) assert.match(r.range, /^bytes=\d+-\d+$/, 'a parallel range is closed');
  const covered = rangesAfterProbe(requests, total);
  covered.push([0, Math.min(MiB, total)]); // the probe's
  covered.sort((a, b) => a[0] - b[0]);
  let end = 0;
  for (const [a, b] of covered) {
    assert.ok(a <= end, `the ranges leave a gap at ${end}: ${JSON.stringify(covered)}`);
    end = Math.max(end, b);
  }
  assert.equal(end, total, 'the ranges reach the end of the file');
  const open = origin.concurrency(path);
  assert.ok(open >= 2 && open <= 5, `ranges answered at once: ${open} (want 2 to 5)`);
  assert.ok(calls.waiting.peak <= 6, `at most 6 calls waiting for headers at once: ${calls.waiting.peak}`);
  assert.ok(calls.waiting.peak >= 2, `the gauge saw parts in flight together: ${calls.waiting.peak}`);
  // every origin request went out through the fetch the gauge watches
  assert.equal(calls.raw.worker?.fetch?.fetch ?? 0, requests.length, `fetches counted (${JSON.stringify(calls.raw.worker?.fetch)}) = requests the origin saw`);
}
