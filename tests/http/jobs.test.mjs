// Background jobs (`"async": true` or `Prefer: respond-async`) in local workerd: a file just
// over 1 GiB (130 parts) from an origin that resets twice, a job whose runtime is restarted
// mid-transfer (ranged, ranged behind a redirect to signed URLs that expire, and one stream
// from an origin without ranges), one canceled right after a restart, a chunked probe that
// sends past its Content-Range, a stream that stalls, cancel (and one its storage could not
// record), a job that could not record its failure, one that could not start, webhooks
// signed with the key's secret and retried (after a 500, and after 10 s without an answer;
// dropped once the key is revoked), another key's jobs, the listing's 100 most recent,
// starts retried with an Idempotency-Key (single and batch), and the requests refused before
// anything starts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startStack, upload, api, request, rawPost, KEYS } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertNothingStored } from './support/assert.mjs';
import { newKey, usage } from './support/burst.mjs';
import { startReceiver } from './support/receiver.mjs';
import { printed, printedLines } from './support/printed.mjs';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ADMIN = 'jobs-admin-token';
const ETAG = '"job-v1"';
let origin;
let worker;
let stop;
let hooks; // the webhook receiver
let trap; // where a refused webhook redirect points

before(async () => {
  hooks = await startReceiver();
  ({ origin, worker, stop } = await startStack({
    adminToken: ADMIN,
    // for `scaleTimers`: a job's run limits are minutes long
    counting: true,
    allow: [hooks.host],
    vars: { DEFAULT_MAX_BYTES: String(8 * GiB), FETCH_TIMEOUT_MS: '20000', MAX_FILE_BYTES: String(10 * MiB) },
  }));
  trap = await startTrap();
});
after(async () => {
  await stop?.();
  await hooks?.close();
  await trap?.close();
});

/** A loopback server on a port not allow-listed for the Worker: counts what reaches it. */
async function startTrap() {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits += 1;
    res.writeHead(200).end('trapped');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (p) => `http://127.0.0.1:${server.address().port}${p}`,
    hits: () => hits,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Random bytes, fast (the seeded `filler` takes about a minute for a GiB, and blocks the
 * process the origin and wrangler's dev engine run in). */
const randomBody = (size) => crypto.randomBytes(size);
const ranged = (extra = {}) => ({ ranges: true, etag: ETAG, ...extra });

/** Starts a job; checks the 202 answer (envelope, Location) and answers its status. */
async function startJob(body, { key = KEYS.a.key, headers = {} } = {}) {
  const res = await upload(worker, body, { key, headers });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  assert.equal(res.json.success, true);
  assert.equal(res.json.code, 202);
  const job = res.json.data;
  assert.match(job.job_id, /^job_[0-9a-f]{32}$/);
  assert.equal(res.headers.get('location'), `/api/v1/jobs/${job.job_id}`);
  assert.ok(res.headers.get('access-control-expose-headers').split(', ').includes('Location'), 'a page on another origin can read it');
  assert.equal(res.headers.get('idempotent-replayed'), null, 'a job this start began');
  assert.equal(job.state, 'queued');
  // RFC 7240: a job started for `Prefer: respond-async` says the preference was applied
  assert.equal(res.headers.get('preference-applied'), headers.Prefer ? 'respond-async' : null);
  return job;
}

const jobStatus = async (jobId, key = KEYS.a.key) => api(worker, 'GET', `/api/v1/jobs/${jobId}`, { token: key });

/** The jobs of key a's listing that fetch `url`. */
async function listedFor(url) {
  const listed = await api(worker, 'GET', '/api/v1/jobs', { token: KEYS.a.key });
  assert.equal(listed.status, 200, JSON.stringify(listed.json));
  return listed.json.data.jobs.filter((j) => j.file_url === url);
}

/** Polls until the job is over (or `until(status)` holds); answers every status seen. */
async function poll(jobId, { every = 250, limitMs = 240_000, until, key = KEYS.a.key } = {}) {
  const seen = [];
  const started = Date.now();
  for (;;) {
    const res = await jobStatus(jobId, key);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    seen.push(res.json.data);
    const d = res.json.data;
    if ((until && until(d)) || ['succeeded', 'failed', 'canceled'].includes(d.state)) return seen;
    assert.ok(Date.now() - started < limitMs, `job ${jobId} still ${d.state} after ${limitMs} ms`);
    await sleep(every);
  }
}

const STATES = ['queued', 'downloading', 'storing'];
/** A job's states come in order (queued, downloading, storing, then its end), and a job
 * storing has received every byte. */
function assertStatesInOrder(seen) {
  const order = seen.map((s) => (STATES.includes(s.state) ? STATES.indexOf(s.state) : STATES.length));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `states in order: ${seen.map((s) => s.state).join(' ')}`);
  for (const s of seen.filter((x) => x.state === 'storing')) assert.equal(s.bytes_received, s.total_bytes, 'storing: every byte in');
}

/** SHA-256 of what `url` serves, streamed (a GiB is never held twice). */
async function servedDigest(url) {
  const res = await request(url);
  assert.equal(res.status, 200);
  const hash = crypto.createHash('sha256');
  for await (const chunk of res.body) hash.update(chunk);
  return hash.digest('hex');
}

/** The indexes of the parts the running jobs' objects have stored (every other job forgot
 * its own when it ended). */
function storedPartIndexes() {
  return worker.jobStorage().flat().filter((k) => k.startsWith('part:')).map((k) => Number(k.slice('part:'.length)));
}

/** Starts a job for `url`, restarts the runtime once the job has received `at` bytes, and
 * follows it to its end: it must succeed, its states in order, serving `body` byte-exact.
 * With `parts` (`{path, partBytes}`: the origin's path, the plan's part size), the parts
 * stored before the restart are never fetched again: after it the origin sends at most the
 * bytes of the parts not stored (at least one must be, or this proves nothing).
 * Answers the statuses polled before the restart (`early`), the last of them (`partway`)
 * and the job's last status. */
async function jobAcrossRestart(url, fileName, body, at, parts = null) {
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: fileName, async: true });
  const early = await poll(job.job_id, { until: (s) => s.bytes_received >= at });
  const partway = early.at(-1);
  assert.equal(partway.state, 'downloading');
  // read before the restart: the stored parts can only be more by the time it lands
  const stored = parts ? storedPartIndexes() : [];
  await worker.restart();
  const sentBefore = parts ? origin.sent(parts.path) : 0;
  const seen = await poll(job.job_id, { limitMs: 180_000 });
  const last = seen.at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assertStatesInOrder(seen);
  if (partway.total_bytes !== null) {
    // ranged: the parts stored before the restart still count; only those in flight (at
    // most 5 of 8 MiB) are fetched, and counted, again
    const least = Math.min(...seen.map((s) => s.bytes_received));
    assert.ok(least >= partway.bytes_received - 5 * 8 * MiB, `progress fell from ${partway.bytes_received} to ${least}`);
  }
  if (parts) {
    const { path, partBytes } = parts;
    assert.ok(stored.length >= 1, `no part was stored before the restart at ${partway.bytes_received} bytes`);
    const storedBytes = stored.reduce((sum, i) => sum + Math.min(partBytes, body.length - i * partBytes), 0);
    // a lane's last chunk or two may still go out as the origin sees its socket close
    const after = origin.sent(path) - sentBefore;
    assert.ok(after <= body.length - storedBytes + MiB, `after the restart the origin sent ${after} bytes, ${storedBytes} of ${body.length} were stored`);
  }
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  return { early, partway, last };
}

/** Since `before`, key a was charged `size` bytes and one file exactly once, its
 * reservation settled, however many invocations the job took. */
async function assertChargedOnce(before, size) {
  const after = await usage(worker, KEYS.a.key);
  assert.deepEqual(
    [after.bytes - before.bytes, after.files - before.files, after.reserved_bytes, after.reserved_files],
    [size, 1, before.reserved_bytes, before.reserved_files],
  );
}

test('a file of 130 parts (just over 1 GiB) whose origin resets twice completes as a job: byte-exact, progress rising, at most 1.1 x sent, its part records forgotten', async () => {
  // 8 MiB parts: past 128 of them, the job's object forgets its part records in more than
  // one call (its storage deletes at most 128 keys per call)
  const size = GiB + 9 * MiB;
  const body = randomBody(size);
  const digest = sha256(body);
  const path = '/jobs/one-gib.bin';
  const url = origin.file(path, body, ranged({ resetAt: [Math.floor(size * 0.3), Math.floor(size * 0.7)], throttle: 48 * MiB }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'one-gib.bin', async: true, expected_sha256: digest });
  const seen = await poll(job.job_id);
  const last = seen.at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assertStatesInOrder(seen);
  const downloading = seen.filter((s) => s.state === 'downloading' && s.bytes_received > 0);
  assert.ok(downloading.length >= 5, `progress seen ${downloading.length} times`);
  // Never back, and rising: two polls may see the same figure (a range resuming after its
  // backoff, or every byte read while the last parts are still going up to R2).
  const figures = downloading.map((s) => s.bytes_received);
  for (let i = 1; i < figures.length; i++) assert.ok(figures[i] >= figures[i - 1], `progress never steps back: ${figures.join(', ')}`);
  assert.ok(new Set(figures).size >= 5, `progress rose in steps: ${figures.join(', ')}`);
  assert.ok(downloading.every((s) => s.total_bytes === size));
  assert.equal(last.bytes_received, size);
  assert.equal(last.result.file_size, size);
  assert.equal(last.result.sha256, digest);
  assert.equal(await servedDigest(last.result.download_url), digest, 'download_url serves the origin bytes');
  assert.equal(await servedDigest(last.result.file_url), digest, 'file_url serves the origin bytes');
  assert.ok(origin.sent(path) <= size * 1.1, `the origin sent ${origin.sent(path)} bytes for ${size}`);
  const info = await api(worker, 'GET', `/api/v1/files/${last.result.file_id}`, { token: KEYS.a.key });
  assert.deepEqual(info.json.data, last.result, 'the file is recorded as the job answered it');
  // what the job's object stored per part while it ran goes with its end
  let left;
  for (let i = 0; i < 40; i++) {
    left = worker.jobStorage().flat().filter((k) => k.startsWith('part:'));
    if (left.length === 0) break;
    await sleep(250);
  }
  assert.deepEqual(left, [], 'no part record left in any job object');
  // Kept, not deleted: local R2 deletes a GiB of parts on the runtime's thread for long
  // enough that wrangler's dev engine took the runtime for dead and restarted it.
});

