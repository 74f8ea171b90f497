// One authority per key (docs/authority.md) over HTTP: concurrent uploads of different
// sizes to one name with deletes mixed in keep every invariant (the name serves the file
// the listing names, every id serves its own bytes or 404, usage equals the listing); a
// small byte quota holds under concurrent overwrites; a key with 5,000 files lists every
// page in order; a revoke is final even against a stale KV record.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, upload, api, get, hashKey } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError, assertDownloadCaching, assertFileUrlCaching } from './support/assert.mjs';
import { pool, sleep, newKey, usage, listAll, kvRecord, kvPut, kvNames, r2Objects } from './support/burst.mjs';

const ADMIN = 'authority-admin-token';
const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_FILE = 4 * MiB;
// one before hook (node 20 runs a file's top-level hooks concurrently)
let origin;
let worker;
let stop;
before(async () => ({ origin, worker, stop } = await startStack({
  adminToken: ADMIN,
  // roomy enough that no upload here is refused for quota: 24 unknown-length bodies
  // reserve MAX_FILE_BYTES each at once; 5,000 files fit in one key
  vars: { MAX_FILE_BYTES: String(MAX_FILE), DEFAULT_MAX_BYTES: String(1024 * MiB), DEFAULT_MAX_FILES: '6000' },
})));
after(() => stop?.());

const NOT_FOUND = { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null };

/** GETs a file URL: the status, and for a 404 the envelope exactly. */
async function fetchFile(url) {
  const res = await get(url);
  if (res.status === 404) {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), NOT_FOUND, url);
  }
  return res;
}

/** The checks every test ends with: usage equals the key's whole listing, nothing reserved. */
async function assertUsageMatchesListing(key) {
  const { files } = await listAll(worker, key.key);
  const u = await usage(worker, key.key);
  assert.deepEqual(
    { bytes: u.bytes, files: u.files, reserved_bytes: u.reserved_bytes, reserved_files: u.reserved_files },
    { bytes: files.reduce((n, f) => n + f.file_size, 0), files: files.length, reserved_bytes: 0, reserved_files: 0 },
  );
  return { files, usage: u };
}

