// Expiry by alarms alone (docs/authority.md, "Expiry"): with a 10 s TTL, files of several
// keys that nobody reads leave R2, usage and the listing by themselves (no cron, no read);
// only then do their old URLs answer 404, and their names take new files. And an expiry
// that meets an overwrite or a delete of its name touches neither the new file nor the
// quota twice. An alarm that fails (its storage full) tries again a minute later, not at
// once; one whose next alarm could not be set throws, for the platform to try it again.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, upload, api, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertDownloadCaching, assertFileUrlCaching } from './support/assert.mjs';
import { newKey, usage, listAll, sleep, until, r2Objects } from './support/burst.mjs';

const ADMIN = 'expiry-admin-token';
// long enough that files are still live when the uploads are done and the alarms let go:
// an alarm that retired one early would be seen
const TTL = 10;
// how long after the last expiry the alarms may take, and how often the tests look (R2:
// every 200 ms, so an early delete cannot hide between two looks for long)
const GRACE_MS = 60_000;
const POLL_MS = 1_000;
const WATCH_MS = 200;
// one before hook (node 20 runs a file's top-level hooks concurrently)
let origin;
let worker;
let stop;
// counting: for its hold on the keys' alarms (support/counting.mjs) while the live files are counted
before(async () => ({ origin, worker, stop } = await startStack({ adminToken: ADMIN, counting: true, vars: { FILE_TTL_SECONDS: String(TTL) } })));
after(() => stop?.());

const NOT_FOUND = { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null };

async function assertGone(url) {
  const res = await get(url);
  assert.equal(res.status, 404, url);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), NOT_FOUND, url);
}