test('a job whose runtime is restarted mid-transfer goes on from its stored parts and completes', async () => {
  const size = 320 * MiB;
  const body = randomBody(size);
  const path = '/jobs/restart.bin';
  const url = origin.file(path, body, ranged({ throttle: 8 * MiB }));
  const before = await usage(worker, KEYS.a.key);
  // 320 MiB: eight rounds of five 8 MiB parts
  await jobAcrossRestart(url, 'restart.bin', body, 100 * MiB, { path, partBytes: 8 * MiB });
  // went on from the stored parts: at most the parts in flight (5 of 8 MiB) fetched twice
  assert.ok(origin.sent(path) <= size + 5 * 8 * MiB, `the origin sent ${origin.sent(path)} bytes for ${size}`);
  await assertChargedOnce(before, size);
});

test('a job behind a redirect to signed URLs that expire, restarted mid-transfer: a range whose URL expired follows the redirect again, before and after the restart; byte-exact, charged once', async () => {
  const size = 48 * MiB;
  const body = randomBody(size);
  const path = '/jobs/signed.bin';
  // 48 MiB: two rounds of five 5 MiB parts (the last 3 MiB), each lane at 2 MiB/s: the
  // first round is stored at 25 MiB, 2.5 s in; the restart comes as the second is on its way
  origin.file(path, body, ranged({ signed: 3, throttle: 2 * MiB }));
  const url = origin.signer('/jobs/sign', path);
  const before = await usage(worker, KEYS.a.key);
  await jobAcrossRestart(url, 'signed.bin', body, 30 * MiB, { path, partBytes: 5 * MiB });
  const expired = origin.requests(path).filter((r) => r.status === 403);
  const signs = origin.requests('/jobs/sign');
  assert.ok(expired.length >= 1, 'signed URLs expired mid-transfer');
  assert.ok(signs.length >= 2 && signs.length <= 1 + expired.length, `the redirect was followed again for expired answers only: ${signs.length} redirects, ${expired.length} expired`);
  // a refetch uses a new signature once: one used more was used by a lane that did not
  // refetch, at the URL another lane's refetch found
  const served = origin.rangesBySignature(path);
  assert.ok(Object.entries(served).some(([sig, n]) => sig !== '1' && n >= 2), `a lane went on at a URL found by another: ${JSON.stringify(served)}`);
  await assertChargedOnce(before, size);
});

test('a job canceled right after its runtime restarted ends with what its stored parts hold, as a status would count them, not the figure recorded before them; nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const path = '/jobs/cancel-restart.bin';
  const url = origin.file(path, randomBody(200 * MiB), ranged({ throttle: 8 * MiB }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'cancel-restart.bin', async: true });
  const partway = (await poll(job.job_id, { until: (s) => s.bytes_received >= 60 * MiB })).at(-1);
  await worker.restart();
  // no status first: it would start the next invocation, which counts the parts itself
  const res = await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.a.key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.state, 'canceled');
  // the record still said 0 (its only invocation died before saving what it stored); the
  // stored parts are what was received less the parts in flight (at most 5 of 8 MiB)
  const ended = res.json.data.bytes_received;
  assert.ok(ended >= partway.bytes_received - 5 * 8 * MiB, `canceled with ${ended} bytes, ${partway.bytes_received} received before the restart`);
  assert.ok(ended <= origin.sent(path), `canceled with ${ended} bytes, more than the origin sent`);
  assert.equal((await jobStatus(job.job_id)).json.data.bytes_received, ended);
  assertNothingStored(worker, mark, 'nothing of the canceled job');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
});

test('a job resumed after the operator took its origin\'s exemption away is refused (400) and asks it for nothing more; nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const path = '/jobs/unexempted.bin';
  const url = origin.file(path, randomBody(100 * MiB), ranged({ throttle: 4 * MiB }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'unexempted.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received >= 20 * MiB });
  try {
    // redeployed without the origin's exemption (loopback is refused again)
    await worker.restart({ vars: { PRIVATE_FETCH_ALLOWLIST: hooks.host } });
    const asked = origin.requests(path).length;
    const last = (await poll(job.job_id)).at(-1);
    assert.equal(last.state, 'failed', JSON.stringify(last));
    assert.equal(last.error.code, 400, JSON.stringify(last.error));
    assert.match(last.error.msg, /^file_url rejected: private or reserved address/);
    assert.equal(origin.requests(path).length, asked, 'the origin was asked for nothing after the restart');
    assertNothingStored(worker, mark, 'nothing of the refused job');
    assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  } finally {
    await worker.restart({ vars: { PRIVATE_FETCH_ALLOWLIST: [origin.host, hooks.host].join(',') } });
  }
});

test('a job whose runtime restarts with a broken configuration waits for it (its alarm logged and set again), and once the configuration is fixed succeeds: byte-exact, charged once', async () => {
  const size = 40 * MiB + 11;
  const body = randomBody(size);
  // 2.5 MiB/s over its lanes: still running when the runtime restarts
  const url = origin.file('/jobs/broken-config.bin', body, ranged({ throttle: 512 * 1024 }));
  const before = await usage(worker, KEYS.a.key);
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'broken-config.bin', async: true });
  const partway = (await poll(job.job_id, { until: (s) => s.bytes_received >= 8 * MiB })).at(-1);
  assert.equal(partway.state, 'downloading', JSON.stringify(partway));
  const from = printed.length;
  const alarmLine = () => printedLines(from).find((line) => line.includes(`job ${job.job_id}: alarm: `));
  try {
    // redeployed with a malformed var: every request is 500, and so is the job's next
    // invocation (its watchdog alarm, a minute on at most)
    await worker.restart({ vars: { MAX_FILE_BYTES: 'lots' } });
    for (let i = 0; i < 900 && !alarmLine(); i++) await sleep(100);
    assert.ok(alarmLine(), 'the job\'s alarm met the broken configuration within 90 s');
    assert.match(alarmLine(), /\(again in 60 s\)/);
    assert.equal(printedLines(from).some((line) => line.includes(`job ${job.job_id}: key `)), false, 'the job did not fail');
  } finally {
    await worker.restart({ vars: { MAX_FILE_BYTES: String(10 * MiB) } });
  }
  // its status asks it to go on now, rather than at its alarm a minute on
  const last = (await poll(job.job_id, { limitMs: 180_000 })).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  await assertChargedOnce(before, size);
});

test('a job from an origin without ranges, restarted mid-stream: the dead stream aborted, started over, byte-exact, charged once', async () => {
  const size = 40 * MiB + 3;
  const body = randomBody(size);
  const path = '/jobs/stream-restart.bin';
  const url = origin.file(path, body, { chunked: true, throttle: 2 * MiB });
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  // restarted once a part is on its way: the stream is a multipart upload by then
  const { early, partway, last } = await jobAcrossRestart(url, 'stream-restart.bin', body, 6 * MiB);
  assert.equal(partway.total_bytes, null, 'no length was declared');
  // counted as the bytes come, not a part (5 MiB) at a time: the statuses polled every
  // quarter second on the way to 6 MiB (at 2 MiB/s) show counts between parts
  const between = early.map((s) => s.bytes_received).filter((n) => n % (5 * MiB) !== 0);
  assert.ok(between.length >= 1, JSON.stringify(early.map((s) => s.bytes_received)));
  assert.equal(origin.requests(path).length, 2, 'fetched twice: a stream cannot be resumed, so it started over');
  const started = worker.r2().multipart.filter((m) => !mark.multipart.some((old) => old.upload_id === m.upload_id));
  assert.deepEqual(
    started.map((m) => [m.key === `o/${last.result.file_id}` ? 'stored' : 'dead', m.state]).sort(),
    [['dead', 2], ['stored', 1]],
    "the dead stream's multipart upload aborted, the second completed",
  );
  await assertChargedOnce(before, size);
});