describe('24 concurrent uploads to one name, deletes mixed in', () => {
  // sizes around the 64 KiB line between the small (store, then commit) and the reserved path
  const SIZES = [
    1 * KiB, 2 * KiB, 5 * KiB, 9 * KiB, 17 * KiB, 33 * KiB, 50 * KiB, 64 * KiB, 64 * KiB + 1, 65 * KiB, 90 * KiB, 130 * KiB,
    200 * KiB, 300 * KiB, 450 * KiB, 600 * KiB, 800 * KiB, 1 * MiB, 1.25 * MiB, 1.5 * MiB, 2 * MiB, 2.5 * MiB, 2.75 * MiB, 3 * MiB,
  ];

  const ordinal = (n) => (n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`);
  // all started at once; or started some ms apart in a mixed order of sizes, so that
  // answers and deletes spread over the time the large ones are still uploading. The id
  // deleted is the one just answered, or the one the listing says holds the name then.
  for (const { every, stagger, holder: byHolder = false } of [
    { every: 5, stagger: 0 },
    { every: 2, stagger: 0 },
    { every: 3, stagger: 25 },
    { every: 2, stagger: 15, holder: true },
  ]) {
    const how = stagger ? `started ${stagger} ms apart` : 'started at once';
    const which = byHolder ? 'the id holding the name' : 'that id';
    test(`${how}, on every ${ordinal(every)} answer ${which} deleted at once: the name, every id and usage agree`, async (t) => {
      const folder = `race-${every}-${stagger}${byHolder ? '-holder' : ''}`;
      const key = await newKey(worker, ADMIN, folder);
      // each upload's own bytes; every third one without Content-Length (chunked)
      const uploads = SIZES.map((size, i) => {
        const bytes = filler(size, 1000 * every + i);
        const chunked = i % 3 === 2;
        return { bytes, sha: sha256(bytes), chunked, url: origin.file(`/${folder}/${i}.bin`, bytes, { chunked }) };
      });
      assert.equal(new Set(uploads.map((u) => u.sha)).size, uploads.length, 'distinct contents');

      const shas = new Set(uploads.map((u) => u.sha));
      let answered = 0;
      const deletes = [];
      const results = await Promise.all(uploads.map(async (u, i) => {
        if (stagger) await sleep(((i * 7) % uploads.length) * stagger); // 7 and 24 are coprime: each slot once
        const res = await upload(worker, { file_url: u.url, upload_path: folder, file_name: 'same.bin' }, { key: key.key });
        if (res.status !== 200) return res;
        const d = res.json.data;
        answered += 1;
        // fired while the others are still uploading; not awaited here
        if (answered % every === 0) {
          const target = byHolder
            ? api(worker, 'GET', `/api/v1/files?upload_path=${folder}`, { token: key.key }).then((l) => l.json.data?.files[0]?.file_id)
            : Promise.resolve(d.file_id);
          deletes.push(target
            .then((id) => id && api(worker, 'DELETE', `/api/v1/files/${id}`, { token: key.key }).then((r) => ({ id, r })))
            .catch((error) => ({ error })));
        }
        // read while the race runs: the id serves its own bytes (or 404 once replaced or
        // deleted); the name serves one of the uploads (or 404 between a delete and the next)
        const [own, named] = await Promise.all([fetchFile(d.download_url), fetchFile(d.file_url)]);
        if (own.status !== 404) {
          assert.equal(own.status, 200);
          assert.equal(sha256(own.body), u.sha, 'mid-race, an id serves its own upload\'s bytes');
        }
        if (named.status !== 404) {
          assert.equal(named.status, 200);
          assert.ok(shas.has(sha256(named.body)), 'mid-race, the name serves one of the uploads, whole');
        }
        return res;
      }));

      for (const [i, res] of results.entries()) {
        assert.equal(res.status, 200, `upload ${i} (${SIZES[i]} bytes): ${JSON.stringify(res.json)}`);
        assert.equal(res.json.success, true);
        assert.equal(res.json.data.file_size, SIZES[i]);
        assert.equal(res.json.data.upload_path, folder);
        assert.equal(res.json.data.file_name, 'same.bin');
      }
      const datas = results.map((r) => r.json.data);
      assert.equal(new Set(datas.map((d) => d.file_url)).size, 1, 'one name');
      assert.equal(new Set(datas.map((d) => d.file_id)).size, 24, 'every upload its own id');
      const fileUrl = datas[0].file_url;

      const deleted = (await Promise.all(deletes)).filter(Boolean); // nothing held the name: no delete
      assert.ok(deleted.length > 0, 'some deletes were sent');
      if (!byHolder) assert.equal(deleted.length, Math.floor(24 / every));
      for (const { id, r, error } of deleted) {
        if (error) throw error;
        // 200 if the id still held the name, 404 if a later upload had replaced it already
        if (r.status === 200) assert.deepEqual(r.json.data, { file_id: id, deleted: true });
        else assertError(r, 404, /file not found/);
      }
      const deletedIds = new Set(deleted.map((d) => d.id));
      t.diagnostic(`deletes answered: ${deleted.map((d) => d.r.status).join(',')}`);

      // at most one file holds the name, and it is one of these uploads, not a deleted one
      const listed = (await listAll(worker, key.key, { upload_path: folder })).files;
      assert.ok(listed.length <= 1, `one name holds at most one file: ${JSON.stringify(listed)}`);
      const holder = listed[0];
      const holderIndex = holder ? datas.findIndex((d) => d.file_id === holder.file_id) : -1;
      if (holder) {
        assert.ok(holderIndex >= 0, 'the listed file is one of the uploads');
        assert.ok(!deletedIds.has(holder.file_id), 'a deleted id is not listed');
        assert.deepEqual(holder, datas[holderIndex]);
        assert.deepEqual((await api(worker, 'GET', `/api/v1/files/${holder.file_id}`, { token: key.key })).json.data, holder);
      }

      // the name serves exactly the listed file's bytes, or 404 when nothing is listed
      const byName = await fetchFile(fileUrl);
      if (holder) {
        assert.equal(byName.status, 200, 'the name serves the listed file');
        assert.equal(sha256(byName.body), uploads[holderIndex].sha, 'the name serves the listed upload\'s bytes');
        assertFileUrlCaching(byName);
      } else {
        assert.equal(byName.status, 404, 'nothing listed: the name serves nothing');
      }

      // every id serves its own bytes or 404, never another upload's; only the holder is left
      for (const [i, d] of datas.entries()) {
        const res = await fetchFile(d.download_url);
        if (res.status === 200) {
          assert.equal(sha256(res.body), uploads[i].sha, `id ${i} serves its own upload's bytes`);
          assertDownloadCaching(res, d.expires_at);
        } else {
          assert.equal(res.status, 404);
        }
        assert.equal(res.status, i === holderIndex ? 200 : 404,
          `id ${i}: ${i === holderIndex ? 'holds the name' : 'replaced or deleted, its object already deleted'}`);
        if (i !== holderIndex) {
          assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, { token: key.key }), 404, /file not found/);
        }
      }
      for (const id of deletedIds) {
        assertError(await api(worker, 'GET', `/api/v1/files/${id}`, { token: key.key }), 404, /file not found/);
        assertError(await api(worker, 'DELETE', `/api/v1/files/${id}`, { token: key.key }), 404, /file not found/);
      }

      // R2 holds the bytes of the holder only
      const ids = new Set(datas.map((d) => d.file_id));
      const stored = (await r2Objects(worker)).filter((o) => ids.has(o.key.replace(/^o\//, ''))).map((o) => o.key);
      assert.deepEqual(stored, holder ? [`o/${holder.file_id}`] : []);

      const { usage: u } = await assertUsageMatchesListing(key);
      assert.deepEqual([u.files, u.bytes], holder ? [1, holder.file_size] : [0, 0]);
    });
  }
});

