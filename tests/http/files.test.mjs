// File management over HTTP: FileData by id (owner only, others 404), delete (gone at
// once from both URLs), listing (paginated, per folder, live files only), and the batch
// upload (order kept, each item its own envelope, bounded batch size).
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { useStack, upload, api, get, KEYS } from './support/worker.mjs';
import { TYPES, filler, sha256 } from './support/fixtures.mjs';
import { assertError } from './support/assert.mjs';

/** An origin that holds every request until none has come in for `quietMs`, then answers
 * all it holds, and records how many it held at once: what decides that number is how many
 * requests the Worker has open at a time, not how fast anything runs. */
async function startHoldingOrigin(quietMs) {
  const state = { inFlight: 0, maxInFlight: 0, served: 0 };
  let held = [];
  let timer;
  const release = () => {
    for (const res of held) {
      state.inFlight -= 1;
      state.served += 1;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': TYPES.png.bytes.length }).end(TYPES.png.bytes);
    }
    held = [];
  };
  const server = http.createServer((req, res) => {
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    held.push(res);
    clearTimeout(timer);
    timer = setTimeout(release, quietMs);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${server.address().port}`;
  return { state, host, url: (p) => `http://${host}${p}`, close: () => new Promise((r) => server.close(r)) };
}

let slow;
let origin;
let worker;
useStack(async () => {
  slow = await startHoldingOrigin(1000);
  return { allow: [slow.host], vars: { MAX_FILE_BYTES: String(1024 * 1024) } };
}, (s) => ({ origin, worker } = s));
after(() => slow?.close());

const as = (key) => ({ token: key });
const A = KEYS.a.key;
const B = KEYS.b.key;

async function put(path, body, name, key = A) {
  const res = await upload(worker, { file_url: origin.file(`/${name}`, body), upload_path: path, file_name: name }, { key });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.data;
}

describe('one file', () => {
  test('GET /api/v1/files/{id} answers the FileData the upload answered', async () => {
    const d = await put('one', TYPES.pdf.bytes, 'doc.pdf');
    const res = await api(worker, 'GET', `/api/v1/files/${d.file_id}`, as(A));
    assert.equal(res.status, 200);
    assert.equal(res.json.success, true);
    assert.deepEqual(res.json.data, d);
    assert.equal(res.headers.get('cache-control'), 'no-store', 'answers hold links: no cache keeps them');
  });

  test("another key's file, and an unknown or malformed id, are all 404", async () => {
    const d = await put('mine', TYPES.png.bytes, 'private.png');
    assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, as(B)), 404, /file not found/);
    assertError(await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, as(B)), 404, /file not found/);
    assertError(await api(worker, 'GET', `/api/v1/files/file_${'0'.repeat(32)}`, as(A)), 404, /file not found/);
    assertError(await api(worker, 'GET', '/api/v1/files/file_zz', as(A)), 404, /file not found/);
    assert.equal((await get(d.file_url)).status, 200, "the other key's attempt deleted nothing");
    assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, {}), 401, /missing API key/);
  });

  test('DELETE: gone at once from both URLs, and its object from R2', async () => {
    const d = await put('del', TYPES.gif.bytes, 'bye.gif');
    assert.equal(sha256((await get(d.download_url)).body), sha256(TYPES.gif.bytes));
    assert.equal(sha256((await get(d.file_url)).body), sha256(TYPES.gif.bytes));
    assert.ok(worker.r2().objects.some((o) => o.key === `o/${d.file_id}`), 'stored under o/{file_id}');
    const res = await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, as(A));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json.data, { file_id: d.file_id, deleted: true });
    assert.equal((await get(d.file_url)).status, 404);
    assert.equal((await get(d.download_url)).status, 404);
    assertError(await api(worker, 'GET', `/api/v1/files/${d.file_id}`, as(A)), 404, /file not found/);
    assertError(await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, as(A)), 404, /file not found/);
    assert.ok(!worker.r2().objects.some((o) => o.key === `o/${d.file_id}`), 'o/{file_id} is deleted');
  });

  test('DELETE with If-Match: only `*` is met (the record has no ETag); any other tag is 412 and deletes nothing', async () => {
    const d = await put('cond', TYPES.gif.bytes, 'kept.gif');
    const headers = (tags) => ({ ...as(A), headers: { 'if-match': tags } });
    for (const tags of ['"bogus"', `"${d.sha256}"`, 'W/"x", "y"']) {
      assertError(await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, headers(tags)), 412, /^precondition failed: this resource has no ETag, so If-Match can only be `\*`$/);
    }
    assert.equal(sha256((await get(d.download_url)).body), sha256(TYPES.gif.bytes), 'nothing deleted');
    // a file that is not there is 404 whatever the condition (RFC 9110 13.2.1)
    assertError(await api(worker, 'DELETE', `/api/v1/files/file_${'0'.repeat(32)}`, headers('"bogus"')), 404, /file not found/);
    const res = await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, headers('"other", *'));
    assert.deepEqual([res.status, res.json.data], [200, { file_id: d.file_id, deleted: true }]);
    assert.equal((await get(d.download_url)).status, 404);
  });

  test('an id whose name was overwritten since is gone; the new file stays', async () => {
    const old = await put('ow', filler(500, 31), 'same.bin');
    const now = await put('ow', filler(700, 32), 'same.bin');
    assertError(await api(worker, 'GET', `/api/v1/files/${old.file_id}`, as(A)), 404, /file not found/);
    assertError(await api(worker, 'DELETE', `/api/v1/files/${old.file_id}`, as(A)), 404, /file not found/);
    assert.equal((await get(old.download_url)).status, 404);
    const res = await api(worker, 'GET', `/api/v1/files/${now.file_id}`, as(A));
    assert.deepEqual(res.json.data, now);
    assert.equal(sha256((await get(now.file_url)).body), sha256(filler(700, 32)));
    assert.equal(sha256((await get(now.download_url)).body), sha256(filler(700, 32)));
  });

  test('wrong method is 405 with Allow', async () => {
    const res = await api(worker, 'PUT', `/api/v1/files/file_${'0'.repeat(32)}`, as(A));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, DELETE');
  });
});