for (const [label, opts, size] of [['one stream', { chunked: true }, 3 * MiB + 5], ['ranged parts', ranged(), 24 * MiB + 5]]) {
  test(`a job (${label}) whose commit lands but its answer is lost, and whose three checks of it fail: the next run asks again and succeeds with its file, fetched and charged once, not committed again`, async (t) => {
    const body = randomBody(size);
    const path = `/jobs/lost-commit-${label.replace(/ /g, '-')}.bin`;
    const url = origin.file(path, body, opts);
    const before = await usage(worker, KEYS.a.key);
    // the commit is made and its answer lost; the checks after it (does the key hold the
    // file? before and after its release, then the job's own) fail, so the run ends not
    // knowing; a second commit would meet the last fault
    const get = { caller: 'job', op: 'get', how: 'fail' };
    const lost = [{ caller: 'job', op: 'commit', how: 'lose' }, get, get, get, { caller: 'job', op: 'commit', how: 'fail' }];
    assert.equal(await worker.failAuthorityCalls(lost, { clear: true }), 5);
    t.after(() => worker.failAuthorityCalls([], { clear: true }));
    const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: path.slice('/jobs/'.length), async: true });
    const last = (await poll(job.job_id)).at(-1);
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    // the next run asked whether the commit landed (it had), rather than committing again
    assert.equal(await worker.failAuthorityCalls([]), 1, 'every fault but the second commit\'s was met');
    assert.equal(last.result.sha256, sha256(body));
    assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
    assert.equal(origin.sent(path), size, 'fetched once');
    await assertChargedOnce(before, size);
  });
}

for (const [label, opts, size] of [['one stream', { chunked: true }, 3 * MiB + 5], ['ranged parts', ranged(), 24 * MiB + 5]]) {
  test(`a job (${label}) whose key's authority is still on the version before at its commit, twice (a deployment on its way): it waits with its bytes kept, and succeeds with its file, fetched and charged once`, async () => {
    const body = randomBody(size);
    const path = `/jobs/updating-commit-${label.replace(/ /g, '-')}.bin`;
    const url = origin.file(path, body, opts);
    const before = await usage(worker, KEYS.a.key);
    const newer = { caller: 'job', op: 'commit', how: 'newer' };
    assert.equal(await worker.failAuthorityCalls([newer, newer]), 2);
    const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: path.slice('/jobs/'.length), async: true });
    const last = (await poll(job.job_id)).at(-1);
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    assert.equal(await worker.failAuthorityCalls([]), 0, 'both commits met the older object');
    assert.equal(last.result.sha256, sha256(body));
    assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
    assert.equal(origin.sent(path), size, 'fetched once');
    await assertChargedOnce(before, size);
  });
}

test("a job whose reservation meets a key's authority still on the version before, three times: nothing held, it tries again, backing off, and succeeds (none of it counted as a run), charged once", async () => {
  const size = 2 * MiB + 3;
  const body = randomBody(size);
  const path = '/jobs/updating-reserve.bin';
  const url = origin.file(path, body, { chunked: true });
  const before = await usage(worker, KEYS.a.key);
  // three refusals: a job fetches from the start at most three times, which these are not
  const newer = { caller: 'job', op: 'reserve', how: 'newer' };
  assert.equal(await worker.failAuthorityCalls([newer, newer, newer]), 3);
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'updating-reserve.bin', async: true });
  const last = (await poll(job.job_id)).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(await worker.failAuthorityCalls([]), 0, 'each reservation met the older object');
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  assert.equal(origin.requests(path).length, 4, 'its origin asked again after each refused reservation');
  await assertChargedOnce(before, size);
});

test('a cancel that cannot learn whether a lost commit landed answers 500 and changes nothing; the job then succeeds with its file, charged once', async () => {
  const size = 3 * MiB + 7;
  const body = randomBody(size);
  const path = '/jobs/lost-commit-cancel.bin';
  const url = origin.file(path, body, { chunked: true });
  const before = await usage(worker, KEYS.a.key);
  // the commit lands and its answer is lost; every check of it fails for a while: the
  // job's own first one, then the cancel's (without an answer, never "not committed")
  const fails = Array.from({ length: 4 }, () => ({ caller: 'job', op: 'get', how: 'fail' }));
  assert.equal(await worker.failAuthorityCalls([{ caller: 'job', op: 'commit', how: 'lose' }, ...fails]), 5);
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'lost-commit-cancel.bin', async: true });
  const waited = Date.now();
  while ((await worker.failAuthorityCalls([])) > 3) {
    assert.ok(Date.now() - waited < 60_000, 'the commit and its first check within a minute');
    await sleep(20);
  }
  const cancel = await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.a.key });
  assertError(cancel, 500, /^internal error$/);
  const last = (await poll(job.job_id)).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(await worker.failAuthorityCalls([]), 0, 'every fault was met');
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  assert.equal(origin.sent(path), size, 'fetched once');
  await assertChargedOnce(before, size);
});

test('two ranged jobs at once: one runs lanes, the other waits for its turn without a storage call; both byte-exact', async () => {
  // One transfer per isolate runs lanes (their parts' memory); local workerd runs both jobs'
  // objects in one isolate, so the second finds the turn taken and comes back later (every
  // status poll below wakes it too), for seconds: the first's lanes take 2 MiB/s each.
  const bodies = [randomBody(24 * MiB), randomBody(24 * MiB + 1)];
  const jobs = [];
  await worker.resetCounts();
  for (const [i, body] of bodies.entries()) {
    const url = origin.file(`/jobs/turn-${i}.bin`, body, ranged({ throttle: 2 * MiB }));
    jobs.push(await startJob({ file_url: url, upload_path: 'jobs', file_name: `turn-${i}.bin`, async: true }));
  }
  const ends = await Promise.all(jobs.map((job) => poll(job.job_id)));
  // A wake that finds the turn taken asks nothing of storage: the waiting job goes on once,
  // when its turn comes (one head of its object, one refresh of its reservation), however
  // often it woke before.
  const { raw } = await worker.counts();
  assert.equal(raw.job?.r2?.head, 1, `one job waited, and went on once: ${JSON.stringify(raw.job)}`);
  assert.equal(raw.job?.r2?.resumeMultipartUpload, 1, JSON.stringify(raw.job));
  // each: a reservation, a commit and its end for the job index; the one that waited, a
  // refresh when it goes on
  assert.ok((raw.job?.authority?.fetch ?? 0) <= 7, `the key's authority asked only to go on: ${JSON.stringify(raw.job)}`);
  for (const [i, seen] of ends.entries()) {
    const last = seen.at(-1);
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    assert.equal(last.result.sha256, sha256(bodies[i]), `job ${i}: the origin's digest`);
    assert.equal(await servedDigest(last.result.download_url), sha256(bodies[i]), `job ${i}: served byte-exact`);
    assert.ok(origin.sent(`/jobs/turn-${i}.bin`) <= bodies[i].length * 1.1 + MiB, `job ${i}: sent ${origin.sent(`/jobs/turn-${i}.bin`)}`);
  }
  // Each ran lanes (several connections at once), and never both at the same time: the
  // ranges past each file's probe, from the first request to the last close, do not overlap.
  const spans = bodies.map((_, i) => {
    const path = `/jobs/turn-${i}.bin`;
    assert.ok(origin.concurrency(path) >= 2, `job ${i} ran lanes (${origin.concurrency(path)} connections at most)`);
    const lanes = origin.requests(path).filter((r) => r.range && !r.range.startsWith('bytes=0-'));
    return [Math.min(...lanes.map((r) => r.at)), Math.max(...lanes.map((r) => r.closedAt))];
  });
  const [a, b] = spans;
  assert.ok(a[1] <= b[0] || b[1] <= a[0], `one transfer's lanes at a time: ${a.join('-')} and ${b.join('-')}`);
});

test('cancel mid-transfer: fetching stops, no object, no multipart upload in progress, no charge; canceled stays canceled', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const body = randomBody(200 * MiB);
  const rate = 4 * MiB; // per connection
  const url = origin.file('/jobs/cancel.bin', body, ranged({ throttle: rate }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'cancel.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received >= 30 * MiB });
  // Asked while a range has at least a second to go at the origin's pace (lanes between
  // parts, or near their parts' end, would end on their own before the cancel lands).
  const secondsLeft = (r, now) => {
    const [from, to] = r.range.slice('bytes='.length).split('-').map(Number);
    return (to + 1 - from) / rate - (now - r.at) / 1000;
  };
  const longOpen = (now) => origin.requests('/jobs/cancel.bin')
    .filter((r) => r.range && r.closedAt === null && secondsLeft(r, now) >= 1);
  for (let i = 0; i < 100 && longOpen(Date.now()).length === 0; i += 1) await sleep(50);
  const asked = Date.now();
  const due = longOpen(asked);
  assert.ok(due.length >= 1, `a range with a second to go: ${JSON.stringify(origin.requests('/jobs/cancel.bin'))}`);
  const res = await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.a.key });
  const sentAtCancel = origin.sent('/jobs/cancel.bin');
  // those ranges are cut, not let run to their parts' end (the cancel waits for the
  // transfer to stop: ranges that ran on would end seconds after its answer); only those
  // with more time left than the cancel took to answer (a loaded machine may take a second)
  const took = (Date.now() - asked) / 1000;
  const cutDue = due.filter((d) => secondsLeft(d, asked) > took + 0.25);
  if (took < 0.75) assert.ok(cutDue.length >= 1, 'answered within the ranges\' time left');
  const cut = origin.requests('/jobs/cancel.bin').filter((r) => cutDue.some((d) => d.range === r.range && d.at === r.at));
  assert.ok(cut.every((r) => r.finished === false && r.closedAt !== null), `the ranges on their way were cut by the cancel (${took} s): ${JSON.stringify(cut)}`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.state, 'canceled');
  // what it had received when it ended, the same in the cancel's answer and every status
  assert.ok(res.json.data.bytes_received >= 30 * MiB, JSON.stringify(res.json.data));
  assert.equal((await jobStatus(job.job_id)).json.data.bytes_received, res.json.data.bytes_received);
  assertNothingStored(worker, mark, 'nothing of the canceled job');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  await sleep(1500);
  // the lanes' connections end with the cancel: at 4 MiB/s each, 1.5 s more of them would
  // have sent tens of MiB
  const after = origin.sent('/jobs/cancel.bin') - sentAtCancel;
  assert.ok(after < 8 * MiB, `the origin sent ${after} bytes after the cancel`);
  assert.equal((await jobStatus(job.job_id)).json.data.state, 'canceled');
  assertNothingStored(worker, mark, 'still nothing');
  const again = await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.a.key });
  assert.equal(again.status, 200, 'canceling twice is fine');
});