// 60 KiB: each stored, then committed (no reservation); 70 KiB: past the small-body path,
// each reserves first, and a name in flight is counted once, at its largest
for (const size of [60, 70]) test(`a 100 KiB quota under 24 concurrent ${size} KiB overwrites of one name: each replaces the last`, async (t) => {
  const QUOTA = 100 * KiB;
  const key = await newKey(worker, ADMIN, `tight-${size}`, { max_bytes: QUOTA });
  const uploads = Array.from({ length: 24 }, (_, i) => {
    const bytes = filler(size * KiB, 3000 + 100 * size + i);
    // the reserving ones sent slowly (a quarter of a second each), so that they are seen in flight
    const opts = size > 64 ? { throttle: 256 * KiB } : {};
    return { bytes, sha: sha256(bytes), url: origin.file(`/tight/${size}-${i}.bin`, bytes, opts) };
  });

  // usage, sampled by two readers while the uploads run, never exceeds the quota
  let running = true;
  const samples = [];
  const sampler = () => (async () => {
    for (let n = 0; running && n < 2000; n++) samples.push(await usage(worker, key.key));
  })().then(() => null, (error) => error);
  const samplers = [sampler(), sampler()];
  // started 10 ms apart, so that they overlap for longer than one upload takes
  const results = await Promise.all(uploads.map(async (u, i) => {
    await sleep(i * 10);
    return upload(worker, { file_url: u.url, upload_path: 'tight', file_name: 'one.bin' }, { key: key.key });
  }));
  running = false;
  for (const failed of await Promise.all(samplers)) if (failed) throw failed;
  t.diagnostic(`${samples.length} usage samples while uploading`);
  assert.ok(samples.length > 0);
  for (const s of samples) {
    assert.ok(s.bytes <= QUOTA, `live bytes ${s.bytes} within ${QUOTA}`);
    assert.ok(s.files <= 1, `one name holds one file (${s.files})`);
  }
  // (usage's reserved figures are every reservation's sum, the name's counted once or not)
  if (size > 64) assert.ok(samples.some((s) => s.reserved_files > 0), 'reservations were seen in flight');

  // each fits once the file it replaces goes: all are admitted
  for (const [i, res] of results.entries()) assert.equal(res.status, 200, `overwrite ${i}: ${JSON.stringify(res.json)}`);
  const { files, usage: u } = await assertUsageMatchesListing(key);
  assert.equal(files.length, 1);
  assert.deepEqual([u.bytes, u.files, u.max_bytes], [size * KiB, 1, QUOTA]);
  const holderIndex = results.findIndex((r) => r.json.data.file_id === files[0].file_id);
  assert.ok(holderIndex >= 0, 'the listed file is one of the uploads');
  const served = await fetchFile(files[0].file_url);
  assert.equal(served.status, 200);
  assert.equal(sha256(served.body), uploads[holderIndex].sha, 'the name serves the listed upload');
  assertFileUrlCaching(served);
  for (const [i, res] of results.entries()) {
    assert.equal((await fetchFile(res.json.data.download_url)).status, i === holderIndex ? 200 : 404, `id ${i}`);
  }
  // and the quota is really there: a second name of the same size does not fit
  const other = await upload(worker, { file_url: uploads[0].url, upload_path: 'tight', file_name: 'two.bin' }, { key: key.key });
  assertError(other, 429, /quota/);
  await assertUsageMatchesListing(key);
});