test('files nobody reads expire by alarms alone: R2, usage and listing of every key empty', async (t) => {
  const made = await newKey(worker, ADMIN, 'expiring');
  const keys = { a: KEYS.a.key, b: KEYS.b.key, made: made.key };
  // per key: different sizes, one above 64 KiB with Content-Length, one without a length
  const plan = {
    a: [
      { path: 'docs', name: 'small.bin', bytes: filler(1024, 1) },
      { path: 'docs', name: 'large.bin', bytes: filler(70 * 1024, 2) },
      { path: 'docs/deep', name: 'chunked.bin', bytes: filler(300 * 1024, 3), chunked: true },
      { path: 'img', name: 'p.png', bytes: TYPES.png.bytes, contentType: 'image/png' },
    ],
    b: [
      { path: 'b', name: 'five.bin', bytes: filler(5 * 1024, 4) },
      { path: 'b', name: 'stream.bin', bytes: filler(100 * 1024, 5), chunked: true },
      { path: 'b/big', name: 'two-mib.bin', bytes: filler(2 * 1024 * 1024, 6) },
    ],
    made: [
      { path: 'm', name: 'tiny.txt', bytes: Buffer.from('sixteen bytes!!\n'), contentType: 'text/plain' },
      { path: 'm', name: 'edge.bin', bytes: filler(64 * 1024 + 1, 7) },
      { path: 'm', name: 'small-stream.bin', bytes: filler(40 * 1024, 8), chunked: true },
    ],
  };
  // one name of key a is overwritten once: its first file is replaced before it expires
  plan.a.push({ path: 'docs', name: 'small.bin', bytes: filler(2048, 9), overwrites: true });

  // the keys' alarms are held until the live files are counted: however long the uploads
  // take, nothing retires a file before usage and R2 are compared
  await worker.holdAlarms();
  const uploaded = [];
  await Promise.all(Object.entries(plan).map(async ([who, files]) => {
    for (const [i, f] of files.entries()) {
      const url = origin.file(`/exp/${who}/${i}`, f.bytes, { chunked: f.chunked, contentType: f.contentType ?? 'application/octet-stream' });
      const res = await upload(worker, { file_url: url, upload_path: f.path, file_name: f.name }, { key: keys[who] });
      assert.equal(res.status, 200, `${who} ${f.name}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.data.file_size, f.bytes.length);
      uploaded.push({ who, ...f, data: res.json.data });
    }
  }));

  // charged while stored (the alarms held: none has retired a file yet)
  const replaced = uploaded.find((u) => u.who === 'a' && u.name === 'small.bin' && !u.overwrites);
  const live = uploaded.filter((u) => u !== replaced);
  for (const who of Object.keys(keys)) {
    const u = await usage(worker, keys[who]);
    const mine = live.filter((f) => f.who === who);
    assert.deepEqual([u.files, u.bytes], [mine.length, mine.reduce((n, f) => n + f.bytes.length, 0)], `usage of ${who} while stored`);
  }
  const initial = await r2Objects(worker);
  const stored = initial.map((o) => o.key);
  assert.deepEqual(stored.sort(), live.map((u) => `o/${u.data.file_id}`).sort(), 'R2 holds the stored files, each under its id');
  await worker.releaseAlarms();

  // no request reaches the Worker from here until R2 is empty (no object under o/, nor
  // anywhere else): only alarms can empty it
  // `expires_at` is whole seconds: the real expiry is less than a second later
  const lastExpiry = Math.max(...uploaded.map((u) => Date.parse(u.data.expires_at))) + 1000;
  const deadline = lastExpiry + GRACE_MS;
  // each object's expiry as stored with it: none may go before it
  const expiresMs = new Map(initial.map((o) => [o.key, Number(o.custom.expires_ms)]));
  for (const u of live) {
    const ms = expiresMs.get(`o/${u.data.file_id}`);
    const late = ms - Date.parse(u.data.expires_at);
    assert.ok(late >= 0 && late < 1000, `${u.name}: stored expiry ${ms} is its expires_at ${u.data.expires_at} to the second`);
  }
  const releasedAt = Date.now();
  const stillLive = [...expiresMs.values()].filter((ms) => ms > releasedAt).length;
  t.diagnostic(`${stillLive} of ${expiresMs.size} objects still live when the alarms were let go`);
  // else an alarm that retired files whatever their expiry could not be told from one on time
  assert.ok(stillLive > 0, 'some file is still live when the alarms are let go');
  let left = initial;
  for (let looks = 0; left.length > 0 && Date.now() < deadline; looks++) {
    if (looks > 0) await sleep(WATCH_MS);
    left = await r2Objects(worker);
    const seenAt = Date.now();
    const there = new Set(left.map((o) => o.key));
    for (const [k, ms] of expiresMs) {
      if (!there.has(k)) assert.ok(ms <= seenAt, `${k} was deleted before its expiry (${new Date(ms).toISOString()})`);
    }
  }
  t.diagnostic(`R2 seen empty ${((Date.now() - lastExpiry + 1000) / 1000).toFixed(1)} s after the last expires_at`);
  assert.deepEqual(left.map((o) => o.key), [], `R2 still holds objects ${GRACE_MS / 1000} s after the last expiry`);

  // the alarms gave every key's quota back and emptied its listing
  for (const who of Object.keys(keys)) {
    const u = await usage(worker, keys[who]);
    assert.deepEqual(
      { bytes: u.bytes, files: u.files, reserved_bytes: u.reserved_bytes, reserved_files: u.reserved_files },
      { bytes: 0, files: 0, reserved_bytes: 0, reserved_files: 0 },
      `usage of ${who} once R2 is empty`,
    );
    assert.deepEqual((await listAll(worker, keys[who])).files, [], `listing of ${who}`);
  }

  // only now read the old URLs: all gone, with the JSON envelope
  for (const u of uploaded) {
    await assertGone(u.data.file_url);
    await assertGone(u.data.download_url);
    assertError(await api(worker, 'GET', `/api/v1/files/${u.data.file_id}`, { token: keys[u.who] }), 404, /file not found/);
    assertError(await api(worker, 'DELETE', `/api/v1/files/${u.data.file_id}`, { token: keys[u.who] }), 404, /file not found/);
  }

  // an expired name takes a new file, which its name and its id serve
  for (const old of [uploaded.find((u) => u.name === 'large.bin'), uploaded.find((u) => u.name === 'stream.bin')]) {
    const bytes = filler(old.bytes.length + 10, 50 + old.bytes.length);
    const url = origin.file(`/exp/again/${old.name}`, bytes, { chunked: old.chunked });
    const res = await upload(worker, { file_url: url, upload_path: old.path, file_name: old.name }, { key: keys[old.who] });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const d = res.json.data;
    assert.equal(d.file_url, old.data.file_url, 'the same name');
    assert.notEqual(d.file_id, old.data.file_id);
    const byName = await get(d.file_url);
    assert.equal(byName.status, 200);
    assert.equal(sha256(byName.body), sha256(bytes), 'the name serves the new bytes');
    assertFileUrlCaching(byName);
    const byId = await get(d.download_url);
    assert.equal(byId.status, 200);
    assert.equal(sha256(byId.body), sha256(bytes));
    assertDownloadCaching(byId, d.expires_at);
    await assertGone(old.data.download_url);
  }
});

test('before its alarm has run, an expired file counts neither against the quota nor in usage, and its object goes at the upload that found it expired', async () => {
  const key = await newKey(worker, ADMIN, 'one-file', { max_files: 1 });
  const bytes = filler(3000, 60);
  let firstId;
  await worker.holdAlarms();
  try {
    const first = await upload(worker, { file_url: origin.file('/exp/held/first', bytes), upload_path: 'one', file_name: 'first.bin' }, { key: key.key });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    firstId = first.json.data.file_id;
    assert.deepEqual([(await usage(worker, key.key)).files, (await usage(worker, key.key)).bytes], [1, 3000]);
    // a new name is over the one-file quota while the first file lives
    const early = await upload(worker, { file_url: origin.file('/exp/held/early', bytes), upload_path: 'one', file_name: 'early.bin' }, { key: key.key });
    assertError(early, 429, /quota/);
    // `expires_at` is whole seconds: the real expiry is less than a second later
    await sleep(Date.parse(first.json.data.expires_at) + 1000 - Date.now());
    // the quota check itself retires it (no read before): a new name fits
    const second = await upload(worker, { file_url: origin.file('/exp/held/second', bytes), upload_path: 'one', file_name: 'second.bin' }, { key: key.key });
    assert.equal(second.status, 200, `a new name fits: ${JSON.stringify(second.json)}`);
    // retired by that upload, its object deleted before the answer, as an overwrite's
    assert.ok(!(await r2Objects(worker)).some((o) => o.key === `o/${firstId}`), 'the expired file\'s object deleted');
    const u = await usage(worker, key.key);
    assert.deepEqual([u.files, u.bytes], [1, 3000], 'usage after its expiry, its alarm held: the second file only');
    assert.equal(sha256((await get(second.json.data.download_url)).body), sha256(bytes));
    await assertGone(first.json.data.download_url);
  } finally {
    await worker.releaseAlarms();
  }
});

test('an alarm whose next alarm fails to be set is tried again by the platform, which sets it: a later file of the key still goes by alarms alone', async (t) => {
  const key = await newKey(worker, ADMIN, 'alarm-unset');
  const put = async (name, seed) => {
    const res = await upload(worker, { file_url: origin.file(`/exp/unset/${name}`, filler(2000, seed)), upload_path: 'unset', file_name: name }, { key: key.key });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json.data;
  };
  // the second expires 4 s after the first: the first's alarm retires it, then sets the
  // next alarm at the second's expiry, which fails once (the second's commit sets none:
  // the alarm stands at the first's expiry, sooner)
  const first = await put('first.bin', 61);
  assert.equal(await worker.failAuthorityAlarms(key.key_id, 1), 1);
  t.after(() => worker.failAuthorityAlarms(null, 0));
  await sleep(4000);
  const second = await put('second.bin', 62);
  // no request for this key from here: only its alarms can delete its objects
  const ids = [first, second].map((d) => `o/${d.file_id}`);
  const deadline = Date.parse(second.expires_at) + 1000 + 30_000;
  let left = ids;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    const there = new Set((await r2Objects(worker)).map((o) => o.key));
    left = ids.filter((k) => there.has(k));
  }
  assert.equal(await worker.authorityAlarmFaults(), 0, 'the first alarm tried to set the next one, and failed');
  assert.deepEqual(left, [], 'both objects deleted by alarms, the second after the failed set');
  const u = await usage(worker, key.key);
  assert.deepEqual([u.files, u.bytes], [0, 0]);
});

describe('an alarm that cannot write (its storage full)', () => {
  // a stack of its own: no other key's alarm runs in the window it counts
  let w;
  let o;
  let stopFull;
  before(async () => ({ origin: o, worker: w, stop: stopFull } = await startStack({ adminToken: ADMIN, counting: true, vars: { FILE_TTL_SECONDS: String(TTL) } })));
  after(() => stopFull?.());

  test('tries again a minute later, not at once, and then expires the file', async (t) => {
    const key = await newKey(w, ADMIN, 'storage-full');
    const res = await upload(w, { file_url: o.file('/full/f.bin', filler(3000, 901)), upload_path: 'full', file_name: 'f.bin' }, { key: key.key });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const object = `o/${res.json.data.file_id}`;
    const expiresAt = Date.parse(res.json.data.expires_at) + 1000;
    // from here, the key's alarm fails at its first write
    await w.failSqlWrites(true);
    t.after(() => w.failSqlWrites(false));
    const { ran: before } = await w.alarms();
    // the window: the expiry, and 8 s past it
    await sleep(Math.max(0, expiresAt + 8000 - Date.now()));
    const { ran: after } = await w.alarms();
    t.diagnostic(`alarms run in the window: ${after - before}`);
    // once at the expiry (and once more if the upload's own arming and the commit's fired
    // apart); an alarm re-armed at the overdue expiry runs again within the second, over and
    // over, until the runtime gives it up
    assert.ok(after - before >= 1, 'the alarm ran at the expiry');
    assert.ok(after - before <= 2, `the failed alarm waits before it tries again (${after - before} runs in 8 s)`);
    assert.ok((await r2Objects(w)).some((x) => x.key === object), 'the expired file is still stored: its alarm could not write');

    // writes work again: the retry, a minute after the failure, retires the file
    await w.failSqlWrites(false);
    const gone = await until(async () => !(await r2Objects(w)).some((x) => x.key === object), 90_000, POLL_MS);
    assert.equal(gone, true, 'the retry deleted the expired object');
    // the failed run was at the expiry: the retry came a minute after it, not sooner
    const retriedAfter = Date.now() - (expiresAt - 1000);
    assert.ok(retriedAfter >= 55_000, `the retry came ${retriedAfter} ms after the failed run, not about a minute`);
  });
});

describe('expiry meeting an overwrite or a delete of the same name', () => {
  // a longer TTL: each new file must still be live when the old ones' alarms have run and
  // every check of it is done (seconds of slack for a loaded machine)
  const LONG_TTL = 12;
  let w;
  let o;
  let stopLong;
  before(async () => ({ origin: o, worker: w, stop: stopLong } = await startStack({ adminToken: ADMIN, vars: { FILE_TTL_SECONDS: String(LONG_TTL) } })));
  after(() => stopLong?.());

  test('an upload whose lifetime runs out while it is fetched is 400 naming expires_in, and the name keeps the file it holds', async () => {
    const key = await newKey(w, ADMIN, 'lapses');
    // 135 KiB at 10 KiB/s: more than 13 s, past its 12 s lifetime (counted from when it began)
    const slowBytes = filler(135 * 1024, 801);
    const began = Date.now();
    const slow = upload(w, { file_url: o.file('/lapse/slow.bin', slowBytes, { throttle: 10 * 1024 }), upload_path: 'lapse', file_name: 'n.bin' }, { key: key.key });
    // meanwhile the name takes a file that lives past the slow one's end
    await sleep(6500);
    const held = filler(2048, 802);
    const holder = await upload(w, { file_url: o.file('/lapse/held.bin', held), upload_path: 'lapse', file_name: 'n.bin' }, { key: key.key });
    assert.equal(holder.status, 200, JSON.stringify(holder.json));
    const res = await slow;
    assert.ok(Date.now() - began >= 13000, 'the slow upload took its 13 s');
    assertError(res, 400, /^the file's lifetime of 12 s \(`expires_in`, or the key's default\) ran out before it was stored \(\d+ s after the upload began\): send a longer `expires_in`, up to the key's maximum, or use a faster origin$/);
    // the holder is as it was: served by name and by id, the only file listed and charged
    for (const url of [holder.json.data.file_url, holder.json.data.download_url]) {
      const served = await get(url);
      assert.equal(served.status, 200, url);
      assert.equal(sha256(served.body), sha256(held), url);
    }
    assert.deepEqual((await listAll(w, key.key)).files.map((f) => f.file_id), [holder.json.data.file_id]);
    const u = await usage(w, key.key);
    assert.deepEqual([u.bytes, u.files, u.reserved_bytes, u.reserved_files], [held.length, 1, 0, 0]);
  });

  test('an overwrite just before, at or after an expiry: the name serves the new file, counted once', async (t) => {
    const key = await newKey(w, ADMIN, 'meets');
    // ms from the old file's expiry (as the client sees it) to its overwrite or delete
    const cases = [
      { name: 'before.bin', at: -600, then: 'overwrite' },
      { name: 'just-before.bin', at: -150, then: 'overwrite' },
      { name: 'at.bin', at: 0, then: 'overwrite' },
      { name: 'after.bin', at: 300, then: 'overwrite' },
      { name: 'del-before.bin', at: -150, then: 'delete' },
      { name: 'del-at.bin', at: 0, then: 'delete' },
      { name: 'del-after.bin', at: 300, then: 'delete' },
    ];
    const put = async (name, bytes, tag) => {
      const res = await upload(w, { file_url: o.file(`/meet/${tag}/${name}`, bytes), upload_path: 'meet', file_name: name }, { key: key.key });
      assert.equal(res.status, 200, `${tag} ${name}: ${JSON.stringify(res.json)}`);
      return res;
    };
    await Promise.all(cases.map(async (c, i) => {
      c.old = filler(3000 + i, 700 + i);
      const res = await put(c.name, c.old, 'old');
      c.oldData = res.json.data;
      // the expiry the Worker set (whole seconds, rounded down: the one it goes by)
      c.expiresAt = Date.parse(c.oldData.expires_at);
      // the name is read (and may be cached by the isolate) while the old file is live
      const read = await get(c.oldData.file_url);
      assert.equal(sha256(read.body), sha256(c.old));
    }));
    await Promise.all(cases.map(async (c, i) => {
      await sleep(Math.max(0, c.expiresAt + c.at - Date.now()));
      if (c.then === 'overwrite') {
        c.fresh = filler(5000 + i, 800 + i);
        c.freshData = (await put(c.name, c.fresh, 'new')).json.data;
      } else {
        const del = await api(w, 'DELETE', `/api/v1/files/${c.oldData.file_id}`, { token: key.key });
        // 200 if the delete came first, 404 if the expiry did
        if (del.status === 200) assert.deepEqual(del.json.data, { file_id: c.oldData.file_id, deleted: true });
        else assertError(del, 404, /file not found/);
        c.deleteStatus = del.status;
      }
    }));
    t.diagnostic(`deletes answered ${cases.filter((c) => c.deleteStatus).map((c) => c.deleteStatus).join(',')}`);

    // wait (bounded) until R2 holds no old object any more: by alarm, overwrite or delete
    const oldKeys = new Set(cases.map((c) => `o/${c.oldData.file_id}`));
    let left = [];
    for (let n = 0; n < 30; n++) {
      left = (await r2Objects(w)).map((x) => x.key).filter((k) => oldKeys.has(k));
      if (left.length === 0) break;
      await sleep(POLL_MS);
    }
    assert.deepEqual(left, [], 'the old objects are gone');

    const overwritten = cases.filter((c) => c.then === 'overwrite');
    for (const c of cases) {
      await assertGone(c.oldData.download_url);
      const byName = await get(c.oldData.file_url);
      if (c.then === 'overwrite') {
        assert.equal(byName.status, 200, `${c.name}: the name serves the new file`);
        assert.equal(sha256(byName.body), sha256(c.fresh), `${c.name}: the new bytes`);
        const byId = await get(c.freshData.download_url);
        assert.equal(byId.status, 200);
        assert.equal(sha256(byId.body), sha256(c.fresh));
      } else {
        assert.equal(byName.status, 404, `${c.name}: deleted or expired, the name serves nothing`);
        assert.deepEqual(JSON.parse(byName.body), NOT_FOUND);
      }
    }
    const { files } = await listAll(w, key.key);
    assert.deepEqual(files.map((f) => f.file_id).sort(), overwritten.map((c) => c.freshData.file_id).sort(), 'the new files are listed');
    const u = await usage(w, key.key);
    assert.deepEqual(
      { bytes: u.bytes, files: u.files, reserved_bytes: u.reserved_bytes, reserved_files: u.reserved_files },
      { bytes: overwritten.reduce((n, c) => n + c.fresh.length, 0), files: overwritten.length, reserved_bytes: 0, reserved_files: 0 },
      'usage counts each new file once and no old one',
    );

    // and when the new files expire in turn, the quota comes back to zero, not below
    const lastExpiry = Math.max(...overwritten.map((c) => Date.parse(c.freshData.expires_at))) + 1000;
    let rest = await r2Objects(w);
    while (rest.length > 0 && Date.now() < lastExpiry + GRACE_MS) {
      await sleep(POLL_MS);
      rest = await r2Objects(w);
    }
    assert.deepEqual(rest.map((x) => x.key), [], 'R2 empty once the new files expired');
    const end = await usage(w, key.key);
    assert.deepEqual([end.bytes, end.files, end.reserved_bytes, end.reserved_files], [0, 0, 0, 0]);
    assert.deepEqual((await listAll(w, key.key)).files, []);
    // the quota is whole again: as many files as before fit
    for (const c of overwritten) await put(c.name, c.fresh, 'again');
    const again = await usage(w, key.key);
    assert.deepEqual([again.files, again.bytes], [overwritten.length, overwritten.reduce((n, c) => n + c.fresh.length, 0)]);
  });
});