/** Cancels job `jobId` while its object's storage methods `failing` fail. */
async function cancelFailing(jobId, failing) {
  await worker.failJobStorage(failing);
  try {
    return await api(worker, 'DELETE', `/api/v1/jobs/${jobId}`, { token: KEYS.a.key });
  } finally {
    await worker.failJobStorage([]);
  }
}

test('a cancel its job cannot record (its storage failing) is a 500 that changes nothing: the job goes on and stores the file whole, charged once', async () => {
  const before = await usage(worker, KEYS.a.key);
  const body = randomBody(64 * MiB);
  const path = '/jobs/cancel-unrecorded.bin';
  const job = await startJob({ file_url: origin.file(path, body, ranged({ throttle: 2 * MiB })), upload_path: 'jobs', file_name: 'cancel-unrecorded.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received >= 8 * MiB });
  assertError(await cancelFailing(job.job_id, ['put']), 500, /^internal error$/);
  // what it held (its reservation, its multipart upload, its stored parts) it still holds
  const seen = await poll(job.job_id, { limitMs: 180_000 });
  const last = seen.at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  await assertChargedOnce(before, body.length);
});

test('a cancel recorded whose alarm then cannot be set stands: 200 canceled, nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const path = '/jobs/cancel-no-alarm.bin';
  const job = await startJob({ file_url: origin.file(path, randomBody(64 * MiB), ranged({ throttle: 2 * MiB })), upload_path: 'jobs', file_name: 'cancel-no-alarm.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received >= 8 * MiB });
  const res = await cancelFailing(job.job_id, ['setAlarm']);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.state, 'canceled');
  assert.equal((await jobStatus(job.job_id)).json.data.state, 'canceled');
  assertNothingStored(worker, mark, 'nothing of the canceled job');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
});

test('a job whose object cannot set its first alarm is a 500 that starts nothing: not listed, its origin never asked, nothing charged', async () => {
  const before = await usage(worker, KEYS.a.key);
  const path = '/jobs/unstarted.bin';
  const url = origin.file(path, randomBody(MiB), ranged());
  // its storage's alarms fail, setting and deleting alike
  await worker.failJobStorage(['setAlarm', 'deleteAlarm']);
  let res;
  try {
    res = await upload(worker, { file_url: url, upload_path: 'jobs', file_name: 'unstarted.bin', async: true });
  } finally {
    await worker.failJobStorage([]);
  }
  assertError(res, 500, /^internal error$/);
  // a listing asks the object of each job not ended for its status, which would wake one
  assert.deepEqual(await listedFor(url), [], 'not listed');
  await sleep(3000);
  assert.equal(origin.hits(path), 0, 'the origin was never asked');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
});

test('a job that gave back what it held but could not record its failure starts its transfer over when it runs again: byte-exact, charged once', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const body = randomBody(48 * MiB);
  const path = '/jobs/given-back.bin';
  const job = await startJob({ file_url: origin.file(path, body, ranged({ throttle: 2 * MiB })), upload_path: 'jobs', file_name: 'given-back.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received >= 4 * MiB });
  const started = () => worker.r2().multipart.filter((m) => !mark.multipart.some((old) => old.upload_id === m.upload_id));
  // The next part's record fails the invocation; the failure gives back the reservation and
  // aborts the multipart upload, then cannot be recorded: the stored record still names them.
  await worker.failJobStorage(['put']);
  try {
    for (let i = 0; i < 100 && !started().some((m) => m.state === 2); i += 1) await sleep(200);
    assert.deepEqual(started().map((m) => m.state), [2], 'its multipart upload aborted');
  } finally {
    await worker.failJobStorage([]);
  }
  const last = (await poll(job.job_id, { limitMs: 180_000 })).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  assert.deepEqual(started().map((m) => m.state).sort(), [1, 2], 'the first upload aborted, the second completed');
  await assertChargedOnce(before, body.length);
});

test('webhook: one successful delivery with a valid signature, after the receiver answered 500 twice', async () => {
  const created = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'hooked' } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const { key, key_id: keyId } = created.json.data;
  const first = await api(worker, 'POST', `/api/v1/admin/keys/${keyId}/webhook-secret`, { token: ADMIN });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  // rotated: the deliveries below are signed with the second secret only
  const rotated = await worker.countCalls(() => api(worker, 'POST', `/api/v1/admin/keys/${keyId}/webhook-secret`, { token: ADMIN }));
  const issued = rotated.result;
  assert.equal(issued.status, 200, JSON.stringify(issued.json));
  const secret = issued.json.data.webhook_secret;
  assert.match(secret, /^whsec_[0-9a-f]{64}$/);
  assert.notEqual(secret, first.json.data.webhook_secret);
  // the secret is the key's authority's alone: a rotation is one call to it and writes
  // nothing to KV, so an admin change of the key (which writes its KV record whole, from a
  // KV read that may predate the rotation) cannot undo it
  assert.equal(rotated.calls.raw.worker?.kv?.put ?? 0, 0, `no KV write: ${JSON.stringify(rotated.calls.raw)}`);
  assert.equal(rotated.calls.raw.worker?.authority?.fetch, 1, JSON.stringify(rotated.calls.raw));
  const renamed = await api(worker, 'PATCH', `/api/v1/admin/keys/${keyId}`, { token: ADMIN, body: { name: 'hooked-renamed' } });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
  hooks.answer([500, 500]);
  const body = filler(3 * MiB + 7, 304);
  const url = origin.file('/jobs/hooked.bin', body, ranged());
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'hooked.bin', callback_url: hooks.url('/hook-1') }, { key, headers: { Prefer: 'respond-async' } });
  const last = (await poll(job.job_id, { key })).at(-1);
  assert.equal(last.state, 'succeeded');
  for (let i = 0; i < 80 && !hooks.deliveries('/hook-1').some((d) => d.status === 200); i++) await sleep(250);
  const deliveries = hooks.deliveries('/hook-1');
  assert.deepEqual(deliveries.map((d) => d.status), [500, 500, 200], 'retried after each 500, then delivered once');
  for (const d of deliveries) {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(d.headers['x-urlstash-signature'] ?? '');
    assert.ok(m, `signature header: ${d.headers['x-urlstash-signature']}`);
    const want = crypto.createHmac('sha256', secret).update(`${m[1]}.${d.body}`).digest('hex');
    assert.ok(crypto.timingSafeEqual(Buffer.from(m[2]), Buffer.from(want)), 'HMAC-SHA256 over t.body with the key secret');
    assert.ok(Math.abs(Number(m[1]) - d.at / 1000) < 30, 'a current timestamp');
    assert.deepEqual(JSON.parse(d.body), last, 'the final status, as GET answers it');
  }
  assert.ok(deliveries[1].at - deliveries[0].at >= 900 && deliveries[2].at - deliveries[1].at >= 1900, 'backing off');
  // a fourth attempt would come 4 s after the third
  await sleep(5000);
  assert.equal(hooks.deliveries('/hook-1').length, 3, 'no delivery after the successful one');
});

test('webhook: a receiver that has not answered within 10 s is tried again (its late answer does not count)', async () => {
  const { key, key_id: keyId } = await newKey(worker, ADMIN, 'slow-hook');
  assert.equal((await api(worker, 'POST', `/api/v1/admin/keys/${keyId}/webhook-secret`, { token: ADMIN })).status, 200);
  hooks.stall('/hook-slow', 30_000);
  const url = origin.file('/jobs/slow-hook.bin', filler(64 * 1024, 311));
  const job = await startJob({ file_url: url, callback_url: hooks.url('/hook-slow'), async: true }, { key });
  assert.equal((await poll(job.job_id, { key })).at(-1).state, 'succeeded');
  for (let i = 0; i < 120 && hooks.deliveries('/hook-slow').length < 2; i++) await sleep(250);
  const [first, second, ...more] = hooks.deliveries('/hook-slow');
  assert.ok(second, 'tried again');
  assert.deepEqual([first.status, second.status, more.length], [null, 200, 0]);
  // given up at 10 s, tried again 1 s later: well before the stalled answer (30 s)
  const gap = second.at - first.at;
  assert.ok(gap >= 10_900 && gap < 25_000, `the second attempt came ${gap} ms after the first`);
  assert.equal(second.body, first.body, 'the same status, again');
});