describe('a key with 5,000 files', () => {
  const N = 5000;
  // `bulk` lists itself and `bulk/a`, `bulk/b`; not its siblings `bulkx` and `bulk-old`
  // ('-' sorts before '/', so `bulk-old` lies inside the range the folder's query reads),
  // nor `other`
  const FOLDERS = ['bulk/a', 'bulk/b', 'other', 'bulkx', 'bulk', 'bulk-old'];
  let key;
  let made; // the upload answers, by file_id

  /** Binary string order, as SQL compares TEXT. */
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const byName = (a, b) => cmp(a.upload_path, b.upload_path) || cmp(a.file_name, b.file_name);
  const inBulk = (f) => f.upload_path === 'bulk' || f.upload_path.startsWith('bulk/');

  test('5,000 uploads, 16 in flight, are all answered 200', async (t) => {
    key = await newKey(worker, ADMIN, 'bulk');
    const items = Array.from({ length: N }, (_, i) => {
      const text = `file ${String(i).padStart(11, '0')}`; // 16 bytes each, all distinct
      return { path: FOLDERS[i % FOLDERS.length], name: `t${i}.txt`, url: origin.file(`/bulk/${i}.txt`, Buffer.from(text), { contentType: 'text/plain' }) };
    });
    const started = Date.now();
    const results = await pool(items, 16, (it) =>
      upload(worker, { file_url: it.url, upload_path: it.path, file_name: it.name }, { key: key.key }));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(`${N} uploads, 16 in flight: ${seconds} s`);
    made = new Map();
    for (const [i, res] of results.entries()) {
      assert.equal(res.status, 200, `upload ${i}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.data.file_size, 16);
      made.set(res.json.data.file_id, res.json.data);
    }
    assert.equal(made.size, N);
  });

  /** Every file of `expected` exactly once, as its upload answered, on full pages but the last. */
  function assertListing({ files, pages }, expected) {
    assert.equal(files.length, expected.length, 'the total');
    const ids = files.map((f) => f.file_id);
    assert.equal(new Set(ids).size, ids.length, 'no file twice');
    for (const f of files) assert.deepEqual(f, made.get(f.file_id));
    assert.deepEqual(new Set(ids), new Set(expected.map((f) => f.file_id)), 'exactly the expected files');
    assert.equal(pages.length, Math.max(1, Math.ceil(expected.length / 100)), `pages: ${pages.join(',')}`);
    assert.ok(pages.slice(0, -1).every((n) => n === 100), 'every page but the last is full');
  }

  test('usage counts all of them', async () => {
    const u = await usage(worker, key.key);
    assert.deepEqual([u.files, u.bytes, u.reserved_files, u.reserved_bytes], [N, 16 * N, 0, 0]);
  });

  test('order=name (the default) pages through every file by upload_path, then file_name', async () => {
    const all = [...made.values()];
    const byDefault = await listAll(worker, key.key);
    assertListing(byDefault, all);
    assert.deepEqual(byDefault.files.map((f) => f.file_id), [...all].sort(byName).map((f) => f.file_id), 'name order');
    const named = await listAll(worker, key.key, { order: 'name' });
    assert.deepEqual(named.files.map((f) => f.file_id), byDefault.files.map((f) => f.file_id));
  });

  test('order=upload_time pages through every file, newest first', async () => {
    const listing = await listAll(worker, key.key, { order: 'upload_time' });
    assertListing(listing, [...made.values()]);
    const times = listing.files.map((f) => Date.parse(f.upload_time));
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] <= times[i - 1], `file ${i} (${listing.files[i].upload_time}) after ${listing.files[i - 1].upload_time}`);
    }
    assert.ok(times[0] > times[times.length - 1], 'the uploads spanned more than one second');
  });

  test('upload_path=bulk lists bulk, bulk/a and bulk/b, not bulkx, bulk-old or other, in both orders', async () => {
    const expected = [...made.values()].filter(inBulk);
    assert.equal(expected.length, 834 + 834 + 833);
    const named = await listAll(worker, key.key, { upload_path: 'bulk' });
    assertListing(named, expected);
    assert.deepEqual(named.files.map((f) => f.file_id), [...expected].sort(byName).map((f) => f.file_id), 'name order');
    const timed = await listAll(worker, key.key, { upload_path: 'bulk', order: 'upload_time' });
    assertListing(timed, expected);
    const times = timed.files.map((f) => Date.parse(f.upload_time));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] <= times[i - 1], `file ${i}: newest first`);

    const sub = await listAll(worker, key.key, { upload_path: 'bulk/a' });
    assertListing(sub, [...made.values()].filter((f) => f.upload_path === 'bulk/a'));
    // a folder with no path below it is read newest first from its own index range
    const subTimed = await listAll(worker, key.key, { upload_path: 'bulk/a', order: 'upload_time' });
    assertListing(subTimed, [...made.values()].filter((f) => f.upload_path === 'bulk/a'));
    const subTimes = subTimed.files.map((f) => [Date.parse(f.upload_time), f.file_id]);
    for (let i = 1; i < subTimes.length; i++) assert.ok(subTimes[i][0] <= subTimes[i - 1][0], `bulk/a file ${i}: newest first`);
    for (const folder of ['bulkx', 'bulk-old']) {
      const sibling = await listAll(worker, key.key, { upload_path: folder });
      assertListing(sibling, [...made.values()].filter((f) => f.upload_path === folder));
      const timed = await listAll(worker, key.key, { upload_path: folder, order: 'upload_time' });
      assertListing(timed, [...made.values()].filter((f) => f.upload_path === folder));
    }
    const none = await listAll(worker, key.key, { upload_path: 'bul' });
    assert.deepEqual(none, { files: [], pages: [0] }, '`bul` is no folder: a prefix of a name is not a folder');
  });

  test('a cursor is refused (400) by another folder or order', async () => {
    const first = async (query) => {
      const res = await api(worker, 'GET', `/api/v1/files?${new URLSearchParams({ ...query, limit: '100' })}`, { token: key.key });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(typeof res.json.data.cursor, 'string');
      return res.json.data.cursor;
    };
    const named = await first({});
    const timed = await first({ order: 'upload_time' });
    const bulk = await first({ upload_path: 'bulk' });
    for (const [label, query] of [
      ['a name cursor with order=upload_time', { order: 'upload_time', cursor: named }],
      ['a name cursor in a folder', { upload_path: 'bulk', cursor: named }],
      ['an upload_time cursor with order=name', { order: 'name', cursor: timed }],
      ['an upload_time cursor by default', { cursor: timed }],
      ['a bulk cursor in bulk/a', { upload_path: 'bulk/a', cursor: bulk }],
      ['a bulk cursor in other', { upload_path: 'other', cursor: bulk }],
      ['a bulk cursor without a folder', { cursor: bulk }],
      ['a bulk cursor with order=upload_time', { upload_path: 'bulk', order: 'upload_time', cursor: bulk }],
    ]) {
      const res = await api(worker, 'GET', `/api/v1/files?${new URLSearchParams(query)}`, { token: key.key });
      assert.equal(res.status, 400, `${label}: ${JSON.stringify(res.json)}`);
      assertError(res, 400, /invalid `cursor`/);
    }
    assertError(await api(worker, 'GET', '/api/v1/files?order=size', { token: key.key }), 400, /order/);
  });
});

describe('the authority decides a key\'s settings', () => {
  const admin = (method, p, body) => api(worker, method, p, { token: ADMIN, body });
  /** Whether the Worker's local KV holds `name`. */
  const kvHas = async (name) => (await kvNames(worker, name)).includes(name);

  test('a PATCH served from a stale KV read changes only what it gives: the key stays disabled, its quota, lifetime, rate and name stay set', async () => {
    const k = await newKey(worker, ADMIN, 'stale-patch');
    const hash = hashKey(k.key);
    const stale = { [hash]: await kvRecord(worker, hash), [`id:${k.key_id}`]: await kvRecord(worker, `id:${k.key_id}`) };
    const set = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: true, max_files: 5, max_ttl_secs: 600, rate_limit: 10 });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    // another location's KV still serves the key as it was before
    for (const [name, record] of Object.entries(stale)) await kvPut(worker, name, record);
    const renamed = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { name: 'renamed' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
    const shown = (d) => [d.name, d.disabled, d.max_files, d.max_ttl_secs, d.rate_limit];
    assert.deepEqual(shown(renamed.json.data), ['renamed', true, 5, 600, 10]);
    const kept = JSON.parse((await kvRecord(worker, hash)).value);
    assert.deepEqual(shown(kept), ['renamed', true, 5, 600, 10], 'KV got the authority\'s settings');
    // and a PATCH from a stale read of the rename keeps it
    for (const [name, record] of Object.entries(stale)) await kvPut(worker, name, record);
    const lifted = await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { max_files: 6 });
    assert.deepEqual(shown(lifted.json.data), ['renamed', true, 6, 600, 10]);
    const shownNow = await admin('GET', `/api/v1/admin/keys/${k.key_id}`);
    assert.deepEqual(shown(shownNow.json.data), ['renamed', true, 6, 600, 10], 'GET shows the authority\'s too');
    const refused = await upload(worker, { file_url: origin.file('/stale-patch.png', TYPES.png.bytes), upload_path: 'sp' }, { key: k.key });
    assertError(refused, 401, /disabled/);
  });

  test('a revoke runs its KV deletes again when KV holds the key once more', async () => {
    const k = await newKey(worker, ADMIN, 'revoke-twice');
    const names = [hashKey(k.key), `id:${k.key_id}`];
    const stale = await Promise.all(names.map((name) => kvRecord(worker, name)));
    assert.equal((await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`)).status, 200);
    for (const name of names) assert.equal(await kvHas(name), false, `${name} deleted`);
    // as after a revoke whose KV deletes failed, or a PATCH that saved the key back
    for (const [i, name] of names.entries()) await kvPut(worker, name, stale[i]);
    const again = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.deepEqual(again.json.data, { key_id: k.key_id, revoked: true });
    for (const name of names) assert.equal(await kvHas(name), false, `${name} deleted again`);
    assertError(await admin('GET', `/api/v1/admin/keys/${k.key_id}`), 404, /no such API key/);
  });
});