describe('listing', () => {
  test('pages through exactly the caller\'s live files, optionally per folder', async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await put('listed', filler(100 + i, 40 + i), `f${i}.bin`));
    const nested = await put('listed/deeper', TYPES.png.bytes, 'n.png');
    await put('listed', TYPES.png.bytes, 'theirs.png', B);

    const seen = [];
    let cursor = null;
    let pages = 0;
    for (; pages < 20; pages++) {
      const q = new URLSearchParams({ limit: '2', upload_path: 'listed', ...(cursor ? { cursor } : {}) });
      const res = await api(worker, 'GET', `/api/v1/files?${q}`, as(A));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.ok(res.json.data.files.length <= 2);
      seen.push(...res.json.data.files);
      cursor = res.json.data.cursor;
      if (cursor === null) break;
    }
    assert.ok(pages >= 2, 'more than one page');
    const byId = Object.fromEntries(seen.map((f) => [f.file_id, f]));
    assert.equal(seen.length, 6, seen.map((f) => f.file_name).join(','));
    for (const d of [...mine, nested]) assert.deepEqual(byId[d.file_id], d);
    assert.ok(!seen.some((f) => f.file_name === 'theirs.png'), "no other key's file");

    const deeper = await api(worker, 'GET', '/api/v1/files?upload_path=listed/deeper', as(A));
    assert.deepEqual(deeper.json.data, { files: [nested], cursor: null });
    const theirs = await api(worker, 'GET', '/api/v1/files?upload_path=listed', as(B));
    assert.deepEqual(theirs.json.data.files.map((f) => f.file_name), ['theirs.png']);
  });

  test('order=name (the default) sorts by upload_path, then file_name; order=upload_time holds the same files', async () => {
    for (const [path, name] of [['sorted/b', 'a.bin'], ['sorted', 'z.bin'], ['sorted/a', 'm.bin'], ['sorted', 'c.bin']]) {
      await put(path, filler(10, 70), name);
    }
    const names = (res) => res.json.data.files.map((f) => `${f.upload_path}/${f.file_name}`);
    const byDefault = await api(worker, 'GET', '/api/v1/files?upload_path=sorted', as(A));
    const byName = await api(worker, 'GET', '/api/v1/files?upload_path=sorted&order=name', as(A));
    const expected = ['sorted/c.bin', 'sorted/z.bin', 'sorted/a/m.bin', 'sorted/b/a.bin']; // `sorted` < `sorted/a` < `sorted/b`
    assert.deepEqual(names(byName), expected);
    assert.deepEqual(names(byDefault), names(byName));
    const byTime = await api(worker, 'GET', '/api/v1/files?upload_path=sorted&order=upload_time', as(A));
    assert.equal(byTime.status, 200, JSON.stringify(byTime.json));
    assert.deepEqual([...names(byTime)].sort(), [...expected].sort());
    // newest first: the uploads above, last to first (their upload_time is to the second)
    assert.deepEqual(names(byTime), ['sorted/c.bin', 'sorted/a/m.bin', 'sorted/z.bin', 'sorted/b/a.bin'], 'newest first');
  });

  test('a cursor stays exact when files change between pages, in either order', async () => {
    const list = async (folder, order, limit, cursor) => {
      const q = new URLSearchParams({ upload_path: folder, order, limit: String(limit), ...(cursor ? { cursor } : {}) });
      const res = await api(worker, 'GET', `/api/v1/files?${q}`, as(A));
      assert.equal(res.status, 200, JSON.stringify(res.json));
      return res.json.data;
    };
    const rest = async (folder, order, cursor) => {
      const seen = [];
      for (let pages = 0; cursor && pages < 10; pages++) {
        const page = await list(folder, order, 2, cursor);
        seen.push(...page.files.map((f) => `${f.file_name}:${f.file_id}`));
        cursor = page.cursor;
      }
      assert.equal(cursor, null, 'the last page says so');
      return seen;
    };
    for (const order of ['name', 'upload_time']) {
      const folder = `churn-${order}`;
      const files = [];
      for (let i = 0; i < 8; i++) files.push(await put(folder, filler(50 + i, 90 + i), `c${i}.bin`));
      const all = (await list(folder, order, 100)).files;
      assert.equal(all.length, 8);
      const first = await list(folder, order, 3);
      assert.deepEqual(first.files, all.slice(0, 3));
      // after page 1: a file deleted and one overwritten among the rest, one added on
      // either side of the cursor
      const [gone, moved] = [all[4], all[6]];
      assert.equal((await api(worker, 'DELETE', `/api/v1/files/${gone.file_id}`, as(A))).status, 200);
      const now = await put(folder, filler(70, 99), moved.file_name);
      const early = await put(folder, filler(10, 98), 'a.bin'); // before the cursor by name
      const late = await put(folder, filler(10, 97), 'z.bin'); // after it by name; newest
      const tag = (f) => `${f.file_name}:${f.file_id}`;
      const expected = order === 'name'
        // the overwritten name keeps its place with its new id; z.bin comes last
        ? [...all.slice(3).filter((f) => f !== gone).map((f) => tag(f === moved ? now : f)), tag(late)]
        // newest first: what landed since page 1 is before the cursor, the overwritten file too
        : all.slice(3).filter((f) => f !== gone && f !== moved).map(tag);
      // a.bin (before the cursor by name, newest by time) is on neither order's later pages
      assert.deepEqual(await rest(folder, order, first.cursor), expected, `without ${tag(early)}`);
    }
  });

  test('a deleted file leaves the listing at once', async () => {
    const d = await put('shrinking', TYPES.png.bytes, 'x.png');
    await api(worker, 'DELETE', `/api/v1/files/${d.file_id}`, as(A));
    const res = await api(worker, 'GET', '/api/v1/files?upload_path=shrinking', as(A));
    assert.deepEqual(res.json.data, { files: [], cursor: null });
  });

  for (const [q, fragment] of [
    ['limit=0', /invalid `limit`/],
    ['limit=1000', /invalid `limit`/],
    ['cursor=garbage!', /invalid `cursor`/],
    ['upload_path=../x', /invalid `upload_path`/],
    ['sort=name', /^unknown query parameter `sort` \(this route takes `cursor`, `limit`, `upload_path`, `order`\)$/],
    ['order=size', /invalid `order`/],
    // a parameter given twice is refused, not read as whichever came last
    ['upload_path=images&upload_path=reports', /^invalid `upload_path`: given more than once$/],
    ['limit=5&limit=6', /^invalid `limit`: given more than once$/],
    ['order=name&order=upload_time', /^invalid `order`: given more than once$/],
  ]) {
    test(`bad query ${q} is 400`, async () => {
      assertError(await api(worker, 'GET', `/api/v1/files?${q}`, as(A)), 400, fragment);
    });
  }

  test('a cursor from one folder or order is refused in another', async () => {
    for (let i = 0; i < 3; i++) await put('cur', TYPES.gif.bytes, `${i}.gif`);
    const first = await api(worker, 'GET', '/api/v1/files?upload_path=cur&limit=1', as(A));
    const { cursor } = first.json.data;
    assert.ok(cursor);
    assertError(await api(worker, 'GET', `/api/v1/files?upload_path=other&cursor=${cursor}`, as(A)), 400, /invalid `cursor`/);
    assertError(await api(worker, 'GET', `/api/v1/files?upload_path=cur&order=upload_time&cursor=${cursor}`, as(A)), 400, /invalid `cursor`/);
    const next = await api(worker, 'GET', `/api/v1/files?upload_path=cur&limit=1&cursor=${cursor}`, as(A));
    assert.equal(next.status, 200, 'and accepted where it came from');
    assert.equal(next.json.data.files[0].file_name, '1.gif');
  });
});