test('webhook: a key revoked while its delivery is retried gets no more, and its job stops trying', async () => {
  const { key, key_id: keyId } = await newKey(worker, ADMIN, 'revoked-hook');
  const issued = await api(worker, 'POST', `/api/v1/admin/keys/${keyId}/webhook-secret`, { token: ADMIN });
  assert.equal(issued.status, 200, JSON.stringify(issued.json));
  // the first attempt is answered 500 eight seconds late (under the attempt's 10 s), so the
  // revoke below lands before the Worker knows it failed, on a loaded machine too (a retry
  // comes 1 s after a failure); the next ones at once
  hooks.stall('/hook-revoked', 8_000, 500);
  hooks.answer(Array(20).fill(500));
  const url = origin.file('/jobs/revoked-hook.bin', filler(MiB + 3, 305), ranged());
  const job = await startJob({ file_url: url, file_name: 'revoked-hook.bin', callback_url: hooks.url('/hook-revoked') }, { key, headers: { Prefer: 'respond-async' } });
  assert.equal((await poll(job.job_id, { key })).at(-1).state, 'succeeded');
  for (let i = 0; i < 100 && hooks.deliveries('/hook-revoked').length === 0; i++) await sleep(100);
  assert.deepEqual(hooks.deliveries('/hook-revoked').map((d) => d.status), [null], 'the first attempt, held');
  // each attempt asks the key's authority for the secret as it is now
  const reads = async () => (await worker.counts()).raw.job?.authority?.fetch ?? 0;
  const readsBefore = await reads();
  const revoked = await api(worker, 'DELETE', `/api/v1/admin/keys/${keyId}`, { token: ADMIN });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
  // the next attempts would come 1, 3 and 7 s after the first one's 500 (at 8 s)
  await sleep(14_000);
  hooks.answer([]);
  assert.equal(hooks.deliveries('/hook-revoked').length, 1, 'nothing delivered after the revoke');
  assert.equal(await reads() - readsBefore, 1, 'one more attempt found the key gone, and the job tried no more');
});

test('a job whose bytes do not match expected_sha256 ends failed (422, naming both digests): nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const body = filler(6 * MiB + 5, 309);
  const wrong = sha256(filler(16, 310));
  const path = '/jobs/wrong-digest.bin';
  const url = origin.file(path, body, ranged());
  const job = await startJob({ file_url: url, upload_path: 'jobs-failed', file_name: 'wrong-digest.bin', async: true, expected_sha256: wrong.toUpperCase() });
  const last = (await poll(job.job_id)).at(-1);
  assert.equal(last.state, 'failed', JSON.stringify(last));
  assert.equal(last.result ?? null, null, 'no file');
  assert.equal(last.error.code, 422, JSON.stringify(last.error));
  assert.match(last.error.msg, /^sha256 mismatch/);
  assert.ok(last.error.msg.includes(wrong), `names the expected digest in lowercase: ${last.error.msg}`);
  assert.ok(last.error.msg.includes(sha256(body)), `names the actual digest: ${last.error.msg}`);
  assert.ok(origin.hits(path) >= 1, 'the file was fetched');
  assertNothingStored(worker, mark, 'nothing of the failed job');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
  const listed = await api(worker, 'GET', '/api/v1/files?upload_path=jobs-failed', { token: KEYS.a.key });
  assert.deepEqual(listed.json.data, { files: [], cursor: null }, 'no file listed');
  assert.deepEqual((await jobStatus(job.job_id)).json.data, last, 'failed stays failed');
});

test('a ranged job whose chunked probe claims 100 bytes and sends all 24 MiB: the rest is asked in ranges from byte 100; byte-exact, charged once', async () => {
  const body = randomBody(24 * MiB);
  const path = '/jobs/overlong-probe.bin';
  const before = await usage(worker, KEYS.a.key);
  const url = origin.file(path, body, ranged({ rangeLies: 'overlong-206', claim: 100 }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'overlong-probe.bin', async: true });
  const last = (await poll(job.job_id)).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(last.result.download_url), sha256(body), 'download_url serves the origin bytes');
  const ranges = origin.requests(path).slice(1).map((r) => r.range);
  assert.ok(ranges.some((r) => r?.startsWith('bytes=100-')), `a range from byte 100: ${ranges.join(' ')}`);
  assert.ok(origin.sent(path) < body.length + 16 * MiB, `the origin sent ${origin.sent(path)} bytes for a file of ${body.length}`);
  await assertChargedOnce(before, body.length);
});

test('a job whose origin without ranges stalls mid-stream ends failed at the idle timeout (504, not the deadline): nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const size = 12 * MiB + 7;
  const path = '/jobs/stalled-stream.bin';
  // past one part (5 MiB): a multipart upload is under way when the stream stops for good
  const url = origin.file(path, randomBody(size), { chunked: true, stallAt: 7 * MiB });
  const job = await startJob({ file_url: url, upload_path: 'jobs-failed', file_name: 'stalled.bin', async: true });
  const last = (await poll(job.job_id, { limitMs: 120_000 })).at(-1);
  assert.equal(last.state, 'failed', JSON.stringify(last));
  // the job's deadline is an hour (ASYNC_TIMEOUT_SECONDS' default): the idle timeout is 15 s
  assert.deepEqual(last.error, { code: 504, msg: 'the origin sent nothing for 15000 ms' });
  assert.equal(origin.requests(path).length, 1, 'a stream without ranges is not fetched again');
  assertNothingStored(worker, mark, 'nothing of the stalled stream, its multipart upload aborted');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
});

test('a job whose origin without ranges is too slow for one run is cut there (504 naming why, not the deadline): nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const path = '/jobs/too-slow-stream.bin';
  // 2 MiB/s: 20 s in all, well past one part (5 MiB) by the cut, on a loaded machine too
  const url = origin.file(path, randomBody(40 * MiB), { chunked: true, throttle: 2 * MiB });
  // A stream that cannot resume must be stored within 13 minutes of its run (the platform
  // ends an alarm handler at 15); its job's deadline is an hour. Timers of 10 minutes or more
  // wait 1/100 of that from here: the cut comes after about 8 s, the deadline after 36 s.
  await worker.scaleTimers({ atLeastMs: 10 * 60 * 1000, divideBy: 100 });
  let last;
  try {
    const job = await startJob({ file_url: url, upload_path: 'jobs-failed', file_name: 'too-slow.bin', async: true });
    last = (await poll(job.job_id, { limitMs: 60_000 })).at(-1);
  } finally {
    await worker.scaleTimers(null);
  }
  assert.equal(last.state, 'failed', JSON.stringify(last));
  assert.deepEqual(last.error, {
    code: 504,
    msg: 'the origin, which does not serve ranges, did not deliver the file within 780000 ms: a background job fetches such a file in one run',
  });
  assert.ok(last.bytes_received > 5 * MiB && last.bytes_received < 40 * MiB, `cut mid-stream, past one part: ${last.bytes_received}`);
  assert.equal(origin.requests(path).length, 1, 'a stream without ranges is not fetched again');
  const started = worker.r2().multipart.filter((m) => !mark.multipart.some((old) => old.upload_id === m.upload_id));
  assert.deepEqual(started.map((m) => m.state), [2], 'its one multipart upload was aborted');
  assertNothingStored(worker, mark, 'nothing of the cut stream');
  assert.deepEqual(await usage(worker, KEYS.a.key), before, 'usage as before');
});

test('a ranged job whose parts are still coming 14 minutes into its run (timers scaled) has them ended there: the stored parts kept, the rest fetched in the next run; byte-exact, charged once', async () => {
  // 12 parts of 8 MiB at 2 MiB/s per connection, 5 lanes: about 10 s in all. The platform
  // ends an alarm handler at 15 minutes; parts still coming 14 minutes into a run are
  // ended. Timers of 10 minutes or more wait 1/100 of that from here: the cut comes about
  // 8.4 s into each run (the job's deadline, an hour, after 36 s). Lanes stop taking parts
  // at 12 minutes by the clock, not a timer, so here they take parts until the cut.
  const size = 96 * MiB;
  const body = randomBody(size);
  const path = '/jobs/lanes-cut.bin';
  const url = origin.file(path, body, ranged({ throttle: 2 * MiB }));
  const before = await usage(worker, KEYS.a.key);
  await worker.scaleTimers({ atLeastMs: 10 * 60 * 1000, divideBy: 100 });
  let last;
  try {
    const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'lanes-cut.bin', async: true });
    last = (await poll(job.job_id, { limitMs: 60_000 })).at(-1);
  } finally {
    await worker.scaleTimers(null);
  }
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(last.result.download_url), sha256(body), 'download_url serves the origin bytes');
  // the parts ended mid-body were asked for again, the parts stored were not
  const sent = origin.sent(path);
  assert.ok(sent > size && sent < 2 * size, `the origin sent ${sent} bytes for ${size}: the cut parts again, not the whole file`);
  await assertChargedOnce(before, size);
});