describe('revoke is final', () => {
  test('after a revoke, PATCH is 404 and uploads are 401, even with the KV records back', async () => {
    const k = await newKey(worker, ADMIN, 'final');
    const admin = (method, p, body) => api(worker, method, p, { token: ADMIN, body });
    const up = await upload(worker, { file_url: origin.file('/final.png', TYPES.png.bytes), upload_path: 'fin', file_name: 'a.png' }, { key: k.key });
    assert.equal(up.status, 200, JSON.stringify(up.json));
    // what KV held before the revoke: a slow replica may still serve it afterwards
    const stale = { [hashKey(k.key)]: await kvRecord(worker, hashKey(k.key)), [`id:${k.key_id}`]: await kvRecord(worker, `id:${k.key_id}`) };

    const storedBefore = (await r2Objects(worker)).map((o) => o.key);
    const del = await admin('DELETE', `/api/v1/admin/keys/${k.key_id}`);
    assert.equal(del.status, 200, JSON.stringify(del.json));
    assert.deepEqual(del.json.data, { key_id: k.key_id, revoked: true });
    assertError(await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: false }), 404, /no such API key/);
    const refused = await upload(worker, { file_url: origin.file('/final2.png', TYPES.png.bytes), upload_path: 'fin', file_name: 'b.png' }, { key: k.key });
    assertError(refused, 401, /invalid API key/);

    // a PATCH served from a stale KV read cannot bring the key back
    for (const [name, record] of Object.entries(stale)) await kvPut(worker, name, record);
    assertError(await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { disabled: false, max_files: 10 }), 404, /no such API key/);
    assertError(await admin('PATCH', `/api/v1/admin/keys/${k.key_id}`, { name: 'back' }), 404, /no such API key/);
    const again = await upload(worker, { file_url: origin.file('/final3.png', TYPES.png.bytes), upload_path: 'fin', file_name: 'c.png' }, { key: k.key });
    assertError(again, 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/usage', { token: k.key }), 401, /invalid API key/);
    assertError(await api(worker, 'GET', '/api/v1/jobs', { token: k.key }), 401, /invalid API key/);
    const storedAfter = (await r2Objects(worker)).map((o) => o.key);
    assert.deepEqual(storedAfter.filter((name) => !storedBefore.includes(name)), [], 'nothing stored for the refused uploads');
  });
});