describe('batch upload', () => {
  const batch = (body, key = A) => api(worker, 'POST', '/api/v1/files/upload/urls', { token: key, body });

  test('a slow item holds back no other: every item after it starts while it is still running', async () => {
    // item 0 takes about 5 s (80 KiB at 16 KiB/s on one connection); the nine after it are
    // quick. At most 5 run at once, so items 5 to 9 start only as others end: they must
    // not wait for item 0.
    const slowBytes = filler(80 * 1024, 95);
    const items = [{ file_url: origin.file('/hol/slow.bin', slowBytes, { throttle: 16 * 1024 }), upload_path: 'hol', file_name: 'slow.bin' }];
    const quick = [];
    for (let i = 1; i < 10; i++) {
      quick.push(filler(1000 + i, 95 + i));
      items.push({ file_url: origin.file(`/hol/q${i}.bin`, quick.at(-1)), upload_path: 'hol', file_name: `q${i}.bin` });
    }
    const res = await batch({ items });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json.data.results.map((r) => r.code), items.map(() => 200));
    assert.equal(res.json.data.results[0].data.sha256, sha256(slowBytes));
    quick.forEach((bytes, i) => assert.equal(res.json.data.results[i + 1].data.sha256, sha256(bytes)));
    const slowEnded = origin.requests('/hol/slow.bin').at(-1).closedAt;
    for (let i = 1; i < 10; i++) {
      const started = origin.requests(`/hol/q${i}.bin`)[0].at;
      assert.ok(started < slowEnded, `item ${i} started ${started - slowEnded} ms after item 0 ended`);
    }
  });

  test('items answer in order, each with its own envelope; bytes are exact', async () => {
    const items = [];
    const expect = [];
    for (let i = 0; i < 14; i++) {
      if (i % 5 === 3) {
        items.push({ file_url: origin.status(`/missing-${i}`, 404), upload_path: 'batch' });
        expect.push(502);
      } else {
        const bytes = filler(2000 + i, 60 + i);
        items.push({ file_url: origin.file(`/b${i}.bin`, bytes), upload_path: 'batch', file_name: `b${i}.bin`, bytes });
        expect.push(200);
      }
    }
    items.push({ file_url: 'ftp://nope/x' });
    expect.push(400);
    const res = await batch({ items: items.map(({ bytes, ...item }) => item) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.success, true);
    const { results, succeeded, failed } = res.json.data;
    assert.deepEqual(Object.keys(res.json.data), ['succeeded', 'failed', 'results'], 'as the README shows it');
    assert.deepEqual(results.map((r) => r.code), expect);
    assert.deepEqual([succeeded, failed], [expect.filter((c) => c === 200).length, expect.filter((c) => c !== 200).length]);
    assert.equal(res.json.msg, `${succeeded} of 15 uploaded`);
    assert.equal(res.headers.get('retry-after'), null, 'no item asks for a retry');
    for (const [i, r] of results.entries()) {
      if (r.code === 200) {
        assert.equal(r.success, true);
        assert.equal(r.data.file_name, `b${i}.bin`);
        assert.equal(sha256((await get(r.data.download_url)).body), sha256(items[i].bytes));
      } else {
        assert.deepEqual([r.success, r.data], [false, null]);
      }
    }
    assert.match(results[3].msg, /origin responded with HTTP 404/);
    assert.match(results[14].msg, /scheme `ftp`/);
  });

  test('more than 20 items, or none, is a 400 for the batch', async () => {
    const item = { file_url: origin.file('/one.png', TYPES.png.bytes) };
    assertError(await batch({ items: Array(21).fill(item) }), 400, /1 to 20 uploads \(got 21\)/);
    assertError(await batch({ items: [] }), 400, /got 0/);
    assertError(await batch({ urls: [] }), 400, /missing required field `items`|unknown field/);
    assertError(await batch({ items: [item] }, 'bad-key'), 401, /invalid API key/);
    const full = await batch({ items: Array.from({ length: 20 }, (_, i) => ({ ...item, upload_path: 'twenty', file_name: `${i}.png` })) });
    assert.equal(full.status, 200);
    assert.equal(full.json.data.succeeded, 20);
  });

  test('an item larger than a single upload body (16 KiB) is 413 alone and fetches nothing; the others run', async () => {
    // every header within its own bound (at most 8, values up to 4096 characters): alone,
    // this body is 413 as a single upload, so it is 413 as an item too
    const origin_headers = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((h) => [`X-${h}`, 'v'.repeat(4000)]));
    const big = { file_url: origin.file('/big-item.png', TYPES.png.bytes), upload_path: 'big', file_name: 'big.png', origin_headers };
    assertError(await upload(worker, big), 413, /request body exceeds 16384 bytes/);
    const bytes = filler(3000, 41);
    const small = { file_url: origin.file('/small-item.bin', bytes), upload_path: 'big', file_name: 'small.bin' };
    const res = await batch({ items: [big, small] });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const [first, second] = res.json.data.results;
    assert.deepEqual([first.code, first.success, first.data], [413, false, null]);
    assert.match(first.msg, /request body exceeds 16384 bytes/);
    assert.equal(second.code, 200);
    assert.equal(sha256((await get(second.data.download_url)).body), sha256(bytes));
    assert.equal(origin.requests('/big-item.png').length, 0, 'the oversized item fetched nothing');
    const list = await api(worker, 'GET', '/api/v1/files?upload_path=big', as(A));
    assert.deepEqual(list.json.data.files.map((f) => f.file_name), ['small.bin']);
  });

  test('items run concurrently, exactly 5 at a time', async () => {
    const items = Array.from({ length: 18 }, (_, i) => ({ file_url: slow.url(`/s${i}.png`), upload_path: 'slow', file_name: `s${i}.png` }));
    const res = await batch({ items });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.data.succeeded, 18);
    assert.equal(slow.state.served, 18);
    // the origin answers nothing while requests keep coming: all the Worker opens at once pile up;
    // each item makes one request to this origin, so its peak is the items running at once
    assert.equal(slow.state.maxInFlight, 5, 'the documented 5 items at a time');
  });

  test('items naming one file run in order: the last holds the name, as if sent one by one', async () => {
    // the first item's origin is slow, the last one's fast: run side by side, the first
    // would be stored last and hold the name
    const versions = [filler(400_000, 81), filler(20_000, 82), filler(3_000, 83)];
    const urls = [
      origin.file('/same/v0.bin', versions[0], { throttle: 400_000 }),
      origin.file('/same/v1.bin', versions[1]),
      origin.file('/same/v2.bin', versions[2]),
    ];
    const before = (await api(worker, 'GET', '/api/v1/usage', as(A))).json.data;
    const res = await batch({ items: urls.map((file_url) => ({ file_url, upload_path: 'same', file_name: 'one.bin' })) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.msg, '3 of 3 uploaded');
    const [first, second, last] = res.json.data.results.map((r) => r.data);
    assert.equal(sha256((await get(last.file_url)).body), sha256(versions[2]), 'the name serves the last item');
    assert.equal(sha256((await get(last.download_url)).body), sha256(versions[2]));
    for (const replaced of [first, second]) assert.equal((await get(replaced.download_url)).status, 404, 'replaced in turn');
    const listed = (await api(worker, 'GET', '/api/v1/files?upload_path=same', as(A))).json.data.files;
    assert.deepEqual(listed.map((f) => f.file_id), [last.file_id]);
    const after = (await api(worker, 'GET', '/api/v1/usage', as(A))).json.data;
    assert.deepEqual([after.files - before.files, after.bytes - before.bytes], [1, versions[2].length], 'one file charged');
  });

  test('items naming one file, between other items, still answer in request order', async () => {
    // items 0 and 2 name one file and run one after the other; item 1 runs beside them
    const versions = [filler(3_000, 84), filler(4_000, 85), filler(5_000, 86)];
    const names = ['twice.bin', 'between.bin', 'twice.bin'];
    const items = versions.map((bytes, i) => ({ file_url: origin.file(`/order/v${i}.bin`, bytes), upload_path: 'order', file_name: names[i] }));
    const res = await batch({ items });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.msg, '3 of 3 uploaded');
    const results = res.json.data.results.map((r) => r.data);
    assert.deepEqual(results.map((d) => [d.file_name, d.sha256]), names.map((name, i) => [name, sha256(versions[i])]), 'each answer in its item\'s place');
    assert.equal(sha256((await get(results[1].download_url)).body), sha256(versions[1]));
    assert.equal(sha256((await get(results[2].file_url)).body), sha256(versions[2]), 'the last item holds the name');
  });

  test('GET on the batch route is 405', async () => {
    const res = await api(worker, 'GET', '/api/v1/files/upload/urls', as(A));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });
});