test('a job whose key is disabled mid-transfer stops at its next reservation refresh (30 s), not at its commit: 401, nothing stored, nothing charged', async () => {
  const mark = worker.r2();
  const k = await newKey(worker, ADMIN, 'jobs-disabled');
  const size = 96 * MiB;
  const path = '/jobs/disabled-mid-transfer.bin';
  // 15 parts of 6.4 MiB, 5 lanes at 320 KiB/s each: a round of parts every 20 s, an hour's
  // job in a minute. The first round is stored before a refresh is due (30 s after the
  // reservation), the second after: that refresh finds the key disabled, 2 rounds of 3 in.
  const url = origin.file(path, randomBody(size), { ranges: true, etag: '"disabled-v1"', throttle: 320 * 1024 });
  const job = await startJob({ file_url: url, upload_path: 'jobs-disabled', file_name: 'disabled.bin', async: true }, { key: k.key });
  const started = Date.now();
  await poll(job.job_id, { key: k.key, until: (d) => d.state === 'downloading' && d.bytes_received > 0, limitMs: 30_000 });
  const admin = (body) => api(worker, 'PATCH', `/api/v1/admin/keys/${k.key_id}`, { token: ADMIN, body });
  assert.equal((await admin({ disabled: true })).status, 200);
  // the origin goes quiet once the job has stopped (a disabled key cannot read its status)
  let sent = -1;
  for (let quiet = 0; quiet < 3; ) {
    assert.ok(Date.now() - started < 90_000, `still fetching after 90 s: ${origin.sent(path)} of ${size} bytes sent`);
    await sleep(1000);
    const now = origin.sent(path);
    quiet = now === sent ? quiet + 1 : 0;
    sent = now;
  }
  assert.ok(sent < 0.9 * size, `stopped before the whole file was fetched: ${sent} of ${size} bytes sent`);
  assert.equal((await admin({ disabled: false })).status, 200);
  const last = (await jobStatus(job.job_id, k.key)).json.data;
  assert.equal(last.state, 'failed', JSON.stringify(last));
  assert.deepEqual(last.error, { code: 401, msg: 'API key is disabled' });
  const took = Date.parse(last.updated_at) - Date.parse(last.started_at); // an ended job was last updated when it ended
  assert.ok(took < 57_000, `failed at a refresh (about 45 s in), not at the end (about 65 s): ${took} ms`);
  assertNothingStored(worker, mark, 'nothing of the stopped job');
  const { bytes, files, reserved_bytes: reservedBytes, reserved_files: reservedFiles } = await usage(worker, k.key);
  assert.deepEqual({ bytes, files, reservedBytes, reservedFiles }, { bytes: 0, files: 0, reservedBytes: 0, reservedFiles: 0 });
});

test('jobs whose origin stops after 1 KiB or never answers fail at the idle timeout; a slow but steady one is stored', async () => {
  const mark = worker.r2();
  const before = await usage(worker, KEYS.a.key);
  const slow = randomBody(20 * 1024);
  const urls = [
    origin.stall('/jobs/stops-early.bin', randomBody(1024)),
    origin.silent('/jobs/never-answers.bin'),
    // 1 KiB/s: 20 s in all, longer than the idle timeout, but never 15 s without a byte
    origin.file('/jobs/slow-steady.bin', slow, { chunked: true, throttle: 1024, chunkSize: 1024 }),
  ];
  const jobs = [];
  for (const [i, file_url] of urls.entries()) jobs.push(await startJob({ file_url, upload_path: 'jobs-idle', file_name: `${i}.bin`, async: true }));
  const [early, silent, steady] = await Promise.all(jobs.map(async (job) => (await poll(job.job_id, { limitMs: 120_000 })).at(-1)));
  for (const [label, last] of [['stops after 1 KiB', early], ['never answers', silent]]) {
    assert.equal(last.state, 'failed', `${label}: ${JSON.stringify(last)}`);
    assert.deepEqual(last.error, { code: 504, msg: 'the origin sent nothing for 15000 ms' }, label);
  }
  assert.equal(steady.state, 'succeeded', JSON.stringify(steady));
  assert.equal(steady.result.sha256, sha256(slow));
  const added = worker.r2().objects.filter((o) => !mark.objects.some((m) => m.key === o.key)).map((o) => o.key);
  assert.deepEqual(added, [`o/${steady.result.file_id}`], 'only the steady one stored');
  const after = await usage(worker, KEYS.a.key);
  assert.deepEqual([after.bytes - before.bytes, after.files - before.files, after.reserved_files], [slow.length, 1, before.reserved_files]);
});

/** A new key with a webhook secret (admin API): `{key, key_id}`. */
test('two cancels at once: both answer canceled, the job ends once, one webhook', async () => {
  const { key } = await hookedKey('twice-canceled');
  const url = origin.file('/jobs/cancel-twice.bin', randomBody(64 * MiB), ranged({ throttle: 4 * MiB }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'cancel-twice.bin', callback_url: hooks.url('/hook-twice') }, { key, headers: { Prefer: 'respond-async' } });
  await poll(job.job_id, { key, until: (s) => s.bytes_received >= 8 * MiB });
  const cancels = await Promise.all([0, 1].map(() => api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: key })));
  for (const res of cancels) {
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.state, 'canceled');
  }
  // one end, recorded once: both answer it whole (an end saved twice would differ in what
  // it had received, if not in its second)
  assert.deepEqual(cancels[0].json.data, cancels[1].json.data, 'one end, recorded once');
  for (let i = 0; i < 40 && hooks.deliveries('/hook-twice').length === 0; i++) await sleep(250);
  await sleep(2000);
  const deliveries = hooks.deliveries('/hook-twice');
  assert.equal(deliveries.length, 1, `one delivery: ${deliveries.map((d) => d.body).join(' | ')}`);
  assert.equal(JSON.parse(deliveries[0].body).state, 'canceled');
});

async function hookedKey(name) {
  const created = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const issued = await api(worker, 'POST', `/api/v1/admin/keys/${created.json.data.key_id}/webhook-secret`, { token: ADMIN });
  assert.equal(issued.status, 200, JSON.stringify(issued.json));
  return created.json.data;
}

for (const [label, status, target] of [
  // (the trap counts what reaches it: a hop followed would show; one to an address nothing
  // here listens on, the metadata address say, would fail and be retried all the same)
  ['a loopback port not allow-listed', 307, () => trap.url('/trap')],
  ['a loopback port not allow-listed', 308, () => trap.url('/trap')],
  // only 307 and 308 keep the signed POST: a 302 or 303 would be followed as a GET
  ['an allowed URL', 302, () => hooks.url('/landed-302')],
  ['an allowed URL', 303, () => hooks.url('/landed-303')],
]) {
  test(`webhook: a ${status} to ${label} is not followed; the attempt fails and is retried`, async () => {
    const slug = `${status}-${label.replace(/\W+/g, '-')}`;
    const { key } = await hookedKey(`redirected-${slug}`);
    const hook = `/hook-redirect-${slug}`;
    const to = target();
    hooks.redirect(hook, status, to);
    const url = origin.file(`/jobs/redirected-${slug}.bin`, filler(2 * MiB, 311), ranged());
    const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: `${slug}.bin`, callback_url: hooks.url(hook) }, { key, headers: { Prefer: 'respond-async' } });
    const last = (await poll(job.job_id, { key })).at(-1);
    assert.equal(last.state, 'succeeded', JSON.stringify(last));
    // a refused hop fails the attempt (recorded, the next one scheduled 1 s later), where a
    // followed one to a 2xx would have ended the deliveries
    for (let i = 0; i < 80 && hooks.deliveries(hook).length < 2; i++) await sleep(250);
    const deliveries = hooks.deliveries(hook);
    assert.ok(deliveries.length >= 2, `attempts at the receiver: ${deliveries.length}`);
    assert.ok(deliveries.every((d) => d.status === status));
    assert.equal(trap.hits(), 0, 'nothing reached the redirect target on the loopback port');
    if (to.startsWith(hooks.url('/'))) assert.equal(hooks.deliveries(new URL(to).pathname).length, 0, 'nothing reached the Location');
  });
}

test('webhook: a 307 to an allowed URL is followed, with the same signed body, and delivered once', async () => {
  const { key } = await hookedKey('redirected-allowed');
  const [hop, landed] = ['/hook-hop', '/hook-landed'];
  hooks.redirect(hop, 307, hooks.url(landed));
  const url = origin.file('/jobs/redirected-allowed.bin', filler(2 * MiB, 312), ranged());
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'redirected-allowed.bin', callback_url: hooks.url(hop) }, { key, headers: { Prefer: 'respond-async' } });
  const last = (await poll(job.job_id, { key })).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  for (let i = 0; i < 80 && hooks.deliveries(landed).length === 0; i++) await sleep(250);
  const [first] = hooks.deliveries(hop);
  const delivered = hooks.deliveries(landed);
  assert.equal(delivered.length, 1, 'delivered at the redirect target');
  assert.equal(delivered[0].body, first.body, 'the same body');
  assert.equal(delivered[0].headers['x-urlstash-signature'], first.headers['x-urlstash-signature'], 'the same signature');
  assert.deepEqual(JSON.parse(delivered[0].body), last);
  await sleep(1500);
  assert.deepEqual([hooks.deliveries(hop).length, hooks.deliveries(landed).length], [1, 1], 'no retry after the delivery');
});

test("another key's jobs are 404, running or ended; its cancel touches nothing; the listing holds only the caller's own", async () => {
  const url = origin.file('/jobs/mine.bin', filler(2 * MiB, 305), ranged({ throttle: 512 * 1024 }));
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'mine.bin', async: true });
  await poll(job.job_id, { until: (s) => s.bytes_received > 0 });
  // while it runs: another key's cancel is 404 and the job goes on to its end
  assertError(await jobStatus(job.job_id, KEYS.b.key), 404, /no such job/);
  assertError(await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.b.key }), 404, /no such job/);
  assert.equal((await poll(job.job_id)).at(-1).state, 'succeeded', 'not canceled by another key');
  assertError(await jobStatus(job.job_id, KEYS.b.key), 404, /no such job/);
  assertError(await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.b.key }), 404, /no such job/);
  assertError(await jobStatus(`job_${'0'.repeat(32)}`), 404, /no such job/);
  assertError(await jobStatus('job_nope'), 404, /no such job/);
  const mine = await api(worker, 'GET', '/api/v1/jobs', { token: KEYS.a.key });
  assert.equal(mine.status, 200);
  assert.ok(mine.json.data.jobs.some((j) => j.job_id === job.job_id));
  const theirs = await api(worker, 'GET', '/api/v1/jobs', { token: KEYS.b.key });
  assert.deepEqual(theirs.json.data.jobs, []);
  assertError(await api(worker, 'DELETE', `/api/v1/jobs/${job.job_id}`, { token: KEYS.a.key }), 409, /already finished/);
});

