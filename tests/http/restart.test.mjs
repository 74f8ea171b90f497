// A restart of the runtime on the same state (every isolate and every key authority starts
// fresh, as after an eviction or a deploy): names still resolve through the authority's
// tables on disk, ids still serve their bytes, usage is what it was, a `file_url` for a key
// nobody has used answers 404, and the alarms set before the restart still expire files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, upload, get, KEYS } from './support/worker.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { usage, listAll, until, r2Objects } from './support/burst.mjs';

// long enough for three uploads, a restart (a new runtime booted, slow on a loaded machine)
// and the reads after it
const TTL = 40;
const GRACE_MS = 60_000;
let origin;
let worker;
let stop;
// one before hook (node 20 runs a file's top-level hooks concurrently)
before(async () => ({ origin, worker, stop } = await startStack({ vars: { FILE_TTL_SECONDS: String(TTL) } })));
after(() => stop?.());

/** `url` on the Worker's current origin (the port changes with a restart). */
const here = (url) => `${worker.url}${new URL(url).pathname}`;

test('after a restart: names, ids and usage as before; expiry by the alarms set before it', async () => {
  const first = filler(2000, 71);
  const second = filler(90 * 1024, 72);
  const other = filler(3000, 73);
  const put = async (path, name, bytes, opts) => {
    const res = await upload(worker, { file_url: origin.file(`/restart/${name}-${bytes.length}`, bytes, opts), upload_path: path, file_name: name });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json.data;
  };
  const replaced = await put('r', 'same.bin', first);
  const holder = await put('r', 'same.bin', second);
  const kept = await put('r/sub', 'other.bin', other, { chunked: true });
  const before = await usage(worker, KEYS.a.key);

  await worker.restart();

  const byName = await get(here(holder.file_url));
  assert.equal(byName.status, 200);
  assert.equal(sha256(byName.body), sha256(second), 'the name serves the file that holds it');
  assert.equal(sha256((await get(here(kept.file_url))).body), sha256(other));
  assert.equal(sha256((await get(here(holder.download_url))).body), sha256(second));
  assert.equal((await get(here(replaced.download_url))).status, 404, 'the replaced id stays gone');
  assert.deepEqual(await usage(worker, KEYS.a.key), before);
  assert.equal(before.files, 2);
  assert.equal(before.bytes, second.length + other.length);

  const stranger = await get(`${worker.url}/f/k_nobody/r/same.bin`);
  assert.equal(stranger.status, 404);
  assert.deepEqual(JSON.parse(stranger.body), { success: false, code: 404, msg: 'file not found, deleted, expired or past its download limit', data: null });

  // No read after this point until R2 is empty: the alarms armed before the restart do it
  // (all of it still to do: nothing has expired yet).
  assert.ok(Date.now() < Date.parse(holder.expires_at), 'read before the first live file expired');
  await worker.restart();
  const emptied = await until(async () => (await r2Objects(worker)).length === 0, TTL * 1000 + GRACE_MS);
  assert.ok(emptied, 'the alarms did not expire the files');
  const after = await usage(worker, KEYS.a.key);
  assert.deepEqual([after.bytes, after.files, after.reserved_bytes, after.reserved_files], [0, 0, 0, 0]);
  assert.deepEqual((await listAll(worker, KEYS.a.key)).files, []);
  assert.equal((await get(here(holder.file_url))).status, 404);
});