test("the listing answers ended jobs from the key's index (no call to their objects) and asks a running one", async () => {
  const { key } = await newKey(worker, ADMIN, 'lister');
  const list = () => worker.countCalls(() => api(worker, 'GET', '/api/v1/jobs', { token: key }));
  const stored = await startJob({ file_url: origin.file('/jobs/listed-ok.bin', filler(64 * 1024, 306)), upload_path: 'jobs', file_name: 'listed-ok.bin', async: true }, { key });
  const failed = await startJob({ file_url: origin.file('/jobs/listed-bad.bin', filler(64 * 1024, 307)), expected_sha256: '0'.repeat(64), async: true }, { key });
  assert.equal((await poll(stored.job_id, { key })).at(-1).state, 'succeeded');
  assert.equal((await poll(failed.job_id, { key })).at(-1).state, 'failed');
  const ended = await list();
  assert.equal(ended.result.status, 200, JSON.stringify(ended.result.json));
  const jobs = ended.result.json.data.jobs;
  assert.deepEqual(new Set(jobs.map((j) => j.job_id)), new Set([stored.job_id, failed.job_id]));
  for (const listed of jobs) assert.deepEqual(listed, (await jobStatus(listed.job_id, key)).json.data, 'listed as its own status answers it');
  assert.equal(ended.calls.authorityCalls, 1, `the key's authority only: ${JSON.stringify(ended.calls.raw)}`);

  // 8 MiB at 512 KiB/s: running for seconds, so the listing asks its object
  const slow = await startJob({ file_url: origin.file('/jobs/listed-slow.bin', filler(8 * MiB, 308), { throttle: 512 * 1024 }), async: true }, { key });
  await poll(slow.job_id, { key, until: (s) => s.state === 'downloading' });
  const running = await list();
  assert.equal(running.result.json.data.jobs.length, 3);
  assert.deepEqual(running.result.json.data.jobs.map((j) => j.job_id), [slow.job_id, failed.job_id, stored.job_id], 'newest first');
  assert.equal(running.result.json.data.jobs.find((j) => j.job_id === slow.job_id).state, 'downloading');
  assert.deepEqual(running.result.json.data.unavailable, [], 'every running job answered');
  assert.equal(running.calls.authorityCalls, 2, `the key's authority and the running job: ${JSON.stringify(running.calls.raw)}`);
  assert.equal((await api(worker, 'DELETE', `/api/v1/jobs/${slow.job_id}`, { token: key })).status, 200);
  const canceled = await list();
  assert.equal(canceled.result.json.data.jobs.find((j) => j.job_id === slow.job_id).state, 'canceled');
  assert.equal(canceled.calls.authorityCalls, 1, JSON.stringify(canceled.calls.raw));
});

test("the listing holds the key's 100 most recent jobs, newest first", async () => {
  const { key } = await newKey(worker, ADMIN, 'many-jobs');
  // nothing there (404): each job fails at once, and is listed all the same
  const url = origin.url('/jobs/not-there.bin');
  const started = [];
  for (let i = 0; i < 101; i++) started.push((await startJob({ file_url: url, async: true }, { key })).job_id);
  const res = await api(worker, 'GET', '/api/v1/jobs', { token: key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const { jobs, unavailable } = res.json.data;
  assert.equal(jobs.length, 100);
  assert.deepEqual(new Set(jobs.map((j) => j.job_id)), new Set(started.slice(1)), 'all but the first started');
  const created = jobs.map((j) => Date.parse(j.created_at));
  assert.deepEqual(created, [...created].sort((a, b) => b - a), 'newest first');
  assert.deepEqual(unavailable, []);
  assert.equal((await jobStatus(started[0], key)).json.data.job_id, started[0], 'the oldest is still there, only not listed');
});

test('bad callback_urls are 400 before anything starts', async () => {
  const url = origin.file('/jobs/never.bin', filler(1024, 306), ranged());
  const listed = async () => (await api(worker, 'GET', '/api/v1/jobs', { token: KEYS.a.key })).json.data.jobs.length;
  const count = await listed();
  const cases = [
    [{ callback_url: 'ftp://example.com/hook', async: true }, /invalid `callback_url`.*scheme/],
    [{ callback_url: 'http://10.0.0.7/hook', async: true }, /invalid `callback_url`/],
    [{ callback_url: 'http://localhost/hook', async: true }, /invalid `callback_url`/],
    [{ callback_url: 'not a url', async: true }, /invalid `callback_url`/],
    [{ callback_url: 42, async: true }, /invalid `callback_url`: must be a string/],
    [{ callback_url: hooks.url('/x') }, /^invalid `callback_url`: only for background jobs \(`"async": true`, or `Prefer: respond-async` without `"async": false`\)$/],
    [{ async: 'yes' }, /invalid `async`: must be true or false/],
  ];
  for (const [extra, msg] of cases) {
    assertError(await upload(worker, { file_url: url, ...extra }), 400, msg);
  }
  // a key without a webhook secret cannot ask for webhooks
  assertError(await upload(worker, { file_url: url, async: true, callback_url: hooks.url('/y') }, { key: KEYS.b.key }), 400, /no webhook secret/);
  assert.equal(await listed(), count, 'no job started');
  assert.equal(origin.hits('/jobs/never.bin'), 0, 'the origin was never asked');
});

test('a batch item can be a job: 202 in its own envelope, beside an item stored at once', async () => {
  const small = filler(4096, 307);
  const big = filler(6 * MiB, 308);
  const items = [
    { file_url: origin.file('/jobs/batch-now.bin', small), upload_path: 'jobs', file_name: 'now.bin' },
    { file_url: origin.file('/jobs/batch-later.bin', big, ranged()), upload_path: 'jobs', file_name: 'later.bin', async: true },
  ];
  const res = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  // the job's item is accepted, not uploaded: nothing of it is stored yet
  assert.equal(res.json.msg, '1 of 2 uploaded, 1 accepted as jobs');
  const [now, later] = res.json.data.results;
  assert.deepEqual([now.success, now.code, now.msg], [true, 200, 'File uploaded successfully']);
  assert.equal(now.data.sha256, sha256(small));
  assert.equal(await servedDigest(now.data.download_url), sha256(small));
  assert.deepEqual([later.success, later.code, later.msg], [true, 202, 'Job accepted']);
  assert.match(later.data.job_id, /^job_/);
  assert.equal(later.data.file_url, items[1].file_url);
  const last = (await poll(later.data.job_id)).at(-1);
  assert.equal(last.state, 'succeeded');
  assert.equal(last.result.file_name, 'later.bin');
  assert.equal(last.result.sha256, sha256(big));
  assert.equal(await servedDigest(last.result.download_url), sha256(big), 'the job stored its item byte for byte');
});

test('"async": false outranks Prefer: respond-async: stored at once (200), without Preference-Applied, alone or as a batch item', async () => {
  const listed = async () => (await api(worker, 'GET', '/api/v1/jobs', { token: KEYS.a.key })).json.data.jobs.length;
  const count = await listed();
  const bytes = filler(4096, 309);
  const prefer = { Prefer: 'respond-async' };
  const res = await upload(worker, { file_url: origin.file('/jobs/not-async.bin', bytes), upload_path: 'jobs', file_name: 'not-async.bin', async: false }, { headers: prefer });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.data.sha256, sha256(bytes));
  assert.equal(res.headers.get('preference-applied'), null, 'the preference was not applied');
  const items = [
    { file_url: origin.file('/jobs/batch-not-async.bin', bytes), upload_path: 'jobs', file_name: 'batch-now.bin', async: false },
    { file_url: origin.file('/jobs/batch-prefer.bin', bytes), upload_path: 'jobs', file_name: 'batch-later.bin' },
  ];
  const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items }, headers: prefer });
  assert.equal(batch.status, 200, JSON.stringify(batch.json));
  const [now, later] = batch.json.data.results;
  assert.equal(now.code, 200, JSON.stringify(now));
  assert.equal(now.data.sha256, sha256(bytes));
  assert.equal(later.code, 202, 'the item without "async" follows the header');
  assert.equal((await poll(later.data.job_id)).at(-1).state, 'succeeded');
  assert.equal(await listed(), count + 1, 'one job started, for the item that let the header decide');
});

test('Idempotency-Key: a job start sent three times (two at once) starts one job: the origin sent the file once, byte-exact, charged once, listed once; the same key with another request is 422, from another API key another job', async () => {
  const bytes = randomBody(4 * MiB + 7);
  const path = '/jobs/idempotent.bin';
  const url = origin.file(path, bytes, ranged());
  const body = { file_url: url, upload_path: 'jobs', file_name: 'idempotent.bin', async: true };
  const idem = { 'Idempotency-Key': `start-${crypto.randomUUID()}` };
  const before = await usage(worker, KEYS.a.key);
  const first = await startJob(body, { headers: idem });
  // a lost answer retried, twice at once; as a quoted string (the draft standard's form) too
  const quoted = { 'Idempotency-Key': `"${idem['Idempotency-Key']}"` };
  const retries = await Promise.all([upload(worker, body, { headers: idem }), upload(worker, { ...body }, { headers: quoted })]);
  for (const res of retries) {
    assert.equal(res.status, 202, JSON.stringify(res.json));
    assert.equal(res.json.data.job_id, first.job_id, 'the job the first start began');
    assert.equal(res.json.data.created_at, first.created_at);
    assert.equal(res.headers.get('location'), `/api/v1/jobs/${first.job_id}`);
    assert.equal(res.headers.get('idempotent-replayed'), 'true', 'said to be the first start\'s job');
  }
  const last = (await poll(first.job_id)).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(bytes));
  assert.equal(await servedDigest(last.result.download_url), sha256(bytes));
  // after the end, the same start is answered with the ended job
  const late = await upload(worker, body, { headers: idem });
  assert.equal(late.status, 202, JSON.stringify(late.json));
  assert.deepEqual([late.json.data.job_id, late.json.data.state, late.json.data.result.file_id], [first.job_id, 'succeeded', last.result.file_id]);
  assert.equal(late.headers.get('idempotent-replayed'), 'true');
  assert.equal(origin.sent(path), bytes.length, 'the origin sent the file once');
  const after = await usage(worker, KEYS.a.key);
  assert.deepEqual([after.bytes - before.bytes, after.files - before.files, after.reserved_bytes, after.reserved_files], [bytes.length, 1, before.reserved_bytes, before.reserved_files], 'charged once');
  assert.equal((await listedFor(url)).length, 1, 'listed once');
  // the key with another request: refused, nothing started
  const other = await upload(worker, { ...body, file_name: 'other.bin' }, { headers: idem });
  assertError(other, 422, /^this Idempotency-Key was sent with another request: a new request needs a new key$/);
  assert.equal(origin.sent(path), bytes.length, 'nothing fetched for it');
  // another API key's same key is its own job
  const theirs = await startJob(body, { key: KEYS.b.key, headers: idem });
  assert.notEqual(theirs.job_id, first.job_id);
  assert.equal((await poll(theirs.job_id, { key: KEYS.b.key })).at(-1).state, 'succeeded');
  assert.equal(origin.sent(path), 2 * bytes.length);
});

test('Idempotency-Key: two first starts at once make one job, fetched once, listed once', async () => {
  const bytes = filler(64 * 1024, 325);
  const path = '/jobs/idem-race.bin';
  const url = origin.file(path, bytes);
  const headers = { 'Idempotency-Key': crypto.randomUUID() };
  const body = { file_url: url, async: true };
  const both = await Promise.all([upload(worker, body, { headers }), upload(worker, body, { headers })]);
  for (const res of both) assert.equal(res.status, 202, JSON.stringify(res.json));
  const [a, b] = both.map((res) => res.json.data.job_id);
  assert.equal(a, b, 'one job');
  // whichever of the two reached the job's object second (by its question first, or by
  // its start) says it was answered with the other's job
  assert.deepEqual(both.map((res) => res.headers.get('idempotent-replayed')).sort(), ['true', null].sort());
  const last = (await poll(a)).at(-1);
  assert.equal(last.state, 'succeeded');
  assert.equal(last.result.sha256, sha256(bytes));
  assert.equal(origin.hits(path), 1, 'fetched once');
  assert.equal((await listedFor(url)).length, 1, 'listed once');
});

test('Idempotency-Key: a start retried after its key filled up and its maximum lifetime fell is answered with its job, not refused', async () => {
  const { key, key_id: keyId } = await newKey(worker, ADMIN, 'idem-full', { max_files: 1 });
  const url = origin.file('/jobs/idem-full.bin', filler(4096, 326));
  const body = { file_url: url, async: true, expires_in: 3600 };
  const headers = { 'Idempotency-Key': crypto.randomUUID() };
  const first = await startJob(body, { key, headers });
  const last = (await poll(first.job_id, { key })).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  const patched = await api(worker, 'PATCH', `/api/v1/admin/keys/${keyId}`, { token: ADMIN, body: { max_ttl_secs: 60 } });
  assert.equal(patched.status, 200, JSON.stringify(patched.json));
  // the same start again: its job, though a new one would now be refused twice over
  const again = await upload(worker, body, { key, headers });
  assert.equal(again.status, 202, JSON.stringify(again.json));
  assert.deepEqual([again.json.data.job_id, again.json.data.state, again.json.data.result.file_id], [first.job_id, 'succeeded', last.result.file_id]);
  assertError(await upload(worker, body, { key, headers: { 'Idempotency-Key': crypto.randomUUID() } }), 400, /expires_in/);
  assertError(await upload(worker, { file_url: url, async: true }, { key, headers: { 'Idempotency-Key': crypto.randomUUID() } }), 429, /files/);
});

test('Idempotency-Key in a batch names each item\'s job by its place: the batch sent again answers the same jobs, an item changed since gets its own 422', async () => {
  const items = [0, 1].map((i) => {
    const bytes = filler(64 * 1024 + i, 320 + i);
    return { bytes, item: { file_url: origin.file(`/jobs/idem-batch-${i}.bin`, bytes), upload_path: 'jobs', file_name: `idem-batch-${i}.bin`, async: true } };
  });
  const headers = { 'Idempotency-Key': crypto.randomUUID() };
  const send = (list) => api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: list }, headers });
  const first = await send(items.map((x) => x.item));
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const ids = first.json.data.results.map((r) => r.data.job_id);
  assert.equal(new Set(ids).size, 2, 'a job per item');
  for (const [i, id] of ids.entries()) {
    const last = (await poll(id)).at(-1);
    assert.equal(last.state, 'succeeded');
    assert.equal(last.result.sha256, sha256(items[i].bytes));
  }
  const again = await send(items.map((x) => x.item));
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.deepEqual(again.json.data.results.map((r) => [r.code, r.data.job_id, r.data.state]), ids.map((id) => [202, id, 'succeeded']));
  const changed = await send([items[0].item, { ...items[1].item, file_name: 'changed.bin' }]);
  assert.equal(changed.status, 200, JSON.stringify(changed.json));
  const [same, refused] = changed.json.data.results;
  assert.equal(same.data.job_id, ids[0]);
  assert.deepEqual([refused.code, refused.msg], [422, 'this Idempotency-Key was sent with another request: a new request needs a new key']);
  for (const i of [0, 1]) assert.equal(origin.hits(`/jobs/idem-batch-${i}.bin`), 1, `item ${i} fetched once`);
});

test('a malformed Idempotency-Key, or two of them, is 400 before anything is fetched, on a job or an upload stored now', async () => {
  const path = '/jobs/idem-bad.bin';
  const url = origin.file(path, filler(1024, 330));
  const malformed = /^invalid `Idempotency-Key`: must be 1 to 255 printable ASCII characters \(a UUID, say\)$/;
  for (const bad of ['k'.repeat(256), '""']) {
    for (const body of [{ file_url: url, async: true }, { file_url: url }]) {
      assertError(await upload(worker, body, { headers: { 'Idempotency-Key': bad } }), 400, malformed);
    }
    const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: KEYS.a.key, body: { items: [{ file_url: url }] }, headers: { 'Idempotency-Key': bad } });
    assertError(batch, 400, malformed);
  }
  // the header sent twice (two lines on the wire), or two keys in one: which was meant
  // cannot be told
  const joined = /^invalid `Idempotency-Key`: must be one key \(a comma outside quotes separates two\)$/;
  for (const body of [{ file_url: url, async: true }, { file_url: url }]) {
    const twice = await rawPost(worker, '/api/v1/files/upload/url', body, ['Authorization', `Bearer ${KEYS.a.key}`, 'Idempotency-Key', 'first-key', 'Idempotency-Key', 'second-key']);
    assertError(twice, 400, joined);
    assertError(await upload(worker, body, { headers: { 'Idempotency-Key': '"first", "second"' } }), 400, joined);
  }
  // a comma inside quotes is the key's own
  const quoted = await upload(worker, { file_url: url }, { headers: { 'Idempotency-Key': '"one, key"' } });
  assert.equal(quoted.status, 200, JSON.stringify(quoted.json));
  assert.equal(origin.hits(path), 1, 'the origin was asked only by the upload whose key was whole');
});

test('a job whose instance cannot read the blocklist yet waits for it at its commit, its bytes kept: stored once the list reads, charged once', async (t) => {
  // a fresh instance, which never read the list, with KV reads of the list failing
  await worker.restart();
  await worker.failKvReads(['blocklist:', 'blocked:']);
  t.after(() => worker.failKvReads([]));
  const body = randomBody(300 * 1024);
  const url = origin.file('/jobs/unread-list.bin', body, ranged());
  const before = await usage(worker, KEYS.a.key);
  const job = await startJob({ file_url: url, upload_path: 'jobs', file_name: 'unread-list.bin', async: true });
  // the commit asked the list twice (it waits 1 s between): still running, not failed
  const listReads = async () => (await worker.counts()).raw.kvNames?.job?.get?.['blocklist:version'] ?? 0;
  for (let i = 0; i < 200 && (await listReads()) < 2; i++) await sleep(100);
  assert.ok((await listReads()) >= 2, 'the commit read the list again');
  const waiting = (await jobStatus(job.job_id)).json.data;
  assert.ok(!['failed', 'succeeded', 'canceled'].includes(waiting.state), JSON.stringify(waiting));
  await worker.failKvReads([]);
  const last = (await poll(job.job_id)).at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.result.sha256, sha256(body));
  assert.equal(await servedDigest(`${worker.url}${new URL(last.result.download_url).pathname}`), sha256(body));
  await assertChargedOnce(before, body.length);
});
